/*
 * mc_call.c -- one request, one reply: framing (4-byte little-endian length,
 * then one protobuf message), a bounded decoder, and the rules that turn
 * what the socket does into return codes.
 *
 * Invariant: between two exchanges the stream is at a frame boundary with no
 * reply pending, unless c->broken is set. Any failure that could leave it
 * elsewhere (a short read or write, a frame this library refuses) sets
 * c->broken, and from then on every call fails at once with -ECONNRESET:
 * nothing ever waits on a stream that cannot be trusted.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/mc_internal.h"

/*
 * Decoding expands a frame: every submessage becomes a struct of up to
 * ~150 bytes plus a pointer, from as little as 2 bytes on the wire, and the
 * decoder keeps a ~32-byte record per field while it scans. 128 times the
 * frame, plus some slack, covers any reply; past it the decode fails with
 * -EBADMSG instead of taking memory without end.
 */
#define DECODE_FACTOR 128u
#define DECODE_SLACK  (64u << 10)

union block_head {
	size_t size;
	max_align_t align;
};

static void *decoder_alloc(void *data, size_t size)
{
	mc_client_t *c = data;
	union block_head *h;

	if (size > c->decode_cap - c->decoded)
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (h == NULL)
		return NULL;
	h->size = size;
	c->decoded += size;
	return h + 1;
}

static void decoder_free(void *data, void *p)
{
	mc_client_t *c = data;
	union block_head *h;

	if (p == NULL)
		return;
	h = (union block_head *) p - 1;
	c->decoded -= h->size;
	free(h);
}

void mc__init_transport(mc_client_t *c, int fd)
{
	c->fd = fd;
	c->max_frame = MC_FRAME_MIN;
	c->decoder.alloc = decoder_alloc;
	c->decoder.free = decoder_free;
	c->decoder.allocator_data = c;
}

int mc__check_name(const char *name)
{
	return name != NULL && strnlen(name, MC_NAME_MAX + 1) <= MC_NAME_MAX ? 0 : -EINVAL;
}

void mc__copy_name(char dst[MC_NAME_MAX + 1], const char *src)
{
	size_t n = strnlen(src, MC_NAME_MAX);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int mc__set_broken(mc_client_t *c, int rc)
{
	c->broken = true;
	return rc;
}

static int buf_reserve(mc_client_t *c, size_t n)
{
	uint8_t *p;

	if (n <= c->bufcap)
		return 0;
	p = realloc(c->buf, n);
	if (p == NULL)
		return -ENOMEM;
	c->buf = p;
	c->bufcap = n;
	return 0;
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * The descriptors that came with msg: into fds (up to max, counted in
 * *nfds), or closed when fds is NULL -- a descriptor nobody asked for must
 * not leak into the process. When fds were wanted, a truncated control
 * message or more than max descriptors is -EPROTO (the extra ones are
 * closed; the kernel already closed what did not fit).
 */
static int take_fds(struct msghdr *msg, int *fds, size_t *nfds, size_t max)
{
	int rc = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fds != NULL && *nfds < max) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				if (fds != NULL)
					rc = -EPROTO;
			}
		}
	}
	if (fds != NULL && (msg->msg_flags & MSG_CTRUNC))
		rc = -EPROTO;
	return rc;
}

/* Exactly len bytes into p; descriptors as in take_fds. -ECONNRESET at end
 * of stream. */
static int recv_all(int sock, uint8_t *p, size_t len, int *fds, size_t *nfds, size_t max)
{
	union {
		char buf[CMSG_SPACE(MC_MAX_HELLO_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t got = 0;

	while (got < len) {
		struct iovec iov = {.iov_base = p + got, .iov_len = len - got};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		rc = take_fds(&msg, fds, nfds, max);
		if (rc < 0)
			return rc;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t) n;
	}
	return 0;
}

/* MSG_NOSIGNAL: a daemon that is gone is -EPIPE, never SIGPIPE. */
static int send_all(int sock, const uint8_t *p, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(sock, p + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		sent += (size_t) n;
	}
	return 0;
}

/* One frame of at most cap bytes into c->buf; its length in *len. */
static int recv_frame(mc_client_t *c, uint32_t cap, uint32_t *len, int *fds, size_t *nfds)
{
	uint8_t head[MC_FRAME_HEADER];
	int rc;

	rc = recv_all(c->fd, head, sizeof(head), fds, nfds, MC_MAX_HELLO_FDS);
	if (rc < 0)
		return rc;
	*len = (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 |
	       (uint32_t) head[3] << 24;
	if (*len > cap)
		return -EPROTO;
	rc = buf_reserve(c, *len ? *len : 1);
	if (rc < 0)
		return rc;
	return recv_all(c->fd, c->buf, *len, fds, nfds, MC_MAX_HELLO_FDS);
}

/*
 * Send req, read and decode one reply frame of at most cap bytes, check its
 * envelope. Returns 0 with *out (whatever its status), or a negative errno;
 * every failure after the first byte was sent breaks the client.
 */
static int exchange(mc_client_t *c, Allocd__Request *req, uint32_t cap, int *fds, size_t *nfds,
		    Allocd__Reply **out)
{
	Allocd__Reply *r;
	uint32_t len;
	size_t n;
	int rc, sent;

	req->version = MC_PROTOCOL_VERSION;
	req->id = ++c->next_id;
	n = allocd__request__get_packed_size(req);
	/* Calls are split so that this never happens; if it did, the daemon
	 * would hang up, so refuse before sending. */
	if (n > c->max_frame)
		return -E2BIG;
	rc = buf_reserve(c, MC_FRAME_HEADER + n);
	if (rc < 0)
		return rc;
	c->buf[0] = (uint8_t) n;
	c->buf[1] = (uint8_t) (n >> 8);
	c->buf[2] = (uint8_t) (n >> 16);
	c->buf[3] = (uint8_t) (n >> 24);
	allocd__request__pack(req, c->buf + MC_FRAME_HEADER);
	sent = send_all(c->fd, c->buf, MC_FRAME_HEADER + n);
	/* Any other send error leaves a live daemon without the request: a
	 * read would wait for ever. A peer that hung up may have said why
	 * first (a daemon at max_clients answers -EUSERS and closes before
	 * reading the hello), and that answer is still there to read. */
	if (sent < 0 && sent != -EPIPE && sent != -ECONNRESET)
		return mc__set_broken(c, sent);
	rc = recv_frame(c, cap, &len, fds, nfds);
	if (rc < 0)
		return mc__set_broken(c, sent < 0 ? sent : rc);
	c->decoded = 0;
	c->decode_cap = (size_t) len * DECODE_FACTOR + DECODE_SLACK;
	r = allocd__reply__unpack(&c->decoder, len, c->buf);
	if (r == NULL)
		return mc__set_broken(c, -EBADMSG);
	if (r->version != MC_PROTOCOL_VERSION) {
		rc = -EPROTO;
	} else if (r->id != req->id) {
		/* The daemon's unsolicited errors (id 0) come just before it
		 * hangs up; their status says why. */
		rc = r->status < 0 ? r->status : -EPROTO;
	} else if (r->status > 0) {
		rc = -EPROTO;
	} else {
		*out = r;
		return 0;
	}
	allocd__reply__free_unpacked(r, &c->decoder);
	return mc__set_broken(c, rc);
}

/* The reply's status; on 0 *reply, after checking its body kind. */
static int settle(mc_client_t *c, Allocd__Reply *r, Allocd__Reply__BodyCase want,
		  Allocd__Reply **reply)
{
	int rc = r->status;

	if (rc == 0 && want != ALLOCD__REPLY__BODY__NOT_SET && r->body_case != want)
		rc = mc__set_broken(c, -EPROTO);
	if (rc < 0) {
		allocd__reply__free_unpacked(r, &c->decoder);
		return rc;
	}
	*reply = r;
	return 0;
}

int mc__call(mc_client_t *c, Allocd__Request *req, Allocd__Reply__BodyCase want,
	     Allocd__Reply **reply)
{
	Allocd__Reply *r;
	int rc;

	if (c->broken)
		return -ECONNRESET;
	rc = exchange(c, req, c->max_frame, NULL, NULL, &r);
	return rc < 0 ? rc : settle(c, r, want, reply);
}

int mc__call_hello(mc_client_t *c, Allocd__Request *req, Allocd__Reply **reply, int *fds,
		   size_t *nfds)
{
	Allocd__Reply *r;
	int rc;

	*nfds = 0;
	rc = exchange(c, req, MC_FRAME_CAP_HELLO, fds, nfds, &r);
	if (rc == 0)
		rc = settle(c, r, ALLOCD__REPLY__BODY_HELLO, reply);
	if (rc < 0) {
		close_fds(fds, *nfds);
		*nfds = 0;
	}
	return rc;
}

void mc__reply_free(mc_client_t *c, Allocd__Reply *reply)
{
	allocd__reply__free_unpacked(reply, &c->decoder);
}
