/*
 * ledger: the books memfd, its layout and its undo log (see ledger.h).
 * Order matters in every writer here: a record is complete before the count
 * that makes it part of the log, and the log's state is one atomic store.
 * The process dies, the memory does not: what was stored is there for the
 * next one, in program order, so compiler barriers (the __atomic stores)
 * are what keeps that order.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/ledger.h"
#include "daemon/log.h"

#define ALIGN64(x) (((x) + 63) & ~(uint64_t) 63)

static uint32_t at_least(uint64_t v, uint64_t min, uint64_t max)
{
	v = v < min ? min : v;
	return (uint32_t) (v > max ? max : v);
}

/* Room for need and for what reloads usually add: twice the holds (at
 * least 1 Mi more), four times the sessions (within the config's
 * 65536), 64 Ki undo records. Only pages in use cost memory (ledger.h),
 * so the room is address space; a reload needing more needs a restart,
 * and the takeover that follows grows the books. */
static void room(const struct ledger_caps *need, struct ledger_caps *r)
{
	r->holds = at_least((uint64_t) need->holds * 2, (uint64_t) need->holds + (1u << 20),
			    CONFIG_HOLDS_MAX);
	r->sessions = at_least((uint64_t) need->sessions * 4, need->sessions, 65536);
	if (r->sessions < need->sessions)
		r->sessions = need->sessions;
	r->reply_max = need->reply_max;
	r->log = at_least(need->log, 65536, UINT32_MAX);
}

/* The layout for caps into h (magic and state not touched). */
static void layout(struct ledger_head *h, const struct ledger_caps *c)
{
	uint64_t at = ALIGN64(sizeof(*h));

	h->hold_cap = c->holds;
	h->sess_cap = c->sessions;
	h->reply_max = c->reply_max;
	h->log_cap = c->log;
	h->sess_off = at;
	at = ALIGN64(at + (uint64_t) c->sessions * sizeof(struct ledger_sess));
	h->log_off = at;
	at = ALIGN64(at + (uint64_t) c->log * sizeof(struct ledger_rec));
	h->reply_off = at;
	at = ALIGN64(at + (uint64_t) c->sessions * 2 * c->reply_max);
	h->hold_off = at;
	at = ALIGN64(at + (uint64_t) c->holds * LEDGER_HOLD_SIZE);
	h->size = at;
}

static void fault_setup(struct ledger *l)
{
	const char *v = getenv("ALLOCATORD_FAULT_WRITES");

	l->writes = 0;
	l->fault_at = v != NULL ? strtoull(v, NULL, 10) : 0;
}

void ledger__fault(struct ledger *l)
{
	if (++l->writes == l->fault_at)
		kill(getpid(), SIGKILL);
}

static void pointers(struct ledger *l)
{
	struct ledger_head *h = (struct ledger_head *) l->base;

	l->head = h;
	l->sess = (struct ledger_sess *) (l->base + h->sess_off);
	l->log = (struct ledger_rec *) (l->base + h->log_off);
	l->replies = l->base + h->reply_off;
	l->holds = l->base + h->hold_off;
}

static int map_fd(struct ledger *l, int fd, size_t size, struct errbuf *e)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return errbuf_set(e, -errno, "books: mapping %zu bytes: %s", size, strerror(errno));
	l->fd = fd;
	l->base = p;
	l->size = size;
	return 0;
}

/* A new memfd of h's size, mapped, with h as its head. -EFBIG over the
 * file size limit (checked first: growing past it would raise SIGXFSZ). */
static int create_file(struct ledger *l, const struct ledger_head *h, struct errbuf *e)
{
	struct rlimit rl;
	int fd, rc;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    h->size > (uint64_t) rl.rlim_cur)
		return errbuf_set(e, -EFBIG,
				  "books: %" PRIu64 " bytes, over the file size limit RLIMIT_FSIZE "
				  "(ulimit -f) of %llu",
				  h->size, (unsigned long long) rl.rlim_cur);
	fd = memfd_create("books", MFD_CLOEXEC);
	if (fd < 0)
		return errbuf_set(e, -errno, "books: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t) h->size) < 0) {
		rc =
		    errbuf_set(e, -errno, "books: %" PRIu64 " bytes: %s", h->size, strerror(errno));
		close(fd);
		return rc;
	}
	rc = map_fd(l, fd, h->size, e);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	memcpy(l->base, h, sizeof(*h));
	pointers(l);
	return 0;
}

/* A new file laid out for roomy, or for need when roomy does not fit
 * under ulimit -f or -v (then a reload adding clients or holds needs a
 * restart: said once). */
static int create_for(struct ledger *l, struct ledger_head *h, const struct ledger_caps *roomy,
		      const struct ledger_caps *need, struct errbuf *e)
{
	int rc;

	layout(h, roomy);
	rc = create_file(l, h, e);
	if (rc != -EFBIG && rc != -ENOMEM)
		return rc;
	layout(h, need);
	rc = create_file(l, h, e);
	if (rc == 0)
		log_warn("books made without room for reloads (RLIMIT_FSIZE or RLIMIT_AS): a "
			 "reload adding clients or holds needs a restart");
	return rc;
}

int ledger_create(struct ledger *l, const struct ledger_caps *caps, struct errbuf *e)
{
	struct ledger_head h;
	int rc;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	struct ledger_caps r;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, LEDGER_MAGIC, sizeof(h.magic));
	h.version = LEDGER_VERSION;
	h.head_size = sizeof(h);
	room(caps, &r);
	rc = create_for(l, &h, &r, caps, e);
	if (rc == 0)
		fault_setup(l);
	return rc;
}

void ledger_close(struct ledger *l)
{
	if (l->base != NULL)
		munmap(l->base, l->size);
	if (l->fd >= 0)
		close(l->fd);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* Is a section [off, off + len) inside size, after the head? */
static bool section_ok(uint64_t off, uint64_t count, uint64_t each, uint64_t size)
{
	return off >= sizeof(struct ledger_head) && off % 64 == 0 && off <= size &&
	       (each == 0 || count <= (size - off) / each);
}

static int check_head(const struct ledger_head *h, uint64_t file, struct errbuf *e)
{
	if (memcmp(h->magic, LEDGER_MAGIC, sizeof(h->magic)) != 0)
		return errbuf_set(e, -EBADMSG, "books: bad magic");
	if (h->version > LEDGER_VERSION)
		return errbuf_set(e, -EPROTO, "books: format %u is newer than this allocatord (%u)",
				  h->version, LEDGER_VERSION);
	if (h->version != LEDGER_VERSION || h->head_size != sizeof(*h))
		return errbuf_set(e, -EBADMSG, "books: format %u with a head of %u bytes",
				  h->version, h->head_size);
	if (h->size > file)
		return errbuf_set(e, -EBADMSG,
				  "books: truncated (%" PRIu64 " bytes, the layout needs %" PRIu64
				  ")",
				  file, h->size);
	if (!section_ok(h->sess_off, h->sess_cap, sizeof(struct ledger_sess), h->size) ||
	    !section_ok(h->log_off, h->log_cap, sizeof(struct ledger_rec), h->size) ||
	    !section_ok(h->reply_off, (uint64_t) h->sess_cap * 2, h->reply_max, h->size) ||
	    !section_ok(h->hold_off, h->hold_cap, LEDGER_HOLD_SIZE, h->size))
		return errbuf_set(e, -EBADMSG, "books: a section lies outside the file");
	if (h->hold_top > h->hold_cap || h->log_n > h->log_cap || h->log_state > LEDGER_LOG_ENDING)
		return errbuf_set(e, -EBADMSG,
				  "books: hold_top %u of %u, log of %u records of %u, log state %u",
				  h->hold_top, h->hold_cap, h->log_n, h->log_cap, h->log_state);
	return 0;
}

static bool caps_fit(const struct ledger_head *h, const struct ledger_caps *c)
{
	return c->holds <= h->hold_cap && c->sessions <= h->sess_cap &&
	       c->reply_max <= h->reply_max && c->log <= h->log_cap;
}

int ledger_fits(const struct ledger *l, const struct ledger_caps *c, struct errbuf *e)
{
	const struct ledger_head *h = l->head;

	if (c->holds > h->hold_cap)
		return errbuf_set(e, -ENOSPC, "the hold table (%u) would be over the books' %u",
				  c->holds, h->hold_cap);
	if (c->sessions > h->sess_cap)
		return errbuf_set(e, -ENOSPC, "max_clients %u is over the books' %u", c->sessions,
				  h->sess_cap);
	if (c->reply_max > h->reply_max)
		return errbuf_set(e, -ENOSPC, "replies of %u bytes are over the books' %u",
				  c->reply_max, h->reply_max);
	if (c->log > h->log_cap)
		return errbuf_set(e, -ENOSPC,
				  "one request could change %u entries, the books' log has room "
				  "for %u",
				  c->log, h->log_cap);
	return 0;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Each of c's capacities, or h's where h has more: books never shrink. */
static void caps_with(const struct ledger_caps *c, const struct ledger_head *h,
		      struct ledger_caps *out)
{
	out->holds = max_u32(c->holds, h->hold_cap);
	out->sessions = max_u32(c->sessions, h->sess_cap);
	out->reply_max = max_u32(c->reply_max, h->reply_max);
	out->log = max_u32(c->log, h->log_cap);
}

/* The books of old (mapped, checked) copied into a new file laid out for
 * the larger of old's and c's capacities. */
static int grow(struct ledger *l, const struct ledger_caps *c, struct errbuf *e)
{
	struct ledger old = *l;
	const struct ledger_head *oh = old.head;
	struct ledger_caps r, big, need;
	struct ledger_head h = *oh;
	int rc;

	room(c, &r);
	caps_with(&r, oh, &big);
	caps_with(c, oh, &need);
	rc = create_for(l, &h, &big, &need, e);
	if (rc < 0) {
		*l = old;
		return rc;
	}
	memcpy(l->sess, old.sess, (size_t) oh->sess_cap * sizeof(*l->sess));
	memcpy(l->log, old.log, (size_t) oh->log_n * sizeof(*l->log));
	for (uint32_t i = 0; i < oh->sess_cap; i++)
		for (uint32_t b = 0; b < 2; b++) {
			/* Not checked yet (books.c does): never past a buffer. */
			uint32_t len = old.sess[i].used ? old.sess[i].commit.reply_len[b] : 0;

			memcpy(l->replies + ((size_t) i * 2 + b) * h.reply_max,
			       old.replies + ((size_t) i * 2 + b) * oh->reply_max,
			       len < oh->reply_max ? len : oh->reply_max);
		}
	memcpy(l->holds, old.holds, (size_t) oh->hold_top * LEDGER_HOLD_SIZE);
	/* Undo records name offsets in the old file: move them with the
	 * sections they point into. */
	for (uint32_t i = 0; i < oh->log_n; i++) {
		uint64_t off = l->log[i].off;

		if (off >= oh->hold_off)
			l->log[i].off = off - oh->hold_off + h.hold_off;
		else if (off >= oh->sess_off)
			l->log[i].off = off - oh->sess_off + h.sess_off;
	}
	log_info("books grown: %u holds, %u sessions, %u-byte replies, %u log records", h.hold_cap,
		 h.sess_cap, h.reply_max, h.log_cap);
	ledger_close(&old);
	return 0;
}

int ledger_adopt(struct ledger *l, int fd, const struct ledger_caps *caps, struct errbuf *e)
{
	struct ledger_head h;
	struct stat st;
	int rc;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (fstat(fd, &st) < 0) {
		rc = errbuf_set(e, -errno, "books: fstat: %s", strerror(errno));
		close(fd);
		return rc;
	}
	if ((uint64_t) st.st_size < sizeof(h)) {
		close(fd);
		return errbuf_set(e, -EBADMSG, "books: truncated (%lld bytes)",
				  (long long) st.st_size);
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h)) {
		close(fd);
		return errbuf_set(e, -EIO, "books: cannot read the head");
	}
	rc = check_head(&h, (uint64_t) st.st_size, e);
	if (rc == 0)
		rc = map_fd(l, fd, h.size, e);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	pointers(l);
	/* The head read is the head mapped: check again what pointers() used
	 * only if someone else writes the file -- nobody does (the keeper
	 * holds it, never maps it). */
	if (!caps_fit(l->head, caps)) {
		rc = grow(l, caps, e);
		if (rc < 0) {
			ledger_close(l);
			return rc;
		}
	}
	fault_setup(l);
	return 0;
}

void ledger_begin(struct ledger *l, uint32_t slot)
{
	struct ledger_head *h = l->head;

	/* n first: a closed log's count means nothing. */
	h->log_n = 0;
	h->log_slot = slot;
	__atomic_store_n(&h->log_state, LEDGER_LOG_OPEN, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

/* Append a record for the len bytes at p holding old: what a takeover
 * writes back there (in reverse order of the records). */
static void ledger_record(struct ledger *l, const void *p, const void *old, size_t len)
{
	struct ledger_head *h = l->head;
	struct ledger_rec *r;

	/* Ending: completed at a takeover, never undone. Closed: no request
	 * (a test driving ops directly). */
	if (h->log_state != LEDGER_LOG_OPEN)
		return;
	if (h->log_n >= h->log_cap || len > LEDGER_REC_MAX) {
		log_error("BUG: books: the undo log is full (%u records)", h->log_n);
		abort();
	}
	r = &l->log[h->log_n];
	r->off = (uint64_t) ((const uint8_t *) p - l->base);
	r->len = (uint32_t) len;
	memcpy(r->old, old, len);
	/* The record is whole before it counts. */
	__atomic_store_n(&h->log_n, h->log_n + 1, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

void ledger_save(struct ledger *l, const void *p, size_t len)
{
	ledger_record(l, p, p, len);
}

void ledger_settle(struct ledger *l, const void *p, const void *value, size_t len)
{
	ledger_record(l, p, value, len);
}

void ledger_commit(struct ledger *l, uint32_t slot, uint64_t id, int status, const void *reply,
		   size_t len)
{
	struct ledger_sess *s = &l->sess[slot];
	uint32_t spare = s->commit.reply_cur ^ 1;

	if (len > l->head->reply_max)
		len = 0; /* cannot happen: a reply frame fits max_frame */
	/* The spare buffer is nobody's reply: no record needed. */
	if (len > 0)
		memcpy(l->replies + ((size_t) slot * 2 + spare) * l->head->reply_max, reply, len);
	ledger_wrote(l);
	ledger_save(l, &s->commit, sizeof(s->commit));
	s->commit.applied_id = id;
	if (status < 0) {
		s->commit.failed_id = id;
		s->commit.failed_status = status;
	}
	s->commit.reply_len[spare] = (uint32_t) len;
	s->commit.reply_cur = spare;
	ledger_wrote(l);
	__atomic_store_n(&l->head->log_state, LEDGER_LOG_CLOSED, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

const uint8_t *ledger_reply(const struct ledger *l, uint32_t slot, size_t *len)
{
	const struct ledger_commit *c = &l->sess[slot].commit;

	*len = c->reply_len[c->reply_cur];
	return l->replies + ((size_t) slot * 2 + c->reply_cur) * l->head->reply_max;
}

void ledger_end_begin(struct ledger *l, uint32_t slot)
{
	struct ledger_head *h = l->head;

	h->log_slot = slot;
	h->log_n = 0;
	__atomic_store_n(&h->log_state, LEDGER_LOG_ENDING, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

void ledger_end_done(struct ledger *l, uint32_t slot)
{
	__atomic_store_n(&l->sess[slot].used, 0, __ATOMIC_RELEASE);
	ledger_wrote(l);
	__atomic_store_n(&l->head->log_state, LEDGER_LOG_CLOSED, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

void ledger_sess_publish(struct ledger *l, uint32_t slot)
{
	__atomic_store_n(&l->sess[slot].used, LEDGER_SESS_NEW, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

void ledger_sess_greeted(struct ledger *l, uint32_t slot)
{
	if (l->sess[slot].used == LEDGER_SESS_GREETED)
		return; /* a resumed session's hello: greeted long ago */
	__atomic_store_n(&l->sess[slot].used, LEDGER_SESS_GREETED, __ATOMIC_RELEASE);
	ledger_wrote(l);
}

/* Does [off, off + len) lie inside the sessions or the holds section? */
static bool rec_ok(const struct ledger *l, const struct ledger_rec *r)
{
	const struct ledger_head *h = l->head;
	uint64_t sess_end = h->sess_off + (uint64_t) h->sess_cap * sizeof(struct ledger_sess);
	uint64_t hold_end = h->hold_off + (uint64_t) h->hold_cap * LEDGER_HOLD_SIZE;

	if (r->len == 0 || r->len > LEDGER_REC_MAX)
		return false;
	return (r->off >= h->sess_off && r->off <= sess_end - r->len) ||
	       (r->off >= h->hold_off && r->off <= hold_end - r->len);
}

int64_t ledger_recover(struct ledger *l, struct errbuf *e)
{
	struct ledger_head *h = l->head;

	if (h->log_state == LEDGER_LOG_ENDING) {
		if (h->log_slot >= h->sess_cap)
			return errbuf_set(e, -EBADMSG, "books: ending session slot %u of %u",
					  h->log_slot, h->sess_cap);
		return h->log_slot;
	}
	if (h->log_state != LEDGER_LOG_OPEN)
		return UINT32_MAX;
	for (uint32_t i = 0; i < h->log_n; i++)
		if (!rec_ok(l, &l->log[i]))
			return errbuf_set(e, -EBADMSG,
					  "books: undo record %u (offset %" PRIu64
					  ", %u bytes) is outside the books",
					  i, l->log[i].off, l->log[i].len);
	for (uint32_t i = h->log_n; i-- > 0;)
		memcpy(l->base + l->log[i].off, l->log[i].old, l->log[i].len);
	__atomic_store_n(&h->log_state, LEDGER_LOG_CLOSED, __ATOMIC_RELEASE);
	log_info("books: the request of session slot %u was undone (%u change%s)", h->log_slot,
		 h->log_n, log_s(h->log_n));
	return UINT32_MAX;
}
