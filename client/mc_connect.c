/*
 * mc_connect.c -- finding the daemon, the hello (protocol version, limits,
 * region memfds), mapping the regions, and turning names and offsets into
 * addresses.
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

/* The daemon's defaults (daemon/sockfile.h): as root, and in a user's
 * runtime directory. */
#define MC_ROOT_SOCKET "/run/allocatord/allocatord.sock"
#define MC_SOCKET_NAME "allocatord.sock"

/* Does $XDG_RUNTIME_DIR/allocatord.sock exist? A user's daemon listens
 * there; a system daemon (root) at MC_ROOT_SOCKET, which a user's client
 * must find too when the user runs no daemon of their own. */
static bool user_socket_exists(const char *xdg)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", xdg, MC_SOCKET_NAME);

	return n > 0 && (size_t) n < sizeof(path) && stat(path, &st) == 0;
}

int mc_default_socket(char *buf, size_t len)
{
	const char *env = getenv("ALLOCATORD_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (buf == NULL)
		return -EINVAL;
	if (env != NULL && *env != '\0')
		n = snprintf(buf, len, "%s", env);
	else if (xdg != NULL && *xdg != '\0' && user_socket_exists(xdg))
		n = snprintf(buf, len, "%s/%s", xdg, MC_SOCKET_NAME);
	else
		n = snprintf(buf, len, "%s", MC_ROOT_SOCKET);
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

/* Map every region of the hello reply, from fds[i] for regions[i]. The
 * region must be as large as announced: mapping past the end of the memfd
 * would turn into SIGBUS at the first touch. */
static int map_regions(mc_client_t *c, const Allocd__HelloReply *hr, const int *fds)
{
	c->regions = calloc(hr->n_regions ? hr->n_regions : 1, sizeof(*c->regions));
	if (c->regions == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < hr->n_regions; i++) {
		uint64_t size = hr->regions[i]->size;
		struct stat st;
		void *p;

		if (size == 0 || size > SIZE_MAX || fstat(fds[i], &st) < 0 ||
		    (uint64_t) st.st_size < size)
			return -EPROTO;
		p = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED)
			return -errno;
		c->regions[i].base = p;
		c->regions[i].size = size;
		c->nregions = i + 1;
	}
	return 0;
}

static int load_objects(mc_client_t *c, const Allocd__HelloReply *hr)
{
	c->objects = calloc(hr->n_objects ? hr->n_objects : 1, sizeof(*c->objects));
	if (c->objects == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < hr->n_objects; i++) {
		const Allocd__ObjectInfo *oi = hr->objects[i];

		if (oi->region >= c->nregions || mc__check_name(oi->name) < 0)
			return -EPROTO;
		mc__copy_name(c->objects[i].name, oi->name);
		c->objects[i].region = oi->region;
	}
	c->nobjects = hr->n_objects;
	qsort(c->objects, c->nobjects, sizeof(*c->objects), by_name);
	return 0;
}

/* The memfds a hello reply comes with: one per region, and from a daemon
 * that announces max_output (leased caches) also each region's shared bits
 * and, when lease_size > 0, the lease page. Only the region memfds, first,
 * are used here; the others are closed with them. */
static size_t hello_fds(const Allocd__HelloReply *hr)
{
	if (hr->max_output == 0)
		return hr->n_regions;
	return 2 * hr->n_regions + (hr->lease_size > 0);
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
	req.body_case = ALLOCD__REQUEST__BODY_HELLO;
	req.hello = &h;
	rc = mc__call_hello(c, &req, &r, fds, &nfds);
	if (rc < 0)
		return rc;
	hr = r->hello;
	if (nfds != hello_fds(hr) || hr->max_frame < MC_FRAME_MIN ||
	    hr->max_frame > MC_FRAME_CAP_HELLO || hr->max_batch == 0) {
		rc = -EPROTO;
	} else {
		c->max_frame = hr->max_frame;
		c->max_batch = hr->max_batch;
		rc = map_regions(c, hr, fds);
		if (rc == 0)
			rc = load_objects(c, hr);
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	mc__reply_free(c, r);
	return rc;
}

int mc_connect(const char *socket_path, mc_client_t **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[sizeof(sun.sun_path)];
	mc_client_t *c;
	size_t len;
	int fd, rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (socket_path == NULL) {
		rc = mc_default_socket(path, sizeof(path));
		if (rc < 0)
			return rc;
		socket_path = path;
	}
	len = strlen(socket_path);
	if (len == 0)
		return -EINVAL;
	/* Refuse rather than truncate: a cut path names another socket. */
	if (len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, socket_path, len + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
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
	memcpy(c->socket_path, socket_path, len + 1);
	rc = hello(c);
	if (rc < 0) {
		mc_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void mc_close(mc_client_t *c)
{
	if (c == NULL)
		return;
	/* Closing the socket is what makes the daemon drop every hold. */
	close(c->fd);
	for (size_t i = 0; i < c->nregions; i++)
		munmap(c->regions[i].base, (size_t) c->regions[i].size);
	free(c->regions);
	free(c->objects);
	free(c->buf);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *mc_socket_path(const mc_client_t *c)
{
	return c != NULL ? c->socket_path : NULL;
}

size_t mc_max_batch(const mc_client_t *c)
{
	return c != NULL ? c->max_batch : 0;
}

/* Lock-free: the tables are immutable once mc_connect has returned. */
void *mc_ptr(mc_client_t *c, const char *name, uint64_t offset)
{
	const struct mc_object *o;
	const struct mc_region *r;

	if (c == NULL || mc__check_name(name) < 0)
		return NULL;
	o = bsearch(name, c->objects, c->nobjects, sizeof(*o), key_by_name);
	if (o == NULL)
		return NULL;
	r = &c->regions[o->region];
	return offset < r->size ? r->base + offset : NULL;
}
