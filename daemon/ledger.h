/*
 * ledger: the memory of the daemon's books -- one memfd ("books") that
 * outlives the serving process, so that a new one takes over what the old
 * one knew (books.h rebuilds the rest from it) -- and the undo log that keeps
 * it crash-consistent request by request.
 *
 * Layout (offsets in struct ledger_head, every section 64-byte aligned):
 *   head      magic "ALLOCDBK", format version, capacities, next session id,
 *             the hold table's high-water mark, the undo log's state
 *   sessions  sess_cap records (struct ledger_sess), indexed by session slot
 *   log       log_cap undo records (struct ledger_rec)
 *   replies   two reply buffers of reply_max bytes per session slot
 *   holds     hold_cap entries (struct hold, holds.h), indexed as today
 * The file is sized for the capacities and never touched beyond what is
 * used: entries past the hold table's high-water mark (head->hold_top) and
 * reply buffers never written stay holes, so the memory it takes is what
 * is in use (allocatord(8), "The books", has the bound).
 *
 * The undo log (intent). Invariant, after every store to the books: the
 * books plus the open log describe exactly one of "before the request" and
 * "after it" (or, for an ending session, "it is ending": completed at the
 * next takeover). A mutating request opens the log (ledger_begin);
 * every byte range it changes is saved in a record (old contents) before it
 * changes -- record first, then the count, then the change -- and its
 * commit (ledger_commit: applied_id and the reply into the spare buffer)
 * ends with one atomic store that closes the log. A takeover finding the
 * log open copies the records back in reverse order (ledger_recover).
 * Only what a takeover reads is logged: the hold entries' persistent fields
 * and the session records' commit fields; links and counters are derived.
 *
 * Fault injection (a testing switch, allocatord(8)): ALLOCATORD_FAULT_WRITES=N
 * makes the process SIGKILL itself right after its N-th write to the books
 * (a log record, a change, a commit, a close), counted from ledger_create /
 * ledger_adopt. Read once; unset, each write costs one predictable branch.
 */
#ifndef ALLOCATORD_DAEMON_LEDGER_H
#define ALLOCATORD_DAEMON_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/errbuf.h"

#define LEDGER_MAGIC   "ALLOCDBK"
#define LEDGER_VERSION 1u

/* Bytes of one hold entry (struct hold, holds.h checks it). */
#define LEDGER_HOLD_SIZE 32u
/* Most bytes one undo record saves: a hold entry or a session's commit. */
#define LEDGER_REC_MAX 40u
/* Bytes of the session token (Hello.resume_token). */
#define LEDGER_TOKEN 16u

enum ledger_log_state {
	LEDGER_LOG_CLOSED = 0,
	LEDGER_LOG_OPEN = 1,   /* a request is being applied: undo it */
	LEDGER_LOG_ENDING = 2, /* session log_slot is ending: complete it */
};

/* What a session's last mutating request left (Alloc, GroupAlloc,
 * HeapAlloc, Free, Retain): changed only by ledger_commit, under the log. */
struct ledger_commit {
	uint64_t applied_id;   /* its id, applied or refused; 0: none yet */
	uint64_t failed_id;    /* the last one refused, 0: none */
	int32_t failed_status; /* its status */
	uint32_t reply_cur;    /* buffer (0, 1) holding applied_id's reply */
	uint32_t reply_len[2]; /* bytes of each buffer's frame */
};

/* A session as a takeover needs it (session.h has the live one). Written
 * whole while used == 0, then used set with one store (a session start is
 * not logged: a record not used is ignored); cleared by an ending session
 * (LEDGER_LOG_ENDING) as its last step. */
struct ledger_sess {
	uint32_t used; /* 0, LEDGER_SESS_NEW or LEDGER_SESS_GREETED */
	int32_t pid;
	uint64_t id;
	uint8_t token[LEDGER_TOKEN]; /* getrandom at start */
	uint64_t start_time;         /* /proc/PID/stat field 22, clock ticks */
	uint32_t uid, gid;
	uint64_t regions;  /* bit i: region i allowed */
	uint64_t sent;     /* bit i: region i's memfd went to the client */
	uint64_t since_ms; /* wall clock at connect */
	uint32_t leases;   /* its hello asked for leases */
	uint32_t admin;
	char comm[17];
	char client_name[64];
	struct ledger_commit commit;
};

struct ledger_rec {
	uint64_t off; /* in the file */
	uint32_t len; /* <= LEDGER_REC_MAX */
	uint32_t pad;
	uint8_t old[LEDGER_REC_MAX];
};

struct ledger_head {
	char magic[8];
	uint32_t version;
	uint32_t head_size; /* sizeof(struct ledger_head) */
	uint64_t size;      /* bytes the layout needs; the file is at least this */
	uint32_t hold_cap, sess_cap, reply_max, log_cap;
	uint64_t sess_off, log_off, reply_off, hold_off;
	uint64_t next_session_id; /* ids given so far */
	uint32_t hold_top;        /* entries [hold_top, hold_cap) never used */
	/* The undo log: its state is the one atomic store that opens and
	 * closes it; log_n counts the records, stored after each one. */
	uint32_t log_state;
	uint32_t log_slot; /* the session of the request, or the ending one */
	uint32_t log_n;
};

/* How big the sections must be. */
struct ledger_caps {
	uint32_t holds;     /* the hold table's limit (daemon_hold_limit) */
	uint32_t sessions;  /* max_clients */
	uint32_t reply_max; /* max_frame + WIRE_HEADER */
	uint32_t log;       /* records one request may need */
};

/* The books of one serving process, mapped. */
struct ledger {
	int fd; /* the memfd ("books"), or -1 */
	uint8_t *base;
	size_t size;
	struct ledger_head *head;
	struct ledger_sess *sess;
	struct ledger_rec *log;
	uint8_t *replies;
	void *holds; /* hold_cap entries of LEDGER_HOLD_SIZE */
	uint64_t writes, fault_at;
};

/* Fresh, empty books for caps in a new memfd, mapped. 0 or a negative errno
 * with the reason in e; on error l is empty (fd -1). */
int ledger_create(struct ledger *l, const struct ledger_caps *caps, struct errbuf *e);

/* Take over the books in fd (owned by l from now on, also on error): check
 * the head and that the layout lies within the file (magic, version,
 * offsets, sizes: "books: ..." errors, -EBADMSG / -EPROTO for a newer
 * format); where caps want more than the file has, copy the books into a
 * new memfd laid out for caps (l->fd is then that one, and the caller puts
 * it in the fd store in place of fd). The undo log is left as it was found
 * (ledger_recover). 0 or a negative errno with the reason in e. */
int ledger_adopt(struct ledger *l, int fd, const struct ledger_caps *caps, struct errbuf *e);

/* Unmap and close; safe on an empty ledger. */
void ledger_close(struct ledger *l);

/* Does caps fit in l's sections (for reload: growing needs a restart)?
 * 0, or -ENOSPC naming the first section that is too small. */
int ledger_fits(const struct ledger *l, const struct ledger_caps *caps, struct errbuf *e);

/* The fault switch: count one write to the books, dying on the N-th. */
void ledger__fault(struct ledger *l);
static inline void ledger_wrote(struct ledger *l)
{
	if (__builtin_expect(l->fault_at != 0, 0))
		ledger__fault(l);
}

/* Open the undo log for a request of session slot (a mutating one: it
 * ends with ledger_commit). */
void ledger_begin(struct ledger *l, uint32_t slot);

/*
 * Save the len (<= LEDGER_REC_MAX) bytes at p, inside the books, in the undo
 * log before the caller changes them. Only while a request's log is open:
 * nothing while a session is ending (ledger_end_begin: that is completed,
 * not undone), nor outside a request (tests that drive ops directly). The
 * log has room for what one request changes (caps.log); past it the daemon
 * aborts (a bug: the sizes say it cannot happen). O(len).
 */
void ledger_save(struct ledger *l, const void *p, size_t len);

/*
 * A change that must stand even if the request is undone: the len bytes at
 * p will hold value after a takeover, whatever the request's later records
 * restore (the log is undone in reverse, so this record, written before
 * them, is applied after them). For what the request did to the world
 * outside the books before it could commit: lease take-back has emptied a
 * client's page slot, and undoing the drop of that hold would leave a
 * block held that the client no longer knows it caches. Write it as the
 * first store after the outside change; the caller's ledger_save and change
 * follow as usual. Only while a request's log is open, like ledger_save.
 */
void ledger_settle(struct ledger *l, const void *p, const void *value, size_t len);

/*
 * Commit slot's request id with status and its reply frame (len <=
 * reply_max bytes): the reply into the spare buffer, the commit fields
 * (logged), then the log closes with one atomic store. O(len).
 */
void ledger_commit(struct ledger *l, uint32_t slot, uint64_t id, int status, const void *reply,
		   size_t len);

/* The reply frame of slot's applied_id (*len bytes). */
const uint8_t *ledger_reply(const struct ledger *l, uint32_t slot, size_t *len);

/* Ending session slot: open the log as "ending" (after this, a takeover
 * completes the end), then the caller drops its holds unlogged, then
 * ledger_end_done clears the record and closes the log. */
void ledger_end_begin(struct ledger *l, uint32_t slot);
void ledger_end_done(struct ledger *l, uint32_t slot);

/* A session record's used: a session whose hello reply has not been sent
 * yet is NEW; a takeover reclaims it, since no client can resume a session
 * it never got the token of (and no reply after the hello's can have
 * reached it either). GREETED just before the reply is sent (a death in
 * between leaves a session nobody resumes until its process exits, the
 * harmless way round). */
enum { LEDGER_SESS_NEW = 1, LEDGER_SESS_GREETED = 2 };

/* A new session record in slot (not used): filled by the caller, then
 * ledger_sess_publish sets used (LEDGER_SESS_NEW). */
void ledger_sess_publish(struct ledger *l, uint32_t slot);

/* The hello reply of slot's session goes to its client now (with the
 * region memfds: server.c), so the client can resume it:
 * LEDGER_SESS_GREETED. */
void ledger_sess_greeted(struct ledger *l, uint32_t slot);

/*
 * At a takeover, before anything reads the books: undo an open request
 * (records in reverse), checking each lies within the sessions or holds
 * section. Returns the slot of an ending session to complete (its log
 * stays ENDING until ledger_end_done), UINT32_MAX when none, or a
 * negative errno (damaged log) with the reason in e.
 */
int64_t ledger_recover(struct ledger *l, struct errbuf *e);

#endif
