#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/daemon/raw_client.h"

int raw_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int raw_write(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *) buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t) n;
	}
	return 0;
}

int raw_send(int fd, const Allocd__Request *r)
{
	size_t n = allocd__request__get_packed_size(r);
	uint8_t *buf = malloc(n + 4);
	int rc;

	buf[0] = (uint8_t) n;
	buf[1] = (uint8_t) (n >> 8);
	buf[2] = (uint8_t) (n >> 16);
	buf[3] = (uint8_t) (n >> 24);
	allocd__request__pack(r, buf + 4);
	rc = raw_write(fd, buf, n + 4);
	free(buf);
	return rc;
}

/* Read exactly len bytes within timeout_ms, collecting descriptors. */
static int read_full(int fd, uint8_t *buf, size_t len, int timeout_ms, int *fds, size_t *nfds,
		     size_t max)
{
	size_t done = 0;

	while (done < len) {
		union {
			char buf[CMSG_SPACE(RAW_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = buf + done, .iov_len = len - done};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int got;

				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (fds != NULL && *nfds < max)
					fds[(*nfds)++] = got;
				else
					close(got);
			}
		}
		done += (size_t) n;
	}
	return 0;
}

Allocd__Reply *raw_recv(int fd, int timeout_ms, int *fds, size_t *nfds)
{
	size_t max = nfds ? *nfds : 0, got = 0;
	uint8_t hdr[4], *body;
	Allocd__Reply *r = NULL;
	uint32_t len;

	if (read_full(fd, hdr, 4, timeout_ms, fds, &got, max) < 0)
		goto out;
	len = (uint32_t) hdr[0] | (uint32_t) hdr[1] << 8 | (uint32_t) hdr[2] << 16 |
	      (uint32_t) hdr[3] << 24;
	if (len > (16u << 20))
		goto out;
	body = malloc(len ? len : 1);
	if (read_full(fd, body, len, timeout_ms, fds, &got, max) == 0)
		r = allocd__reply__unpack(NULL, len, body);
	free(body);
out:
	if (nfds != NULL)
		*nfds = got;
	return r;
}

int raw_closed(int fd, int timeout_ms)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 0;
	}
}

int raw_send_hello(int fd, bool leases)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;

	h.leases = leases;
	r.version = 1;
	r.id = 1;
	r.body_case = ALLOCD__REQUEST__BODY_HELLO;
	r.hello = &h;
	return raw_send(fd, &r);
}

Allocd__Reply *raw_hello_resume(int fd, uint64_t resume_id, const uint8_t *token, size_t len,
				int *fds, size_t *nfds)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;

	h.resume_id = resume_id;
	h.resume_token.data = (uint8_t *) token;
	h.resume_token.len = len;
	r.version = 1;
	r.id = 1;
	r.body_case = ALLOCD__REQUEST__BODY_HELLO;
	r.hello = &h;
	if (raw_send(fd, &r) < 0)
		return NULL;
	return raw_recv(fd, 5000, fds, nfds);
}

Allocd__Reply *raw_hello_reply(int fd, bool leases, int *fds, size_t *nfds)
{
	/* A refused connection may be closed before the hello is sent: its
	 * reason is waiting to be read all the same. */
	(void) raw_send_hello(fd, leases);
	return raw_recv(fd, 5000, fds, nfds);
}

int raw_hello(int fd, int *fds, size_t *nfds)
{
	return raw_hello_leases(fd, false, fds, nfds);
}

int raw_hello_leases(int fd, bool leases, int *fds, size_t *nfds)
{
	Allocd__Reply *rep = raw_hello_reply(fd, leases, fds, nfds);
	int status;

	if (rep == NULL)
		return -1;
	status = rep->status;
	allocd__reply__free_unpacked(rep, NULL);
	return status;
}

/* Send r, read its reply; the reply (checked to carry id) or NULL. */
static Allocd__Reply *raw_call(int fd, const Allocd__Request *r)
{
	Allocd__Reply *rep;

	if (raw_send(fd, r) < 0)
		return NULL;
	rep = raw_recv(fd, 5000, NULL, NULL);
	if (rep != NULL && rep->id != r->id) {
		allocd__reply__free_unpacked(rep, NULL);
		rep = NULL;
	}
	return rep;
}

int raw_alloc_lease(int fd, uint64_t id, const char *pool, uint64_t count, uint64_t lease,
		    uint64_t cache, uint64_t *offsets, size_t max, size_t *n)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	Allocd__Reply *rep;
	size_t got = 0;
	int status;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = (char *) pool;
	a.count = count;
	a.lease = lease;
	a.cache = cache;
	rep = raw_call(fd, &r);
	if (rep == NULL)
		return -1;
	status = rep->status;
	if (status == 0 && rep->body_case == ALLOCD__REPLY__BODY_ALLOC)
		for (; got < rep->alloc->n_offsets && got < max; got++)
			if (offsets != NULL)
				offsets[got] = rep->alloc->offsets[got];
	if (n != NULL)
		*n = got;
	allocd__reply__free_unpacked(rep, NULL);
	return status;
}

int raw_alloc(int fd, uint64_t id, const char *pool, uint64_t count, uint64_t *offsets)
{
	return raw_alloc_lease(fd, id, pool, count, 0, 0, offsets, count, NULL);
}

Allocd__Reply *raw_daemon_status(int fd, uint64_t id)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Status s = ALLOCD__STATUS__INIT;
	Allocd__Reply *rep;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_STATUS;
	r.status = &s;
	rep = raw_call(fd, &r);
	if (rep != NULL && (rep->status != 0 || rep->status_info == NULL)) {
		allocd__reply__free_unpacked(rep, NULL);
		rep = NULL;
	}
	return rep;
}

/* Send r, read its reply; the reply's status, or -1. */
static int raw_status(int fd, const Allocd__Request *r)
{
	Allocd__Reply *rep = raw_call(fd, r);
	int status;

	if (rep == NULL)
		return -1;
	status = rep->status;
	allocd__reply__free_unpacked(rep, NULL);
	return status;
}

int raw_free(int fd, uint64_t id, const char *name, uint64_t n, const uint64_t *offsets)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Free f = ALLOCD__FREE__INIT;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_FREE;
	r.free = &f;
	f.name = (char *) name;
	f.n_offsets = n;
	f.offsets = (uint64_t *) offsets;
	return raw_status(fd, &r);
}

int raw_retain(int fd, uint64_t id, const char *name, uint64_t n, const uint64_t *offsets)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Retain t = ALLOCD__RETAIN__INIT;

	r.version = 1;
	r.id = id;
	r.body_case = ALLOCD__REQUEST__BODY_RETAIN;
	r.retain = &t;
	t.name = (char *) name;
	t.n_offsets = n;
	t.offsets = (uint64_t *) offsets;
	return raw_status(fd, &r);
}
