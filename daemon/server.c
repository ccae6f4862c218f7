/*
 * server: the libuv event loop, the listening socket and one struct conn per
 * client (see server.h). The server owns its connections (conns, by session
 * slot); a session never points back at its connection. A conn's session is
 * NULL once closed, and the conn is freed when both of its handles are.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/sockios.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/bytes.h"
#include "daemon/dispatch.h"
#include "daemon/fdstore.h"
#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/reload.h"
#include "daemon/server.h"
#include "daemon/sockfile.h"

/* Bytes asked of the kernel per read when no larger frame is pending. */
#define READ_CHUNK 16384u

/* An output buffer bigger than this is freed once it is empty, so that a
 * client's one burst does not keep its memory for the connection's life;
 * below it, steady traffic reuses the buffer without allocating. */
#define OUT_KEEP 16384u

/* Descriptors kept free for the daemon's own use (a lease page memfd, the
 * client's /proc/PID/comm, libuv): a connection whose socket lands among
 * the last FD_SPARE of the open-file limit is refused with a reason. */
#define FD_SPARE 8u

/* How often the regions are checked for holes a member punched (see
 * region_holes), and how much is reserved again per loop pass meanwhile
 * (region_fill: about 4 ms of the loop's time). */
#define REGION_CHECK_MS  250u
#define REGION_FILL_STEP (UINT64_C(16) << 20)
#define PUNCH_LOG_MS     10000u

/* Requests of one connection handled per loop pass: the rest wait for the
 * next pass (srv->resume), so that a client pipelining thousands delays
 * the others by at most this many of its requests, not all of them. */
#define CONN_PASS_FRAMES 64u

/* Supplementary groups read without a heap buffer (most peers have few). */
#define PEER_GROUPS_INLINE 64u

/* A detached session's process (books.h), watched through its pidfd: its
 * exit ends the session in the loop pass that sees it. */
struct watch {
	uv_poll_t poll;
	struct server *srv;
	uint32_t slot;
	int fd;
	struct watch *next;
};

struct server {
	struct dispatch *x;
	struct daemon *d;    /* x->d */
	struct conn **conns; /* by session slot: max_clients entries */
	uv_loop_t loop;
	uv_pipe_t listener;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_idle_t wake;      /* runs conns starved by max_output_total again */
	uv_idle_t resume;    /* runs conns that used up their pass's share */
	uv_check_t pass_end; /* counts loop passes: pass */
	uint64_t pass;
	uint32_t yielded;       /* conns with yielded set */
	struct conn *lingering; /* closed, hello descriptors maybe unread */
	uint64_t output;        /* bytes queued in every conn's out and wbuf */
	uint32_t starved;       /* conns with starved set */
	bool fd_limit_logged;
	uv_signal_t sighup;
	uv_signal_t sigusr2;
	uv_timer_t region_check; /* every REGION_CHECK_MS: server_check_regions */
	uv_idle_t filler;        /* active while a region is being filled */
	struct sockfile sf;      /* the listener's file and lock */
	bool stopping;
	struct watch *watches; /* of the detached sessions */
};

struct conn {
	uv_pipe_t pipe;
	uv_timer_t hello_timer;
	uv_write_t wreq;
	struct server *srv;
	struct session *s;   /* NULL once closed */
	struct bytebuf wbuf; /* bytes handed to uv_write */
	bool writing;
	bool reading;
	bool closing; /* close once everything queued is written */
	bool eof;     /* the peer sends no more: answer, then close */
	bool starved; /* not read for max_output_total: srv->wake resumes it */
	bool paused_logged;
	bool unread_hello; /* its hello's descriptors may be in flight still */
	bool yielded;      /* CONN_PASS_FRAMES handled, more waiting: resume */
	uint64_t pass;     /* the pass frames counts in */
	uint32_t frames;   /* requests handled in that pass */
	uid_t uid;
	struct conn *next_lingering;
	size_t counted; /* its part of srv->output */
	int open_handles;
};

static void conn_process(struct conn *c);
static void server_unwatch(struct server *srv, uint32_t slot);
static void server_on_wake(uv_idle_t *h);
static void server_on_resume(uv_idle_t *h);
static void server_on_fill(uv_idle_t *h);

/* Look for holes punched in the regions' memory (region_holes) and start
 * filling them in the background (server_on_fill), saying so: the contents
 * there are lost and, on a hugepage region, a member touching them may be
 * killed by SIGBUS if another process takes the pages first. */
static void server_check_regions(struct server *srv)
{
	const struct object_table *t = &srv->d->table;
	char human[BYTES_BUF];
	int64_t missing;

	for (size_t i = 0; i < t->nregions; i++) {
		struct region *r = t->regions[i];

		if (r->gone || r->filling || (missing = region_holes(r)) == 0)
			continue;
		/* One line per PUNCH_LOG_MS at most, counting the others: a
		 * member punching all the time must not flood the log. */
		r->punched++;
		if (!r->fill_failed && (r->punch_log_ms == 0 ||
					uv_now(&srv->loop) - r->punch_log_ms >= PUNCH_LOG_MS)) {
			bytes_fmt((uint64_t) missing, BYTES_ROUNDED, human);
			log_warn("region '%s': %s of its memory had been punched out by a member "
				 "(fallocate PUNCH_HOLE or madvise MADV_REMOVE): reserving it "
				 "again, contents there lost (%llu time%s since the last line)",
				 r->cfg->name, human, (unsigned long long) r->punched,
				 r->punched == 1 ? "" : "s");
			r->punched = 0;
			r->punch_log_ms = uv_now(&srv->loop);
		}
		r->filling = true;
		r->fill_at = 0;
		if (!uv_is_active((uv_handle_t *) &srv->filler))
			uv_idle_start(&srv->filler, server_on_fill);
	}
}

/* One step of every region being filled, once per loop pass, so that other
 * clients are served between steps however large the region. */
static void server_on_fill(uv_idle_t *h)
{
	struct server *srv = h->data;
	const struct object_table *t = &srv->d->table;
	bool more = false;
	int rc;

	for (size_t i = 0; i < t->nregions; i++) {
		struct region *r = t->regions[i];

		if (!r->filling)
			continue;
		rc = region_fill(r, REGION_FILL_STEP);
		if (rc < 0) {
			/* Logged once, not at every retry; the next check retries. */
			if (!r->fill_failed)
				log_error(
				    "region '%s': memory punched out by a member cannot be "
				    "reserved again: %s; members touching it may be killed by "
				    "SIGBUS until it can",
				    r->cfg->name, strerror(-rc));
			r->fill_failed = true;
			r->filling = false;
		} else if (rc == 0 && r->fill_failed) {
			log_info("region '%s': its memory is reserved again", r->cfg->name);
			r->fill_failed = false;
		}
		more |= r->filling;
	}
	if (!more)
		uv_idle_stop(h);
}

static void server_on_region_check(uv_timer_t *t)
{
	server_check_regions(t->data);
}

/* Close callback for a connection that never became a session. */
static void conn_free_handle(uv_handle_t *h)
{
	free(h->data);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles == 0) {
		bytebuf_free(&c->wbuf);
		free(c);
	}
}

/*
 * Has the peer not yet read everything sent, the hello reply with its
 * descriptors included? Until it reads them, or closes its socket, the
 * kernel charges them to the daemon's user (SCM_RIGHTS in flight count
 * against the sender's RLIMIT_NOFILE). SIOCOUTQ: bytes the peer has not
 * consumed.
 */
static bool conn_hello_unread(struct conn *c)
{
	uv_os_fd_t fd;
	int queued;

	if (c->unread_hello && uv_fileno((uv_handle_t *) &c->pipe, &fd) == 0 &&
	    ioctl(fd, SIOCOUTQ, &queued) == 0 && queued == 0)
		c->unread_hello = false;
	return c->unread_hello;
}

static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char sink[4096];

	(void) h;
	(void) suggested;
	*buf = uv_buf_init(sink, sizeof(sink));
}

static void linger_drop(struct conn *c)
{
	struct conn **p = &c->srv->lingering;

	while (*p != c)
		p = &(*p)->next_lingering;
	*p = c->next_lingering;
	uv_close((uv_handle_t *) &c->pipe, conn_handle_closed);
}

/* A lingering peer's bytes are dropped; its hang-up ends the lingering. */
static void linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	(void) buf;
	if (nread < 0)
		linger_drop(st->data);
}

/* The session is over, but the peer has not read its hello's descriptors:
 * keep the socket (so that they stay counted against its uid, see
 * max_unread_hellos) until the peer reads them or hangs up. */
static void conn_linger(struct conn *c)
{
	uv_read_stop((uv_stream_t *) &c->pipe);
	c->reading = false;
	if (uv_read_start((uv_stream_t *) &c->pipe, linger_alloc, linger_read) < 0) {
		uv_close((uv_handle_t *) &c->pipe, conn_handle_closed);
		return;
	}
	c->next_lingering = c->srv->lingering;
	c->srv->lingering = c;
}

/* Connections of uid, open or lingering, whose hello descriptors are
 * unread; lingering ones found read are closed on the way. */
static uint32_t server_unread_hellos(struct server *srv, uid_t uid)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < srv->d->cfg.max_clients; i++)
		if (srv->conns[i] != NULL && srv->conns[i]->uid == uid &&
		    conn_hello_unread(srv->conns[i]))
			n++;
	for (struct conn *c = srv->lingering, *next; c != NULL; c = next) {
		next = c->next_lingering;
		if (!conn_hello_unread(c))
			linger_drop(c);
		else if (c->uid == uid)
			n++;
	}
	return n;
}

/* Keep srv->output the sum of what every open conn has queued, and wake the
 * starved ones once it is back under max_output_total. */
static void conn_account(struct conn *c)
{
	struct server *srv = c->srv;
	size_t now = c->s != NULL ? bytebuf_len(&c->s->out) + bytebuf_len(&c->wbuf) : 0;

	srv->output = srv->output - c->counted + now;
	c->counted = now;
	if (srv->starved > 0 && srv->output < srv->d->cfg.max_output_total)
		uv_idle_start(&srv->wake, server_on_wake);
}

static void conn_set_starved(struct conn *c, bool starved)
{
	if (c->starved != starved)
		c->srv->starved += starved ? 1 : (uint32_t) -1;
	c->starved = starved;
}

static void conn_set_yielded(struct conn *c, bool yielded)
{
	if (c->yielded != yielded)
		c->srv->yielded += yielded ? 1 : (uint32_t) -1;
	c->yielded = yielded;
	if (yielded)
		uv_idle_start(&c->srv->resume, server_on_resume);
}

/* Requests c may still have handled in this loop pass. */
static uint32_t conn_share(struct conn *c)
{
	if (c->pass != c->srv->pass) {
		c->pass = c->srv->pass;
		c->frames = 0;
	}
	return CONN_PASS_FRAMES - c->frames;
}

/* End the session now -- every hold is dropped in this loop pass -- and let
 * libuv release the handles. Idempotent. */
static void conn_close(struct conn *c)
{
	if (c->s == NULL)
		return;
	c->srv->conns[c->s->slot] = NULL;
	ops_end_session(&c->srv->x->ops, c->s);
	c->s = NULL;
	conn_set_starved(c, false);
	conn_set_yielded(c, false);
	conn_account(c);
	/* A member that punched a hole and left is the likeliest case. */
	server_check_regions(c->srv);
	uv_close((uv_handle_t *) &c->hello_timer, conn_handle_closed);
	if (conn_hello_unread(c) && !c->srv->stopping)
		conn_linger(c);
	else
		uv_close((uv_handle_t *) &c->pipe, conn_handle_closed);
}

/* Send the front of out with the memfds of every region the client may use,
 * then their shared bits, then its lease page (the hello reply is the first
 * byte ever written on the connection). */
static ssize_t conn_send_fds(struct conn *c)
{
	const struct object_table *l = &c->srv->d->table;
	struct bytebuf *out = &c->s->out;
	int fds[2 * WIRE_MAX_REGIONS + 1];
	size_t nfds = 0;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = out->data + out->head, .iov_len = bytebuf_len(out)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	uv_os_fd_t fd;
	ssize_t n;

	/* In the hello reply's order (hello_reply_build walks the same way):
	 * the regions, their shared bits, then the session's lease page -- the
	 * last two only to a client that asked for leases. */
	for (int bits = 0; bits < (c->s->leases ? 2 : 1); bits++)
		for (size_t i = 0; i < l->nregions; i++)
			if (session_may_use(c->s, l->regions[i]))
				fds[nfds++] = bits ? l->regions[i]->bits_ro_fd : l->regions[i]->fd;
	if (c->s->lease.fd >= 0)
		fds[nfds++] = c->s->lease.fd;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	if (uv_fileno((uv_handle_t *) &c->pipe, &fd) < 0)
		return -EBADF;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	lease_page_sent(&c->s->lease); /* the client has it; the mapping stays */
	c->unread_hello = nfds > 0;
	return n;
}

static void conn_on_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	c->writing = false;
	c->wbuf.head = c->wbuf.tail = 0;
	if (c->wbuf.cap > OUT_KEEP)
		bytebuf_free(&c->wbuf);
	if (c->s == NULL)
		return; /* closed meanwhile: libuv cancelled the write */
	conn_account(c);
	if (status < 0) {
		conn_close(c);
		return;
	}
	conn_process(c);
}

/* Write what is queued: directly if the socket takes it, else through
 * uv_write from the second buffer. Returns 0 or -1 if c was closed. */
static int conn_flush(struct conn *c)
{
	struct bytebuf *out = &c->s->out;
	uv_buf_t b;
	ssize_t n;

	if (c->writing)
		return 0;
	if (c->s->fds_pending && bytebuf_len(out) > 0) {
		/* Nothing was written before, so the socket buffer is empty; a
		 * refusal here is a dead peer, not back-pressure. */
		/* Greeted before the reply goes: killed in between, the
		 * session waits for a client that never got its token (until
		 * that process exits) -- never the other way round, a client
		 * with a token whose session a takeover reclaimed. */
		ledger_sess_greeted(&c->srv->d->books, c->s->slot);
		n = conn_send_fds(c);
		if (n <= 0) {
			/* A client that went before reading its hello reply is no
			 * fault of anyone's; anything else is worth a warning. */
			if (n == -EPIPE || n == -ECONNRESET)
				session_log(c->s, LOG_DEBUG, "gone during its hello");
			else
				session_log_final(
				    c->s, LOG_WARN,
				    "cannot send the region memfds: %s: disconnecting",
				    strerror(n < 0 ? (int) -n : EIO));
			conn_close(c);
			return -1;
		}
		c->s->fds_pending = false;
		bytebuf_consume(out, (size_t) n);
	}
	if (bytebuf_len(out) > 0) {
		b = uv_buf_init((char *) out->data + out->head, (unsigned) bytebuf_len(out));
		n = uv_try_write((uv_stream_t *) &c->pipe, &b, 1);
		if (n == UV_EAGAIN)
			n = 0;
		if (n < 0) {
			conn_close(c);
			return -1;
		}
		bytebuf_consume(out, (size_t) n);
	}
	if (bytebuf_len(out) > 0) {
		bytebuf_swap(out, &c->wbuf);
		b = uv_buf_init((char *) c->wbuf.data + c->wbuf.head,
				(unsigned) bytebuf_len(&c->wbuf));
		c->wreq.data = c;
		if (uv_write(&c->wreq, (uv_stream_t *) &c->pipe, &b, 1, conn_on_write) < 0) {
			conn_close(c);
			return -1;
		}
		c->writing = true;
	}
	if (bytebuf_len(out) == 0 && out->cap > OUT_KEEP)
		bytebuf_free(out);
	if (c->closing && !c->writing) {
		conn_close(c);
		return -1;
	}
	return 0;
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	struct bytebuf *in = &c->s->in;
	/* Room for the whole of a frame whose header has arrived. */
	size_t missing = wire_frame_missing(in, c->srv->d->cfg.max_frame);
	size_t want = missing > READ_CHUNK ? missing : READ_CHUNK;

	(void) suggested;
	if (bytebuf_reserve(in, want) < 0) {
		*buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
		return;
	}
	*buf = uv_buf_init((char *) in->data + in->tail, (unsigned) (in->cap - in->tail));
}

static void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	(void) buf;
	if (c->s == NULL)
		return;
	if (nread == UV_EOF) {
		/* Maybe only shutdown(SHUT_WR): what it sent is still owed an
		 * answer. */
		c->eof = true;
		uv_read_stop(st);
		c->reading = false;
		conn_process(c);
		return;
	}
	if (nread < 0) {
		session_log(c->s, LOG_DEBUG, "%s", uv_strerror((int) nread));
		conn_close(c);
		return;
	}
	c->s->in.tail += (size_t) nread;
	conn_process(c);
}

/*
 * How far c's out may fill in this pass: up to max_output; and while the
 * replies of all clients together are under max_output_total, or else only
 * for a client with nothing queued at all, by one reply. So a client that
 * reads its replies is always served, and clients that do not read cannot
 * make the daemon hold more than the bound in allocatord(8).
 */
static size_t conn_output_limit(const struct conn *c)
{
	const struct config *cfg = &c->srv->d->cfg;
	size_t out = bytebuf_len(&c->s->out);
	uint64_t total = c->srv->output;

	if (out >= cfg->max_output)
		return out;
	if (total < cfg->max_output_total) {
		uint64_t room = cfg->max_output_total - total;

		return room < cfg->max_output - out ? out + (size_t) room : cfg->max_output;
	}
	return out + bytebuf_len(&c->wbuf) == 0 ? 1 : out;
}

/* Read only while the client keeps up with its replies, the daemon's
 * output budget has room for its next ones, and no request read is still
 * waiting for that room (else c->in would grow by a read each time). */
static void conn_update_reading(struct conn *c)
{
	size_t out = bytebuf_len(&c->s->out);
	size_t limit = conn_output_limit(c);
	bool want = !c->closing && !c->eof && limit > out && !dispatch_has_frame(c->srv->x, c->s);

	/* Held up by the others' replies, not by its own max_output. */
	conn_set_starved(c,
			 !c->closing && !c->eof && limit <= out && out < c->srv->d->cfg.max_output);
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *) &c->pipe, conn_on_alloc, conn_on_read) == 0)
			c->reading = true;
		c->paused_logged = false;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *) &c->pipe);
		c->reading = false;
	}
	/* Held up for lack of room (maybe after a pass whose share it used
	 * up had stopped the reading already): said once per pause. */
	if (!c->closing && !c->eof && limit <= out && !c->paused_logged) {
		session_log(c->s, LOG_WARN,
			    c->starved ? "replies of all clients over max_output_total, its own "
					 "unread: stopped reading from it"
				       : "not reading its replies: stopped reading from it");
		c->paused_logged = true;
	}
}

/* Answer what is in, write what is out, then read on or close. */
static void conn_process(struct conn *c)
{
	int rc;

	/* Everything sent before this pass may be read by now: once the
	 * peer's queue is empty, its hello descriptors are received (later,
	 * the queue holds other replies too and cannot tell). */
	conn_hello_unread(c);
	for (;;) {
		/* Before its hello: may its uid have one more unread? */
		if (!c->s->hello_done) {
			uint32_t max = c->srv->d->cfg.max_unread_hellos;
			uint32_t n = server_unread_hellos(c->srv, c->uid);

			c->s->hello_refusal[0] = '\0';
			if (n >= max)
				snprintf(
				    c->s->hello_refusal, sizeof(c->s->hello_refusal),
				    "uid %u has %u hello replies unread (max_unread_hellos %u)",
				    (unsigned) c->uid, n, max);
		}
		if (!c->closing) {
			uint32_t n = conn_share(c), slot = c->s->slot;

			rc = dispatch_some(c->srv->x, c->s, conn_output_limit(c), &n);
			c->frames += n;
			if (c->s->slot != slot) {
				/* It resumed a detached session: its slot now. */
				c->srv->conns[slot] = NULL;
				c->srv->conns[c->s->slot] = c;
				server_unwatch(c->srv, c->s->slot);
			}
			if (c->s->hello_done)
				uv_timer_stop(&c->hello_timer);
			if (rc < 0)
				c->closing = true;
		}
		if (conn_flush(c) < 0)
			return; /* closed */
		conn_account(c);
		if (c->closing)
			return; /* conn_flush closes it once written */
		/* The flush made room for requests already read: go on with
		 * them in this pass, or in the next once its share is used
		 * (not reading meanwhile: conn_update_reading). */
		if (dispatch_has_frame(c->srv->x, c->s) &&
		    conn_output_limit(c) > bytebuf_len(&c->s->out)) {
			if (conn_share(c) > 0)
				continue;
			conn_set_yielded(c, true);
		}
		if (!c->eof) {
			conn_update_reading(c);
			return;
		}
		/* The peer has shut down its side: answer every whole request
		 * it sent, then close. With replies still queued, conn_on_write
		 * comes back here. */
		if (!c->writing && bytebuf_len(&c->s->out) == 0 &&
		    !dispatch_has_frame(c->srv->x, c->s))
			conn_close(c);
		return;
	}
}

/* The output budget has room again: go on with the clients it held up. */
static void server_on_wake(uv_idle_t *h)
{
	struct server *srv = h->data;

	uv_idle_stop(h);
	for (uint32_t i = 0; i < srv->d->cfg.max_clients; i++) {
		struct conn *c = srv->conns[i];

		if (srv->output >= srv->d->cfg.max_output_total)
			break; /* conn_account starts the idle again */
		if (c != NULL && c->starved) {
			conn_set_starved(c, false);
			conn_process(c);
		}
	}
}

/* A new pass: the conns that used up their share in the last one go on. */
static void server_on_resume(uv_idle_t *h)
{
	struct server *srv = h->data;

	uv_idle_stop(h);
	for (uint32_t i = 0; i < srv->d->cfg.max_clients && srv->yielded > 0; i++) {
		struct conn *c = srv->conns[i];

		/* Set again by conn_process if it uses this pass's share too. */
		if (c != NULL && c->yielded && c->pass != srv->pass) {
			conn_set_yielded(c, false);
			conn_process(c);
		}
	}
}

static void server_on_pass_end(uv_check_t *h)
{
	((struct server *) h->data)->pass++;
}

static void conn_on_hello_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;

	session_log_final(c->s, LOG_WARN, "no hello within %u ms: disconnecting",
			  c->srv->d->cfg.hello_timeout_ms);
	conn_close(c);
}

/* Peer credentials from the kernel. Supplementary groups: first into
 * stack[max]; a peer with more (SO_PEERGROUPS fails with ERANGE and says how
 * many bytes it needs) gets a heap buffer, *heap, that the caller frees. If
 * they cannot be read the peer is judged on its uid and gid alone -- fewer
 * rights, never more -- and the log says so. */
static void peer_creds(int fd, struct session_creds *cr, gid_t *stack, size_t max, gid_t **heap)
{
	struct ucred uc = {.pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1};
	socklen_t len = sizeof(uc);
	gid_t *groups = stack;
	int rc;

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len);
	cr->pid = uc.pid;
	cr->uid = uc.uid;
	cr->gid = uc.gid;
	*heap = NULL;
	len = (socklen_t) (max * sizeof(*groups));
	rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	if (rc < 0 && errno == ERANGE) {
		*heap = malloc(len);
		groups = *heap;
		rc = groups == NULL ? -1 : getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
		if (groups == NULL)
			errno = ENOMEM;
	}
	cr->groups = groups;
	cr->ngroups = rc == 0 ? len / sizeof(*groups) : 0;
	if (rc < 0)
		log_warn("client pid %d uid %u: cannot read its supplementary groups (%s): "
			 "judging it by uid %u and gid %u only",
			 (int) uc.pid, (unsigned) uc.uid, strerror(errno), (unsigned) uc.uid,
			 (unsigned) uc.gid);
}

/* The start line, counted as memctl status counts: pools and heaps are a
 * region's objects, groups stand beside them. */
static void log_serving(const struct daemon *d)
{
	size_t regions = 0, pools = 0, heaps = 0, groups = 0;

	/* Not the tombstones a takeover keeps for the books' indices. */
	for (size_t i = 0; i < d->table.nregions; i++)
		regions += !d->table.regions[i]->gone;
	for (size_t i = 0; i < d->table.nobjects; i++) {
		enum obj_kind k = d->table.objects[i]->kind;
		bool live = !d->table.objects[i]->gone;

		pools += live && k == OBJ_POOL;
		heaps += live && k == OBJ_HEAP;
		groups += live && k == OBJ_GROUP;
	}
	log_info("serving %zu region%s (%zu pool%s, %zu heap%s), %zu group%s on %s (pid %d)",
		 regions, log_s(regions), pools, log_s(pools), heaps, log_s(heaps), groups,
		 log_s(groups), d->socket_path, (int) getpid());
}

/* Past a connection limit (rc and the reason msg): say why, then hang up.
 * Logged when log is true. */
static void server_refuse(struct server *srv, uv_pipe_t *p, const struct session_creds *cr, int rc,
			  const char *msg, bool log)
{
	struct bytebuf out = {0};
	uv_buf_t b;

	if (log)
		log_warn("refusing client pid %d uid %u: %s", (int) cr->pid, (unsigned) cr->uid,
			 msg);
	if (dispatch_error_frame(&out, srv->d->cfg.max_frame, rc, msg) == 0) {
		b = uv_buf_init((char *) out.data + out.head, (unsigned) bytebuf_len(&out));
		uv_try_write((uv_stream_t *) p, &b, 1);
	}
	bytebuf_free(&out);
	uv_close((uv_handle_t *) p, conn_free_handle);
}

static void server_on_connection(uv_stream_t *listener, int status)
{
	struct server *srv = listener->data;
	gid_t groups[PEER_GROUPS_INLINE], *more_groups;
	struct session_creds cr;
	struct rlimit rl;
	struct errbuf e;
	char msg[96];
	struct conn *c;
	uv_os_fd_t fd;
	int rc;

	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	/* pipe.data is the conn for every callback; on the refusal paths
	 * conn_free_handle frees it through that pointer. */
	uv_pipe_init(&srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(listener, (uv_stream_t *) &c->pipe) < 0 ||
	    uv_fileno((uv_handle_t *) &c->pipe, &fd) < 0) {
		uv_close((uv_handle_t *) &c->pipe, conn_free_handle);
		return;
	}
	peer_creds(fd, &cr, groups, PEER_GROUPS_INLINE, &more_groups);
	/* Descriptors are allocated lowest first: a socket this high means
	 * the table is full up to it. Answering beats what libuv does at the
	 * very end (accept and close without a word). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t) fd + FD_SPARE >= rl.rlim_cur) {
		snprintf(msg, sizeof(msg), "daemon out of file descriptors (open-file limit %llu)",
			 (unsigned long long) rl.rlim_cur);
		/* Once per shortage: a flood of refusals must not flood the log. */
		server_refuse(srv, &c->pipe, &cr, -EUSERS, msg, !srv->fd_limit_logged);
		srv->fd_limit_logged = true;
		free(more_groups);
		return;
	}
	srv->fd_limit_logged = false;
	rc = daemon_session_start(srv->d, &cr, &c->s, &e);
	free(more_groups); /* the session keeps only what the groups allow */
	if (rc < 0) {
		server_refuse(srv, &c->pipe, &cr, rc, e.msg, true);
		return;
	}
	c->srv = srv;
	c->uid = cr.uid;
	srv->conns[c->s->slot] = c;
	c->open_handles = 2;
	uv_timer_init(&srv->loop, &c->hello_timer);
	c->hello_timer.data = c;
	if (srv->d->cfg.hello_timeout_ms > 0)
		uv_timer_start(&c->hello_timer, conn_on_hello_timeout, srv->d->cfg.hello_timeout_ms,
			       0);
	conn_update_reading(c);
}

static void watch_closed(uv_handle_t *h)
{
	struct watch *w = h->data;

	close(w->fd);
	free(w);
}

/* Stop watching w (its session resumed, ended, or the daemon stops). */
static void watch_close(struct watch *w)
{
	struct watch **p = &w->srv->watches;

	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
	uv_close((uv_handle_t *) &w->poll, watch_closed);
}

/* The watch of slot's detached session, if any. */
static void server_unwatch(struct server *srv, uint32_t slot)
{
	for (struct watch *w = srv->watches; w != NULL; w = w->next)
		if (w->slot == slot) {
			watch_close(w);
			return;
		}
}

static void watch_on_exit(uv_poll_t *p, int status, int events)
{
	struct watch *w = p->data;
	struct session *s = w->srv->d->slots[w->slot];

	(void) status;
	(void) events;
	if (s != NULL && s->detached) {
		session_log(s, LOG_INFO, "its process exited before it resumed");
		ops_end_session(&w->srv->x->ops, s);
	}
	watch_close(w);
}

/* Watch every detached session's process (after a takeover); those whose
 * pidfd could not be opened stay until the daemon stops. */
static void server_watch_detached(struct server *srv)
{
	struct daemon *d = srv->d;

	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		struct session *s = d->slots[i];
		struct watch *w;

		if (s == NULL || !s->detached || s->pidfd < 0 ||
		    (w = calloc(1, sizeof(*w))) == NULL)
			continue;
		w->srv = srv;
		w->slot = i;
		w->fd = s->pidfd;
		s->pidfd = -1;
		uv_poll_init(&srv->loop, &w->poll, w->fd);
		w->poll.data = w;
		w->next = srv->watches;
		srv->watches = w;
		uv_poll_start(&w->poll, UV_READABLE, watch_on_exit);
	}
}

static void server_stop(struct server *srv)
{
	struct daemon *d = srv->d;

	if (srv->stopping)
		return;
	srv->stopping = true;
	fdstore_notify(d->fs, "STOPPING=1");
	log_info("stopping: closing %u client%s", d->nsessions, log_s(d->nsessions));
	uv_close((uv_handle_t *) &srv->listener, NULL);
	uv_close((uv_handle_t *) &srv->sigterm, NULL);
	uv_close((uv_handle_t *) &srv->sigint, NULL);
	uv_close((uv_handle_t *) &srv->wake, NULL);
	uv_close((uv_handle_t *) &srv->resume, NULL);
	uv_close((uv_handle_t *) &srv->pass_end, NULL);
	uv_close((uv_handle_t *) &srv->sighup, NULL);
	uv_close((uv_handle_t *) &srv->sigusr2, NULL);
	uv_close((uv_handle_t *) &srv->region_check, NULL);
	uv_close((uv_handle_t *) &srv->filler, NULL);
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (srv->conns[i] != NULL)
			conn_close(srv->conns[i]);
	while (srv->watches != NULL)
		watch_close(srv->watches);
	/* Detached sessions whose client never came back. */
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (d->slots[i] != NULL)
			ops_end_session(&srv->x->ops, d->slots[i]);
	while (srv->lingering != NULL)
		linger_drop(srv->lingering);
	sockfile_release(&srv->sf);
}

/*
 * A hand-over: exit with status, leaving everything to the next serving
 * process -- no session ended, no hold dropped, nothing of the books
 * written, the socket file and its lock left to the store -- so none of
 * the clean stop may run: _exit at once. Replies not written yet are lost;
 * a resumed client sends that request again and the reply cache answers.
 */
static void server_handover(struct server *srv, int status)
{
	log_info("handing over: exit %d, leaving %u client%s and their holds to the next "
		 "serving process",
		 status, srv->d->nsessions, log_s(srv->d->nsessions));
	fdstore_notify(srv->d->fs, "STOPPING=1");
	_exit(status);
}

/* SIGTERM, SIGINT: a clean stop, except under systemd's fd store (a store
 * and no keeper), where the books stay in the store for the next start
 * (`systemctl restart`, or Restart= after a crash); a stop that ends
 * every session is then `systemctl stop` followed by the store's release
 * (FileDescriptorStorePreserve=no, the default). */
static void server_on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	log_info("caught %s", strsignal(signum));
	if (fdstore_active(srv->d->fs) && srv->d->fs->keeper == 0)
		server_handover(srv, 0);
	server_stop(srv);
}

/* SIGUSR2: an upgrade. The keeper (or systemd) starts the binary now on
 * disk, which takes over; with no store there is nobody to hand over to. */
static void server_on_upgrade(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (!fdstore_active(srv->d->fs)) {
		log_warn("caught %s: no fd store to hand over to (--no-keeper): ignored",
			 strsignal(signum));
		return;
	}
	log_info("caught %s: upgrade", strsignal(signum));
	server_handover(srv, FDSTORE_EXIT_HANDOVER);
}

/* Listen on the socket systemd passed, else on a file of our own at
 * d->socket_path (sockfile_bind: the lock, the stale file, mode and group). */
static int server_listen(struct server *srv, struct errbuf *e)
{
	struct daemon *d = srv->d;
	int rc;

	rc = sockfile_inherit(&srv->sf, d->fs, e);
	if (rc == 0) {
		rc = sockfile_bind(&srv->sf, d->socket_path, &d->cfg, e);
		if (rc == 0 && listen(srv->sf.fd, 1024) < 0)
			rc =
			    errbuf_set(e, -errno, "listen %s: %s", d->socket_path, strerror(errno));
		if (rc == 0)
			rc = sockfile_store(&srv->sf, d->fs, e);
		if (rc < 0 && srv->sf.fd >= 0)
			close(srv->sf.fd);
		if (rc < 0)
			sockfile_release(&srv->sf);
	}
	if (rc < 0)
		return rc;
	if (srv->sf.adopted && strcmp(d->socket_path, srv->sf.path) != 0)
		log_warn("serving %s, the socket taken over, not %s: a new path needs a "
			 "restart that drops the state",
			 srv->sf.path, d->socket_path);
	if (srv->sf.adopted || srv->sf.activated)
		snprintf(d->socket_path, sizeof(d->socket_path), "%s", srv->sf.path);
	if (srv->sf.activated) {
		log_info("listening on %s, passed by systemd: its SocketMode= and SocketGroup= "
			 "apply, not socket.mode and socket.group",
			 d->socket_path);
	}
	uv_pipe_init(&srv->loop, &srv->listener, 0);
	srv->listener.data = srv;
	rc = uv_pipe_open(&srv->listener, srv->sf.fd);
	if (rc < 0) {
		close(srv->sf.fd);
		errbuf_set(e, rc, "listen %s: %s", d->socket_path, uv_strerror(rc));
	} else {
		rc = uv_listen((uv_stream_t *) &srv->listener, 1024, server_on_connection);
		if (rc < 0)
			errbuf_set(e, rc, "listen %s: %s", d->socket_path, uv_strerror(rc));
	}
	if (rc == 0)
		return 0;
	uv_close((uv_handle_t *) &srv->listener, NULL);
	sockfile_release(&srv->sf);
	return rc;
}

/* One descriptor per client (a lease page memfd is closed once sent) plus
 * the daemon's own, two per region: raise the soft limit to the hard one,
 * and say so if even that cannot hold max_clients. */
static void raise_fd_limit(const struct daemon *d)
{
	struct rlimit rl;
	rlim_t need = (rlim_t) d->cfg.max_clients + 2 * d->table.nregions + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		log_warn("open-file limit %llu is below what max_clients %u needs (%llu): raise it "
			 "(LimitNOFILE= under systemd)",
			 (unsigned long long) rl.rlim_cur, d->cfg.max_clients,
			 (unsigned long long) need);
}

/* The server's own part of a reload: a connection per session slot, so its
 * table grows with max_clients before the daemon's does (a larger table
 * than needed is harmless if the reload then fails). */
static int server_grow_conns(struct server *srv, uint32_t max, struct errbuf *e)
{
	uint32_t was = srv->d->cfg.max_clients;
	struct conn **v;

	if (max <= was)
		return 0;
	v = realloc(srv->conns, max * sizeof(*v));
	if (v == NULL)
		return errbuf_set(e, -ENOMEM, "max_clients %u -> %u: %s", was, max,
				  strerror(ENOMEM));
	memset(v + was, 0, (max - was) * sizeof(*v));
	srv->conns = v;
	return 0;
}

/* SIGHUP: the configuration file again, applied whole or not at all
 * (reload.h); either way every client carries on. */
static void server_on_reload(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;
	struct config next;
	struct reload r;
	struct errbuf e;
	int rc;

	log_info("caught %s: reloading %s", strsignal(signum), srv->d->cfg.file);
	rc = reload_read(srv->d, &next, &e);
	if (rc == 0) {
		rc = reload_check(srv->d, &next, &r, &e);
		if (rc < 0)
			config_free(&next);
	}
	if (rc == 0) {
		rc = server_grow_conns(srv, r.next.max_clients, &e);
		if (rc < 0)
			reload_cancel(&r);
	}
	if (rc == 0)
		rc = reload_apply(srv->d, &r, &e);
	if (rc < 0)
		reload_refused(srv->d, &e);
	else
		raise_fd_limit(srv->d);
}

int server_run(struct dispatch *x, struct errbuf *e)
{
	struct daemon *d = x->d;
	struct server srv = {.x = x, .d = d};
	int rc;

	/* A client that vanishes mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(d);
	srv.conns = calloc(d->cfg.max_clients, sizeof(*srv.conns));
	if (srv.conns == NULL)
		return errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
	rc = uv_loop_init(&srv.loop);
	if (rc < 0) {
		free(srv.conns);
		return errbuf_set(e, rc, "uv_loop_init: %s", uv_strerror(rc));
	}
	/* Catch the stop signals before the socket accepts: a client (or
	 * systemd) may signal as soon as it can connect. libuv queues a signal
	 * that arrives before uv_run. */
	uv_signal_init(&srv.loop, &srv.sigterm);
	uv_signal_init(&srv.loop, &srv.sigint);
	uv_signal_init(&srv.loop, &srv.sighup);
	uv_signal_init(&srv.loop, &srv.sigusr2);
	srv.sigterm.data = srv.sigint.data = srv.sighup.data = srv.sigusr2.data = &srv;
	uv_signal_start(&srv.sigterm, server_on_signal, SIGTERM);
	uv_signal_start(&srv.sigint, server_on_signal, SIGINT);
	uv_idle_init(&srv.loop, &srv.wake);
	uv_idle_init(&srv.loop, &srv.resume);
	uv_check_init(&srv.loop, &srv.pass_end);
	srv.wake.data = srv.resume.data = srv.pass_end.data = &srv;
	uv_check_start(&srv.pass_end, server_on_pass_end);
	uv_signal_start(&srv.sighup, server_on_reload, SIGHUP);
	uv_signal_start(&srv.sigusr2, server_on_upgrade, SIGUSR2);
	rc = server_listen(&srv, e);
	if (rc < 0) {
		uv_close((uv_handle_t *) &srv.sigterm, NULL);
		uv_close((uv_handle_t *) &srv.sigint, NULL);
		uv_close((uv_handle_t *) &srv.wake, NULL);
		uv_close((uv_handle_t *) &srv.resume, NULL);
		uv_close((uv_handle_t *) &srv.pass_end, NULL);
		uv_close((uv_handle_t *) &srv.sighup, NULL);
		uv_close((uv_handle_t *) &srv.sigusr2, NULL);
		uv_run(&srv.loop, UV_RUN_DEFAULT);
		uv_loop_close(&srv.loop);
		free(srv.conns);
		return rc;
	}

	uv_timer_init(&srv.loop, &srv.region_check);
	uv_idle_init(&srv.loop, &srv.filler);
	srv.region_check.data = srv.filler.data = &srv;
	uv_timer_start(&srv.region_check, server_on_region_check, REGION_CHECK_MS, REGION_CHECK_MS);
	server_watch_detached(&srv);
	log_serving(d);
	fdstore_notify(d->fs, "READY=1");
	uv_run(&srv.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&srv.loop);
	if (rc < 0)
		log_warn("loop closed with handles open: %s", uv_strerror(rc));
	free(srv.conns);
	log_info("stopped");
	return 0;
}
