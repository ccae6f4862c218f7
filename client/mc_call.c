/*
 * mc_call.c -- the pipelined transport: framing (4-byte little-endian
 * length, then one protobuf message), a bounded decoder, requests in flight
 * matched to their replies, and the rules that turn what the socket does
 * into return codes.
 *
 * Invariants: the stream is at a frame boundary whenever c->lock is free,
 * and the daemon owes exactly one reply per pending entry, in order, unless
 * c->broken is set. Any failure that could leave it elsewhere (a short read
 * or write, a frame this library refuses, a reply for another request) sets
 * c->broken, hangs up and completes every pending entry with the error;
 * from then on every call fails at once with -ECONNRESET: nothing ever
 * waits on a stream that cannot be trusted.
 *
 * Timeouts: the socket's SO_RCVTIMEO and SO_SNDTIMEO (mc_timeout.c) make a
 * send or receive that waits too long fail with EAGAIN, which is
 * -ETIMEDOUT here and breaks the client like any short read or write.
 *
 * Restarts: a connection that ends (EOF, ECONNRESET, EPIPE) while the
 * session is resumable is not a break. What the dead daemon wrote whole is
 * read first (its replies complete their requests as usual), then the
 * session is resumed on a new connection (mc__reattach), the requests the
 * daemon says it applied (id < applied_id) are completed here without a
 * reply, and the others are sent again as they were, in order: their
 * replies then come as usual, and the caller that waits never knew. Each
 * request's packed bytes stay in c->frames until its reply came, for that.
 *
 * Bound: the daemon stops reading a connection whose unread replies reach
 * its max_output, and a client that keeps sending without reading would then
 * block in send() for ever. So a request is sent only while the replies it
 * may still be owed stay below max_output (each pending entry holds an upper
 * bound of its reply's size), and at most MC_INFLIGHT_MAX are in flight.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

	if (c->decoded > c->decode_cap || size > c->decode_cap - c->decoded)
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
	c->owner = getpid();
	c->max_frame = WIRE_FRAME_MIN;
	c->max_output = 2 * WIRE_FRAME_MIN;
	c->decoder.alloc = decoder_alloc;
	c->decoder.free = decoder_free;
	c->decoder.allocator_data = c;
}

int mc__check_name(const char *name)
{
	return name != NULL && strnlen(name, WIRE_NAME_MAX + 1) <= WIRE_NAME_MAX ? 0 : -EINVAL;
}

void mc__copy_name(char dst[WIRE_NAME_MAX + 1], const char *src)
{
	size_t n = strnlen(src, WIRE_NAME_MAX);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int mc__set_broken(mc_client_t *c, int rc)
{
	/* Hanging up makes the daemon drop every hold of this client when it
	 * next runs: a broken client cannot know what it holds, so nothing
	 * may stay held in its name. */
	if (!c->broken)
		shutdown(c->fd, SHUT_RDWR);
	c->broken = true;
	return rc;
}

/* A send or receive that failed with errno e: the timeout of the socket
 * (mc_timeout.c) says EAGAIN. */
static int io_error(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK ? -ETIMEDOUT : -e;
}

/* Keep the daemon's text of an error reply (cut to fit). */
static void keep_why(mc_client_t *c, const Allocd__Reply *r)
{
	const char *e = r->error != NULL ? r->error : "";
	size_t n = strnlen(e, sizeof(c->why) - 1);

	memcpy(c->why, e, n);
	c->why[n] = '\0';
}

int mc__why(mc_client_t *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return rc;
}

/* Room for n bytes in *buf of *cap. */
static int reserve(uint8_t **buf, size_t *cap, size_t n)
{
	uint8_t *p;

	if (n <= *cap)
		return 0;
	p = realloc(*buf, n);
	if (p == NULL)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static int buf_reserve(mc_client_t *c, size_t n)
{
	return reserve(&c->buf, &c->bufcap, n);
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * The descriptors that came with msg: into fds (up to max, counted in
 * *nfds), or closed when fds is NULL -- a descriptor nobody asked for must
 * not leak into the process. When fds were wanted, more than max
 * descriptors is -EPROTO (the extra ones are closed) and a truncated
 * control message -EMFILE (the kernel already closed what did not fit).
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
	/* ctl has room for the most descriptors a hello may bring, so a cut
	 * means the kernel could not install them all: this process has no
	 * free descriptor left (RLIMIT_NOFILE), not a daemon gone wrong. */
	if (fds != NULL && (msg->msg_flags & MSG_CTRUNC))
		rc = -EMFILE;
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
			return io_error(errno);
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
			return io_error(errno);
		sent += (size_t) n;
	}
	return 0;
}

/* One frame of at most cap bytes from fd into c->buf; its length in *len. */
static int recv_frame(mc_client_t *c, int fd, uint32_t cap, uint32_t *len, int *fds, size_t *nfds)
{
	uint8_t head[WIRE_HEADER];
	int rc;

	rc = recv_all(fd, head, sizeof(head), fds, nfds, MC_MAX_HELLO_FDS);
	if (rc < 0)
		return rc;
	*len = wire_header_get(head);
	if (!wire_len_fits(*len, cap))
		return -EPROTO;
	rc = buf_reserve(c, *len ? *len : 1);
	if (rc < 0)
		return rc;
	return recv_all(fd, c->buf, *len, fds, nfds, MC_MAX_HELLO_FDS);
}

static struct mc_pending *pending_at(mc_client_t *c, unsigned i)
{
	return &c->pending[(c->phead + i) % MC_INFLIGHT_MAX];
}

static struct mc_frame *frame_at(mc_client_t *c, unsigned i)
{
	return &c->frames[(c->phead + i) % MC_INFLIGHT_MAX];
}

/* Take the oldest entry off the pipeline, into *p. */
static void pending_pop(mc_client_t *c, struct mc_pending *p)
{
	*p = c->pending[c->phead];
	c->phead = (c->phead + 1) % MC_INFLIGHT_MAX;
	c->npending--;
	c->inflight -= p->expect;
	c->leasing -= p->leases;
}

/*
 * Break the client with rc and complete every pending entry with it (an
 * async free or retain records it for mc_flush; a refill is dropped). The
 * synchronous entry, if any, has no completion: its caller gets rc back.
 * Returns rc.
 */
static int fail_all(mc_client_t *c, int rc)
{
	struct mc_pending p;

	mc__set_broken(c, rc);
	while (c->npending > 0) {
		pending_pop(c, &p);
		if (p.done != NULL)
			p.done(c, &p, rc, NULL);
	}
	return rc;
}

/*
 * The reply frame of len bytes in c->buf, to the oldest pending entry: its
 * completion, or, for the synchronous entry, *sync. Returns 1 when *sync was
 * set, 0 after a completion ran, or an error (the client is then broken,
 * every entry failed).
 */
static int deliver(mc_client_t *c, uint32_t len, Allocd__Reply **sync)
{
	struct mc_pending p;
	Allocd__Reply *r;
	int rc;

	c->decode_cap = c->decoded + (size_t) len * DECODE_FACTOR + DECODE_SLACK;
	r = allocd__reply__unpack(&c->decoder, len, c->buf);
	if (r == NULL)
		return fail_all(c, -EBADMSG);
	if (r->version != WIRE_PROTOCOL_VERSION) {
		rc = -EPROTO;
	} else if (c->npending == 0 || r->id != pending_at(c, 0)->id) {
		/* The daemon's unsolicited errors (id 0) come just before it
		 * hangs up; their status and text say why. */
		rc = r->status < 0 ? r->status : -EPROTO;
		if (r->status < 0)
			keep_why(c, r);
	} else if (r->status > 0) {
		rc = -EPROTO;
	} else {
		pending_pop(c, &p);
		if (p.done == NULL) {
			*sync = r;
			return 1;
		}
		if (r->status < 0) {
			rc = r->status;
			allocd__reply__free_unpacked(r, &c->decoder);
			p.done(c, &p, rc, NULL);
		} else {
			p.done(c, &p, 0, r);
		}
		return 0;
	}
	allocd__reply__free_unpacked(r, &c->decoder);
	return fail_all(c, rc);
}

/* The connection ended, not by a word of the daemon: a restart, maybe. */
static bool lost(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE;
}

static int resume(mc_client_t *c);

/*
 * Read one reply frame of at most cap bytes and deliver it. Returns as
 * deliver does; a lost connection of a resumable session is resumed (0:
 * the pipeline was sent again, read on).
 */
static int pump_one(mc_client_t *c, uint32_t cap, int *fds, size_t *nfds, Allocd__Reply **sync)
{
	uint32_t len;
	int rc;

	rc = recv_frame(c, c->fd, cap, &len, fds, nfds);
	if (rc < 0 && lost(rc) && c->resumable && !c->broken)
		return resume(c);
	if (rc < 0)
		return fail_all(c, rc);
	return deliver(c, len, sync);
}

/* The replies the dead daemon wrote whole are in the socket still: they
 * complete their requests before anything is sent again. Only async
 * entries can be answered here (a synchronous request is the last one
 * sent, and is being sent or its reply was read to the end of the
 * stream). */
static int drain(mc_client_t *c)
{
	Allocd__Reply *sync = NULL;
	uint32_t len;
	int rc = 0;

	while (rc == 0 && c->npending > 0 &&
	       recv_frame(c, c->fd, c->max_frame, &len, NULL, NULL) == 0)
		rc = deliver(c, len, &sync);
	if (rc == 1) {
		allocd__reply__free_unpacked(sync, &c->decoder);
		return fail_all(c, -EPROTO);
	}
	return rc;
}

/*
 * After the resume hello: complete the requests the daemon applied (their
 * replies are lost: 0, or the failed status for failed_id) and send the
 * others again, in order. 0, a lost connection (resume again), or an error
 * that broke the client.
 */
static int resend(mc_client_t *c, const struct mc_resumed *rs)
{
	struct mc_pending p;
	int rc;

	/* The daemon cannot have applied what was never sent. */
	if (rs->applied_id > c->next_id)
		return fail_all(c, mc__why(c, -EPROTO, "resumed: applied_id %llu was never sent",
					   (unsigned long long) rs->applied_id));
	while (c->npending > 0 && pending_at(c, 0)->id < rs->applied_id) {
		pending_pop(c, &p);
		/* The synchronous request is the last sent: never applied
		 * before a later one. */
		if (p.done == NULL)
			return fail_all(c, -EPROTO);
		if (p.id == rs->failed_id)
			p.done(c, &p, rs->failed_status < 0 ? rs->failed_status : -EIO, NULL);
		else
			p.done(c, &p, 0, NULL);
	}
	for (unsigned i = 0; i < c->npending; i++) {
		const struct mc_frame *f = frame_at(c, i);

		rc = send_all(c->fd, f->data, f->len);
		if (rc < 0)
			return lost(rc) ? rc : fail_all(c, rc);
	}
	return 0;
}

/* The deadline of a resume: the client's timeout from now. */
static void resume_deadline(const mc_client_t *c, struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	if (c->timeout_ms == MC_TIMEOUT_NONE)
		return;
	t->tv_sec += c->timeout_ms / 1000;
	t->tv_nsec += (long) (c->timeout_ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* The connection is lost; resume the session or break the client. 0 once
 * the pipeline was sent again on a new connection. */
static int resume(mc_client_t *c)
{
	struct mc_resumed rs;
	struct timespec deadline;
	int rc;

	resume_deadline(c, &deadline);
	for (;;) {
		rc = drain(c);
		if (rc < 0)
			return rc;
		rc = mc__reattach(c, &deadline, &rs);
		if (rc < 0)
			return fail_all(c, rc);
		rc = resend(c, &rs);
		if (!lost(rc))
			return rc;
	}
}

int mc__wait(mc_client_t *c, unsigned left)
{
	Allocd__Reply *r = NULL;
	int rc;

	while (c->npending > left) {
		if (c->broken)
			return fail_all(c, -ECONNRESET);
		rc = pump_one(c, c->max_frame, NULL, NULL, &r);
		if (rc < 0)
			return rc;
		/* Only a waiting caller sends a synchronous request, and it
		 * reads its own reply. */
		if (rc == 1) {
			allocd__reply__free_unpacked(r, &c->decoder);
			return fail_all(c, -EPROTO);
		}
	}
	return 0;
}

/* Wait until a request that may bring expect reply bytes fits in the
 * pipeline (an empty pipeline takes anything). */
static int make_room(mc_client_t *c, uint32_t expect)
{
	while (c->npending > 0 &&
	       (c->npending >= MC_INFLIGHT_MAX || c->inflight + expect >= c->max_output)) {
		int rc = mc__wait(c, c->npending - 1);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Pack req with the next id into its frame and send it, recorded as a
 * pending entry like tmpl. A send the daemon did not get whole breaks the
 * client, except that a daemon which hung up (-EPIPE, -ECONNRESET) may have
 * said why first (a daemon at max_clients answers -EUSERS and closes before
 * reading the hello): when keep_reading, that is left for the reader to
 * find and the error is returned in *sent. Otherwise a resumable session
 * is resumed, which sends this request again with the others.
 */
static int send_request(mc_client_t *c, Allocd__Request *req, const struct mc_pending *tmpl,
			bool keep_reading, int *sent)
{
	struct mc_pending *p;
	struct mc_frame *f;
	size_t n;
	int rc;

	req->version = WIRE_PROTOCOL_VERSION;
	req->id = c->next_id + 1;
	n = allocd__request__get_packed_size(req);
	/* Calls are split so that this never happens; if it did, the daemon
	 * would hang up, so refuse before sending. */
	if (!wire_len_fits(n, c->max_frame))
		return -E2BIG;
	/* A refill's reply is all that says which blocks it leased, and a
	 * resumed daemon keeps the reply of the last request it applied
	 * only: nothing goes out behind a refill until its reply came, so
	 * that a restart can never lose it. */
	while (c->leasing > 0 && c->resumable) {
		rc = mc__wait(c, c->npending - 1);
		if (rc < 0)
			return rc;
	}
	f = frame_at(c, c->npending);
	rc = reserve(&f->data, &f->cap, WIRE_HEADER + n);
	if (rc < 0)
		return rc;
	c->next_id++;
	wire_header_put(f->data, (uint32_t) n);
	allocd__request__pack(req, f->data + WIRE_HEADER);
	f->len = WIRE_HEADER + n;
	p = pending_at(c, c->npending);
	*p = *tmpl;
	p->id = req->id;
	c->npending++;
	c->inflight += p->expect;
	c->leasing += p->leases;
	*sent = send_all(c->fd, f->data, f->len);
	if (*sent < 0 && lost(*sent) && keep_reading)
		return 0;
	if (*sent < 0 && lost(*sent) && c->resumable)
		return resume(c);
	if (*sent < 0)
		return fail_all(c, *sent);
	return 0;
}

int mc__send_async(mc_client_t *c, Allocd__Request *req, uint32_t expect,
		   const struct mc_pending *tmpl)
{
	struct mc_pending p = *tmpl;
	uint64_t before = c->next_id;
	int rc, sent;

	p.expect = expect;
	rc = c->broken ? -ECONNRESET : make_room(c, expect);
	if (rc == 0)
		rc = send_request(c, req, &p, false, &sent);
	/* Not queued (refused before sending, or the pipeline broke while
	 * waiting for room): nobody else will complete it. */
	if (rc < 0 && c->next_id == before)
		p.done(c, &p, rc, NULL);
	return rc;
}

/*
 * The synchronous exchange: send req, then read replies (completing the
 * earlier ones) up to its own, a frame of at most cap bytes. Returns 0 with
 * *out (whatever its status), or a negative errno.
 */
static int exchange(mc_client_t *c, Allocd__Request *req, uint32_t cap, int *fds, size_t *nfds,
		    Allocd__Reply **out)
{
	static const struct mc_pending sync;
	int rc, sent = 0;

	if (c->broken)
		return -ECONNRESET;
	rc = mc__send_batch(c);
	if (rc == 0)
		rc = make_room(c, 0);
	if (rc == 0)
		rc = send_request(c, req, &sync, true, &sent);
	while (rc == 0)
		rc = pump_one(c, cap, fds, nfds, out);
	/* A daemon that hung up on the request and said nothing: how the
	 * send failed says more than the end of stream. */
	if (rc == -ECONNRESET && sent < 0)
		return sent;
	return rc < 0 ? rc : 0;
}
/* The reply's status; on 0 *reply, after checking its body kind. */
static int settle(mc_client_t *c, Allocd__Reply *r, Allocd__Reply__BodyCase want,
		  Allocd__Reply **reply)
{
	int rc = r->status;

	if (rc == 0 && want != ALLOCD__REPLY__BODY__NOT_SET && r->body_case != want)
		rc = mc__set_broken(c, -EPROTO);
	else if (rc < 0)
		keep_why(c, r);
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

	rc = exchange(c, req, c->max_frame, NULL, NULL, &r);
	return rc < 0 ? rc : settle(c, r, want, reply);
}

int mc__call_hello(mc_client_t *c, Allocd__Request *req, Allocd__Reply **reply, int *fds,
		   size_t *nfds)
{
	Allocd__Reply *r;
	int rc;

	*nfds = 0;
	rc = exchange(c, req, WIRE_FRAME_MAX, fds, nfds, &r);
	if (rc == 0)
		rc = settle(c, r, ALLOCD__REPLY__BODY_HELLO, reply);
	if (rc < 0) {
		close_fds(fds, *nfds);
		*nfds = 0;
	}
	return rc;
}

int mc__hello_once(mc_client_t *c, int fd, Allocd__Request *req, Allocd__Reply **reply, int *fds,
		   size_t *nfds)
{
	uint8_t *frame = NULL;
	size_t cap = 0, n;
	Allocd__Reply *r;
	uint32_t len;
	int rc;

	*nfds = 0;
	req->version = WIRE_PROTOCOL_VERSION;
	req->id = ++c->next_id;
	n = allocd__request__get_packed_size(req);
	rc = wire_len_fits(n, c->max_frame) ? reserve(&frame, &cap, WIRE_HEADER + n) : -E2BIG;
	if (rc == 0) {
		wire_header_put(frame, (uint32_t) n);
		allocd__request__pack(req, frame + WIRE_HEADER);
		rc = send_all(fd, frame, WIRE_HEADER + n);
	}
	free(frame);
	if (rc == 0)
		rc = recv_frame(c, fd, WIRE_FRAME_MAX, &len, fds, nfds);
	if (rc < 0) {
		close_fds(fds, *nfds);
		*nfds = 0;
		return rc;
	}
	c->decode_cap = c->decoded + (size_t) len * DECODE_FACTOR + DECODE_SLACK;
	r = allocd__reply__unpack(&c->decoder, len, c->buf);
	if (r == NULL)
		rc = -EBADMSG;
	else if (r->version != WIRE_PROTOCOL_VERSION || r->status > 0)
		rc = -EPROTO;
	else if (r->status < 0 && (r->id == req->id || r->id == 0))
		rc = r->status; /* a refusal, or the daemon's word before it hangs up */
	else if (r->id != req->id || r->body_case != ALLOCD__REPLY__BODY_HELLO)
		rc = -EPROTO;
	if (r != NULL && rc < 0 && r->status < 0)
		keep_why(c, r);
	if (rc < 0) {
		if (r != NULL)
			allocd__reply__free_unpacked(r, &c->decoder);
		close_fds(fds, *nfds);
		*nfds = 0;
		return rc;
	}
	*reply = r;
	return 0;
}

void mc__reply_free(mc_client_t *c, Allocd__Reply *reply)
{
	allocd__reply__free_unpacked(reply, &c->decoder);
}

/* An AllocReply: its pool name, block size and n packed varint offsets of up
 * to 10 bytes each, with room for the envelope and an error text. */
uint32_t mc__alloc_reply_bytes(uint64_t n)
{
	return (uint32_t) (MC_HOLD_REPLY_BYTES + WIRE_NAME_MAX + 32u + 10u * n);
}
