/*
 * mc_resume.c -- a session that outlives the daemon's serving process.
 *
 * allocatord's regions, books and listening socket survive a crash or an
 * upgrade of the process that serves clients (allocatord(8)); its clients'
 * connections do not. When the connection is lost, mc_call.c reads what
 * the dead process wrote whole, then asks for the session back here: dial
 * again with backoff (1, 2, 4 ... 64, then every 100 ms) until the client's
 * timeout, say Hello with resume_id and resume_token, and check that the
 * daemon serves the same memory:
 *   - every region this client mapped, by name: the same size, and its
 *     memfd the same file (st_dev, st_ino) as the one mapped, and so its
 *     shared bits; this client's mappings are never touched, so blocks can
 *     be read and written all through a restart;
 *   - every object this client knows that the reply lists: the same kind,
 *     region, offset, size, block size and total. An object the reply no
 *     longer lists was removed by a reload (the daemon removes nothing a
 *     client holds): the daemon answers -ENOENT for it, as it would have;
 *   - every pool with a cache on: still in the reply, with as many lease
 *     slots.
 * A mismatch is -ESTALE with the difference named in c->why (memory this
 * client would address wrongly: nothing it holds can be trusted). Then the
 * cache slots move from the old lease page into the new one (the daemon
 * takes cached blocks back from the new page only), and the new connection
 * replaces the old. The descriptors of the resumed hello are closed: the
 * mappings of the first hello stay.
 *
 * Not resumed: a daemon that gives no session token (older, or a hello
 * that was refused), and a client being closed (mc_close). A daemon that
 * nothing listens for any more (ENOENT, ECONNREFUSED: the keeper holds the
 * listening socket while the serving process is replaced, so that means
 * the whole daemon stopped) is gone at once: -ECONNRESET, as before.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/mc_internal.h"

#define BACKOFF_MAX_MS 100

/* Milliseconds until deadline (at least 1 while it is ahead), 0 once it
 * passed, MC_TIMEOUT_NONE without one. */
static int ms_left(const mc_client_t *c, const struct timespec *deadline)
{
	struct timespec now;
	int64_t ms;

	if (c->timeout_ms == MC_TIMEOUT_NONE)
		return MC_TIMEOUT_NONE;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t) (deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0 && (deadline->tv_sec > now.tv_sec ||
			(deadline->tv_sec == now.tv_sec && deadline->tv_nsec > now.tv_nsec)))
		return 1;
	return ms <= 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int) ms;
}

static void sleep_ms(int ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static int away(mc_client_t *c)
{
	return mc__why(c, -ETIMEDOUT, "daemon away: serving process being replaced");
}

static const Allocd__RegionInfo *region_named(const Allocd__HelloReply *hr, const char *name,
					      size_t *at)
{
	for (size_t i = 0; i < hr->n_regions; i++)
		if (hr->regions[i]->name != NULL && strcmp(hr->regions[i]->name, name) == 0) {
			*at = i;
			return hr->regions[i];
		}
	return NULL;
}

static bool same_file(int fd, dev_t dev, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Every region this client mapped is served again, from the same memfd
 * (and shared-bits memfd, where mapped). */
static int check_regions(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds)
{
	size_t n = hr->n_regions;

	for (size_t i = 0; i < c->nregions; i++) {
		const struct mc_region *r = &c->regions[i];
		const Allocd__RegionInfo *ri;
		size_t j;

		ri = region_named(hr, r->name, &j);
		if (ri == NULL)
			return mc__why(c, -ESTALE, "resumed: region '%s' is gone", r->name);
		if (ri->size != r->size)
			return mc__why(c, -ESTALE, "resumed: region '%s' is %llu bytes, was %llu",
				       r->name, (unsigned long long) ri->size,
				       (unsigned long long) r->size);
		if (!same_file(fds[j], r->dev, r->ino))
			return mc__why(c, -ESTALE,
				       "resumed: region '%s' is another memfd than the one mapped",
				       r->name);
		if (c->bits != NULL && c->bits[i] != NULL &&
		    (mc__hello_fds(hr) < 2 * n || ri->bits_size != c->bits_sizes[i] ||
		     !same_file(fds[n + j], r->bits_dev, r->bits_ino)))
			return mc__why(c, -ESTALE,
				       "resumed: the shared bits of region '%s' are another memfd",
				       r->name);
	}
	return 0;
}

static const char *kind_name(uint32_t kind)
{
	return kind == MC_POOL ? "pool" : kind == MC_HEAP ? "heap" : "group";
}

/* The objects both know have the same geometry. */
static int check_objects(mc_client_t *c, const Allocd__HelloReply *hr)
{
	for (size_t i = 0; i < hr->n_objects; i++) {
		const Allocd__ObjectInfo *oi = hr->objects[i];
		const struct mc_object *o;
		const char *what = NULL;

		if (oi->region >= hr->n_regions || mc__check_name(oi->name) < 0)
			return mc__why(c, -EPROTO, "resumed: object %zu is malformed", i);
		o = mc__object(c, oi->name);
		if (o == NULL)
			continue; /* new: learned when used (mc_learn.c) */
		if (oi->kind != o->kind)
			what = "kind";
		else if (strcmp(hr->regions[oi->region]->name, c->regions[o->region].name) != 0)
			what = "region";
		else if (oi->offset != o->offset)
			what = "offset";
		else if (oi->size != o->size)
			what = "size";
		else if (oi->block_size != o->block_size)
			what = "block size";
		else if (oi->total != o->total)
			what = "total";
		if (what != NULL)
			return mc__why(c, -ESTALE, "resumed: %s '%s' has another %s",
				       kind_name(o->kind), o->name, what);
	}
	return 0;
}

static const Allocd__ObjectInfo *object_named(const Allocd__HelloReply *hr, const char *name)
{
	for (size_t i = 0; i < hr->n_objects; i++)
		if (strcmp(hr->objects[i]->name, name) == 0)
			return hr->objects[i];
	return NULL;
}

/* Each cache's slots have a place in the new lease page of lease_size
 * bytes. */
static int check_caches(mc_client_t *c, const Allocd__HelloReply *hr)
{
	for (size_t i = 0; i < c->ncaches; i++) {
		const struct mc_cache *k = &c->caches[i];
		const Allocd__ObjectInfo *oi = object_named(hr, k->obj->name);

		if (oi == NULL || oi->lease_slots != k->nslots || oi->lease_offset % 4 != 0 ||
		    oi->lease_offset > hr->lease_size ||
		    (hr->lease_size - oi->lease_offset) / 4 < k->nslots)
			return mc__why(c, -ESTALE, "resumed: pool '%s' has no room for its cache",
				       k->obj->name);
	}
	return 0;
}

/* Move every cache's slots into the new page (mapped at page), then let the
 * old one go. Nobody else writes the old page: its daemon is gone. */
static void move_caches(mc_client_t *c, const Allocd__HelloReply *hr, uint8_t *page)
{
	for (size_t i = 0; i < c->ncaches; i++) {
		struct mc_cache *k = &c->caches[i];
		uint32_t *slots =
		    (uint32_t *) (page + object_named(hr, k->obj->name)->lease_offset);

		for (uint32_t s = 0; s < k->nslots; s++)
			__atomic_store_n(&slots[s], __atomic_load_n(&k->slots[s], __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
		k->slots = slots;
	}
	if (c->lease != NULL)
		munmap(c->lease, (size_t) c->lease_size);
	c->lease = page;
	c->lease_size = hr->lease_size;
}

/* Check the resumed reply and take its lease page. */
static int adopt(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds, size_t nfds,
		 struct mc_resumed *out)
{
	size_t n = hr->n_regions;
	void *page = NULL;
	int rc;

	if (!hr->resumed || hr->client_id != c->client_id)
		return mc__why(c, -ESTALE, "the daemon started a new session instead of resuming");
	if (n > WIRE_MAX_REGIONS || mc__hello_fds(hr) != nfds ||
	    hr->session_token.len > sizeof(c->token))
		return mc__why(c, -EPROTO, "resumed: a hello reply this library cannot follow");
	rc = check_regions(c, hr, fds);
	if (rc == 0)
		rc = check_objects(c, hr);
	if (rc == 0)
		rc = check_caches(c, hr);
	if (rc == 0 && hr->lease_size > 0 && nfds > 2 * n)
		rc = mc__map_fd(fds[2 * n], hr->lease_size, PROT_READ | PROT_WRITE, &page);
	if (rc < 0)
		return rc;
	if (page != NULL)
		move_caches(c, hr, page);
	if (hr->session_token.len > 0) {
		memcpy(c->token, hr->session_token.data, hr->session_token.len);
		c->token_len = hr->session_token.len;
	}
	out->applied_id = hr->applied_id;
	out->failed_id = hr->failed_id;
	out->failed_status = hr->failed_status;
	return 0;
}

/* The resume hello on fd, checked and adopted. */
static int resume_hello(mc_client_t *c, int fd, struct mc_resumed *out)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;
	int fds[MC_MAX_HELLO_FDS];
	Allocd__Reply *r;
	size_t nfds;
	int rc;

	h.client_name = program_invocation_short_name;
	h.leases = true;
	h.resume_id = c->client_id;
	h.resume_token.data = c->token;
	h.resume_token.len = c->token_len;
	req.body_case = ALLOCD__REQUEST__BODY_HELLO;
	req.hello = &h;
	rc = mc__hello_once(c, fd, &req, &r, fds, &nfds);
	if (rc < 0)
		return rc;
	rc = adopt(c, r->hello, fds, nfds, out);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	mc__reply_free(c, r);
	return rc;
}

int mc__reattach(mc_client_t *c, const struct timespec *deadline, struct mc_resumed *out)
{
	int delay = 1;

	for (;;) {
		int left = ms_left(c, deadline), fd, rc;

		if (left == 0)
			return away(c);
		sleep_ms(left != MC_TIMEOUT_NONE && left < delay ? left : delay);
		delay = delay * 2 < BACKOFF_MAX_MS ? delay * 2 : BACKOFF_MAX_MS;
		left = ms_left(c, deadline);
		if (left == 0)
			return away(c);
		rc = mc__dial(c->socket_path, left, &fd);
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			return mc__why(c, -ECONNRESET, "daemon gone: nothing listens on %s",
				       c->socket_path);
		if (rc == 0) {
			rc = resume_hello(c, fd, out);
			if (rc == 0)
				rc = mc__timeout_apply(fd, c->timeout_ms);
			if (rc == 0) {
				close(c->fd);
				c->fd = fd;
				return 0;
			}
			close(fd);
		}
		if (rc == -ETIMEDOUT)
			return away(c);
		/* Lost again: the new serving process died too. */
		if (rc != -ECONNRESET && rc != -EPIPE)
			return rc;
	}
}
