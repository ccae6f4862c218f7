/*
 * mc_connect.c -- finding the daemon, the hello (protocol version, limits,
 * region memfds, shared bits and lease page), mapping them, and turning
 * names and offsets into addresses.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/mc_internal.h"

/* Does a user's socket ($XDG_RUNTIME_DIR/allocatord.sock) exist? Its path
 * into path. A user's daemon listens there; a system daemon (root) at
 * WIRE_SOCKET_SYSTEM, which a user's client must find too when the user
 * runs no daemon of their own. */
static bool user_socket_exists(char path[PATH_MAX])
{
	struct stat st;
	int n = wire_socket_default(path, PATH_MAX, false);

	return n > 0 && n < PATH_MAX && stat(path, &st) == 0;
}

int mc_default_socket(char *buf, size_t len)
{
	const char *env = getenv(WIRE_SOCKET_ENV);
	char user[PATH_MAX];
	int n;

	if (buf == NULL)
		return -EINVAL;
	if (env != NULL && *env != '\0')
		n = snprintf(buf, len, "%s", env);
	else if (user_socket_exists(user))
		n = snprintf(buf, len, "%s", user);
	else
		n = wire_socket_default(buf, len, true);
	return n >= 0 && (size_t) n < len ? 0 : -ENAMETOOLONG;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct mc_object *) a)->name, ((const struct mc_object *) b)->name);
}

static int key_by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mc_object *) elem)->name);
}

/* Map fd's size bytes shared and writable at an address that is a multiple
 * of wire_map_align(size), so that an offset aligned to a power of two up to
 * that is a pointer as aligned: reserve address space with room to slide,
 * map over its aligned part, give back the rest. Where the reservation is
 * refused (an address-space limit), a plain page-aligned mapping. */
static void *map_aligned(int fd, size_t size)
{
	size_t align = (size_t) wire_map_align(size), page = (size_t) sysconf(_SC_PAGESIZE);
	size_t len = size + (align > page ? align - page : 0);
	uintptr_t start, at;
	void *r, *p;

	if (len < size)
		return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	start = (uintptr_t) r;
	at = (start + align - 1) & ~(uintptr_t) (align - 1);
	p = mmap((void *) at, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		munmap(r, len);
		return MAP_FAILED;
	}
	if (at > start)
		munmap(r, at - start);
	if (start + len > at + size)
		munmap((void *) (at + size), start + len - (at + size));
	return p;
}

/* Map every region of the hello reply, from fds[i] for regions[i]. The
 * region must be as large as announced: mapping past the end of the memfd
 * would turn into SIGBUS at the first touch. */
static int map_regions(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds)
{
	/* Room for every region the daemon may ever serve, so that one learned
	 * later (mc_learn.c) never moves those mc_ptr() reads without the lock. */
	c->regions = calloc(WIRE_MAX_REGIONS, sizeof(*c->regions));
	if (c->regions == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < hr->n_regions; i++) {
		uint64_t size = hr->regions[i]->size;
		struct stat st;
		void *p;

		if (size == 0 || size > SIZE_MAX || fstat(fds[i], &st) < 0 ||
		    (uint64_t) st.st_size < size)
			return -EPROTO;
		p = map_aligned(fds[i], (size_t) size);
		if (p == MAP_FAILED)
			return -errno;
		c->regions[i].base = p;
		c->regions[i].size = size;
		c->regions[i].dev = st.st_dev;
		c->regions[i].ino = st.st_ino;
		mc__copy_name(c->regions[i].name, hr->regions[i]->name);
		c->nregions = i + 1;
	}
	return 0;
}

static int load_objects(mc_client_t *c, const Allocd__HelloReply *hr)
{
	int rc;

	c->objects = calloc(hr->n_objects ? hr->n_objects : 1, sizeof(*c->objects));
	if (c->objects == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < hr->n_objects; i++) {
		const Allocd__ObjectInfo *oi = hr->objects[i];

		if (oi->region >= c->nregions || mc__check_name(oi->name) < 0)
			return -EPROTO;
		mc__copy_name(c->objects[i].name, oi->name);
		c->objects[i].region = oi->region;
		c->objects[i].kind = oi->kind;
		c->objects[i].offset = oi->offset;
		c->objects[i].size = oi->size;
		c->objects[i].block_size = oi->block_size;
		c->objects[i].total = oi->total;
	}
	c->nobjects = hr->n_objects;
	rc = mc__caches_init(c, hr);
	if (rc < 0)
		return rc;
	qsort(c->objects, c->nobjects, sizeof(*c->objects), by_name);
	for (size_t i = 0; i < c->nobjects; i++)
		if (c->objects[i].cache != NULL)
			c->objects[i].cache->obj = &c->objects[i];
	return 0;
}

/*
 * How many descriptors the hello reply must bring: a memfd per region, and
 * from a daemon with leased caches (the one that announces max_output) a
 * shared-bits memfd per region -- also for a region without pools, whose
 * bits are 0 bytes -- then the lease page when lease_size > 0. A daemon
 * without them sends the region memfds only.
 */
size_t mc__hello_fds(const Allocd__HelloReply *hr)
{
	if (hr->max_output == 0)
		return hr->n_regions;
	return 2 * hr->n_regions + (hr->lease_size > 0);
}

int mc__map_fd(int fd, uint64_t size, int prot, void **out)
{
	struct stat st;
	void *p;

	*out = NULL;
	if (size == 0)
		return 0;
	if (size > SIZE_MAX || fstat(fd, &st) < 0 || (uint64_t) st.st_size < size)
		return -EPROTO;
	p = mmap(NULL, (size_t) size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

/* The shared-bits maps (read-only: the daemon sealed them against writes)
 * from fds[n..2n), and the lease page (read/write) from fds[2n]. */
static int map_shared(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds, size_t nfds)
{
	size_t n = hr->n_regions;
	void *p;
	int rc;

	if (nfds == n)
		return 0;
	/* For every region, also those learned later (which have none). */
	c->bits = calloc(WIRE_MAX_REGIONS, sizeof(*c->bits));
	c->bits_sizes = calloc(WIRE_MAX_REGIONS, sizeof(*c->bits_sizes));
	if (c->bits == NULL || c->bits_sizes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		rc = mc__map_fd(fds[n + i], hr->regions[i]->bits_size, PROT_READ, &p);
		if (rc < 0)
			return rc;
		c->bits[i] = p;
		c->bits_sizes[i] = hr->regions[i]->bits_size;
		if (fstat(fds[n + i], &st) == 0) {
			c->regions[i].bits_dev = st.st_dev;
			c->regions[i].bits_ino = st.st_ino;
		}
	}
	if (hr->lease_size > 0) {
		rc = mc__map_fd(fds[2 * n], hr->lease_size, PROT_READ | PROT_WRITE, &p);
		if (rc < 0)
			return rc;
		c->lease = p;
		c->lease_size = hr->lease_size;
	}
	return 0;
}

/* The daemon stops reading a connection with max_output bytes of replies
 * unread; one that does not say has at least twice max_frame (its own
 * minimum). */
static uint32_t output_budget(const Allocd__HelloReply *hr)
{
	return hr->max_output != 0 ? hr->max_output : 2 * hr->max_frame;
}

/* Say hello, take the limits, map the regions. The memfds are closed here
 * whatever happens: a mapping keeps its own reference. */
static int hello(mc_client_t *c)
{
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;
	const Allocd__HelloReply *hr;
	Allocd__Reply *r;
	int fds[MC_MAX_HELLO_FDS];
	size_t nfds;
	int rc;

	h.client_name = program_invocation_short_name;
	h.leases = true;
	req.body_case = ALLOCD__REQUEST__BODY_HELLO;
	req.hello = &h;
	rc = mc__call_hello(c, &req, &r, fds, &nfds);
	if (rc < 0)
		return rc;
	hr = r->hello;
	if (hr->n_regions > WIRE_MAX_REGIONS || mc__hello_fds(hr) != nfds ||
	    hr->max_frame < WIRE_FRAME_MIN || hr->max_frame > WIRE_FRAME_MAX ||
	    hr->max_batch == 0) {
		rc = -EPROTO;
	} else {
		c->max_frame = hr->max_frame;
		c->max_batch = hr->max_batch;
		c->max_output = output_budget(hr);
		c->client_id = hr->client_id;
		rc = hr->session_token.len <= sizeof(c->token) ? map_regions(c, hr, fds) : -EPROTO;
		if (rc == 0)
			rc = map_shared(c, hr, fds, nfds);
		if (rc == 0)
			rc = load_objects(c, hr);
		if (rc == 0)
			rc = mc__batch_init(c);
	}
	/* A daemon that gives a token can resume this session after its
	 * serving process was replaced (mc_resume.c); one that gives none
	 * cannot, and a lost connection breaks the client as it always did. */
	if (rc == 0 && hr->session_token.len > 0) {
		memcpy(c->token, hr->session_token.data, hr->session_token.len);
		c->token_len = hr->session_token.len;
		c->resumable = true;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	mc__reply_free(c, r);
	return rc;
}

/* The options as this library reads them: opts, or the defaults. */
static int read_options(const struct mc_connect_options *opts, int *timeout_ms)
{
	if (opts == NULL)
		return mc__timeout_resolve(0, timeout_ms);
	if (opts->size != sizeof(*opts))
		return -EINVAL;
	if (opts->reason != NULL && opts->reason_len > 0)
		opts->reason[0] = '\0';
	return mc__timeout_resolve(opts->timeout_ms, timeout_ms);
}

/* The timeout is set before the connect(): a daemon whose listen queue
 * stays full times the connect out. */
int mc__dial(const char *path, int timeout_ms, int *out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	int fd, rc;

	if (len == 0)
		return -EINVAL;
	/* Refuse rather than truncate: a cut path names another socket. */
	if (len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = mc__timeout_apply(fd, timeout_ms);
	if (rc == 0 && connect(fd, (const struct sockaddr *) &sun, sizeof(sun)) < 0)
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int mc_connect_with(const char *socket_path, const struct mc_connect_options *opts,
		    mc_client_t **out)
{
	char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	mc_client_t *c;
	int fd = -1, rc, timeout_ms;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	rc = read_options(opts, &timeout_ms);
	if (rc < 0)
		return rc;
	if (socket_path == NULL) {
		rc = mc_default_socket(path, sizeof(path));
		if (rc < 0)
			return rc;
		socket_path = path;
	}
	rc = mc__dial(socket_path, timeout_ms, &fd);
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return -ENOMEM;
	}
	rc = -pthread_mutex_init(&c->lock, NULL);
	if (rc < 0) {
		close(fd);
		free(c);
		return rc;
	}
	mc__init_transport(c, fd);
	c->timeout_ms = timeout_ms;
	memcpy(c->socket_path, socket_path, strlen(socket_path) + 1);
	rc = hello(c);
	if (rc < 0) {
		if (opts != NULL && opts->reason != NULL && opts->reason_len > 0)
			snprintf(opts->reason, opts->reason_len, "%s", c->why);
		mc_close(c);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	mc__caches_defaults(c);
	pthread_mutex_unlock(&c->lock);
	*out = c;
	return 0;
}

int mc_connect(const char *socket_path, mc_client_t **out)
{
	return mc_connect_with(socket_path, NULL, out);
}

void mc_close(mc_client_t *c)
{
	if (c == NULL)
		return;
	/* Closing: a daemon away now is not waited for, and the flush below
	 * ends like any other call on a lost connection. */
	c->resumable = false;
	/* Queued frees and retains are the user's requests: they go out (a
	 * retain may matter to a peer that is told after this returns). Not
	 * from a forked child: the stream and the lease page are the
	 * parent's, and so are the replies in flight. */
	if (getpid() == c->owner)
		mc__flush(c);
	/* Closing the socket is what makes the daemon drop every hold. */
	close(c->fd);
	for (size_t i = 0; i < c->nregions; i++)
		munmap(c->regions[i].base, (size_t) c->regions[i].size);
	for (size_t i = 0; c->bits != NULL && i < c->nregions; i++)
		if (c->bits[i] != NULL)
			munmap((void *) c->bits[i], (size_t) c->bits_sizes[i]);
	if (c->lease != NULL)
		munmap(c->lease, (size_t) c->lease_size);
	mc__caches_free(c);
	free(c->bits);
	free(c->bits_sizes);
	free(c->batch.offsets);
	free(c->regions);
	free(c->objects);
	mc__learned_free(c);
	free(c->buf);
	for (size_t i = 0; i < MC_INFLIGHT_MAX; i++)
		free(c->frames[i].data);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int mc_last_error(mc_client_t *c, char *buf, size_t len)
{
	if (c == NULL || buf == NULL || len == 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	snprintf(buf, len, "%s", c->why);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

const char *mc_socket_path(const mc_client_t *c)
{
	return c != NULL ? c->socket_path : NULL;
}

size_t mc_max_batch(const mc_client_t *c)
{
	return c != NULL ? c->max_batch : 0;
}

/* Lock-free: the hello's objects are immutable once mc_connect has
 * returned, and learned ones are published whole (mc_learn.c). */
const struct mc_object *mc__object(const mc_client_t *c, const char *name)
{
	const struct mc_object *o =
	    bsearch(name, c->objects, c->nobjects, sizeof(struct mc_object), key_by_name);

	return o != NULL ? o : mc__learned(c, name);
}

void *mc_ptr(mc_client_t *c, const char *name, uint64_t offset)
{
	const struct mc_object *o;
	const struct mc_region *r;

	if (c == NULL || mc__check_name(name) < 0)
		return NULL;
	o = mc__object(c, name);
	if (o == NULL) {
		pthread_mutex_lock(&c->lock);
		o = mc__learn(c, name);
		pthread_mutex_unlock(&c->lock);
	}
	if (o == NULL)
		return NULL;
	r = &c->regions[o->region];
	return offset < r->size ? r->base + offset : NULL;
}
