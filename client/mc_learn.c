/*
 * mc_learn.c -- objects a reload added to the daemon after this client's
 * hello: a client learns them on first use of their name, without
 * reconnecting.
 *
 * Allocations by name need nothing here (the daemon resolves names); what
 * needs the object is mc_ptr(), which must know its region and have it
 * mapped. On a name it does not know, the library asks the daemon for its
 * configuration generation (one Status request) and, only when it moved
 * since the last time it learned, says hello once more on a second,
 * short-lived connection, without leases: that hello lists every object the
 * client may use with the memfd of each region it may use -- the daemon's
 * own fd passing and access lists, unchanged, and nothing that interleaves
 * memfds with the pipelined replies of the main connection. The objects it
 * did not know are appended here, the regions it had not mapped are mapped
 * into room reserved at connect, and the connection is closed.
 *
 * That hello names this client (Hello.for_client), so the daemon counts the
 * regions it sent as this client's: it removes no region a connected client
 * has mapped. Regions are matched by name, which is therefore safe: a
 * region of the same name added again later is one this client never
 * mapped. Learned objects cannot be cached (the lease page was laid out at
 * connect).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/mc_internal.h"

const struct mc_object *mc__learned(const mc_client_t *c, const char *name)
{
	for (const struct mc_learned *l = __atomic_load_n(&c->learned, __ATOMIC_ACQUIRE); l != NULL;
	     l = l->next)
		if (strcmp(l->obj.name, name) == 0)
			return &l->obj;
	return NULL;
}

void mc__learned_free(mc_client_t *c)
{
	struct mc_learned *l = c->learned, *next;

	for (; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
	c->learned = NULL;
}

/* The daemon's configuration generation (0 from a daemon without
 * reloads), or a negative errno. */
static int64_t generation(mc_client_t *c)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Status st = ALLOCD__STATUS__INIT;
	Allocd__Reply *r;
	int64_t gen;
	int rc;

	req.body_case = ALLOCD__REQUEST__BODY_STATUS;
	req.status = &st;
	rc = mc__call(c, &req, ALLOCD__REPLY__BODY_STATUS_INFO, &r);
	if (rc < 0)
		return rc;
	gen = (int64_t) r->status_info->config_generation;
	mc__reply_free(c, r);
	return gen;
}

/* This client's index of the hello region ri, mapping it from fd when it
 * has not: 0 and *out, or a negative errno. */
static int region_of(mc_client_t *c, const Allocd__RegionInfo *ri, int fd, uint32_t *out)
{
	struct mc_region *r;
	struct stat st;
	void *p;

	for (size_t i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, ri->name) == 0) {
			*out = (uint32_t) i;
			return 0;
		}
	if (c->nregions >= WIRE_MAX_REGIONS || mc__check_name(ri->name) < 0 || ri->size == 0 ||
	    ri->size > SIZE_MAX || fstat(fd, &st) < 0 || (uint64_t) st.st_size < ri->size)
		return -EPROTO;
	p = mmap(NULL, (size_t) ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = &c->regions[c->nregions];
	r->base = p;
	r->size = ri->size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	mc__copy_name(r->name, ri->name);
	*out = (uint32_t) c->nregions++;
	return 0;
}

/* Append the objects of hr this client does not know yet, regions mapped
 * from fds (hr's order). */
static int learn_all(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds)
{
	for (size_t i = 0; i < hr->n_objects; i++) {
		const Allocd__ObjectInfo *oi = hr->objects[i];
		struct mc_learned *l;
		uint32_t region = 0;
		int rc;

		if (oi->region >= hr->n_regions || mc__check_name(oi->name) < 0)
			return -EPROTO;
		if (mc__object(c, oi->name) != NULL)
			continue;
		rc = region_of(c, hr->regions[oi->region], fds[oi->region], &region);
		if (rc < 0)
			return rc;
		l = calloc(1, sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		mc__copy_name(l->obj.name, oi->name);
		l->obj.region = region;
		l->obj.kind = oi->kind;
		l->obj.offset = oi->offset;
		l->obj.size = oi->size;
		l->obj.block_size = oi->block_size;
		l->obj.total = oi->total;
		l->next = c->learned;
		/* Whole, and after its region, before any reader can see it. */
		__atomic_store_n(&c->learned, l, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The second hello, on its own connection (closed here). */
static int hello_again(mc_client_t *c)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;
	int fds[MC_MAX_HELLO_FDS];
	mc_client_t *side;
	Allocd__Reply *r;
	size_t nfds;
	int fd, rc;

	rc = mc__dial(c->socket_path, c->timeout_ms, &fd);
	if (rc < 0)
		return rc;
	side = calloc(1, sizeof(*side));
	if (side == NULL) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&side->lock, NULL);
	mc__init_transport(side, fd);
	h.client_name = program_invocation_short_name;
	h.for_client = c->client_id;
	req.body_case = ALLOCD__REQUEST__BODY_HELLO;
	req.hello = &h;
	rc = mc__call_hello(side, &req, &r, fds, &nfds);
	if (rc == 0) {
		/* Without leases: the region memfds alone. */
		rc = r->hello->n_regions == nfds ? learn_all(c, r->hello, fds) : -EPROTO;
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		mc__reply_free(side, r);
	}
	mc_close(side); /* not its owner: closes without a word more */
	return rc;
}

const struct mc_object *mc__learn(mc_client_t *c, const char *name)
{
	const struct mc_object *o = mc__object(c, name);
	int64_t gen;

	if (o != NULL)
		return o; /* another thread learned it meanwhile */
	gen = generation(c);
	/* An older daemon never adds objects; the same generation, nothing
	 * new since the last time: either way no second connection. */
	if (gen <= 0 || (uint64_t) gen == c->learned_gen)
		return NULL;
	if (hello_again(c) < 0)
		return NULL;
	c->learned_gen = (uint64_t) gen;
	return mc__object(c, name);
}
