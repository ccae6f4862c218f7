/*
 * books: the daemon's books across a takeover -- rebuilding the live state
 * from the books memfd (ledger.h) that a dead serving process left, and
 * sessions resuming on a new connection.
 *
 * What the books keep (ledger.h): the hold entries (session slot, object
 * index, unit, and for heaps the usable size in granules), the session
 * records (id, token, pid and its start time, uid, gid, regions, sent,
 * leases, comm, client name, since, the last mutating request's id,
 * outcome and reply), the next session id, the undo log. Everything else
 * is derived and rebuilt here: holder lists and heads, session lists, the
 * free list, pool bitmaps, TLSF heaps, shared bits, each session's held[],
 * the tenants, the regions' hold counts.
 *
 * Cold start: daemon_init makes fresh books (every daemon runs on them,
 * tests and fuzzers too). The memfd is d->books.fd, kept in the fd store
 * under "books" (books_open) so that the next serving process finds it.
 *
 * Object indices in the books are the object table's: the state (state.h)
 * makes index i the object it was when the books were written before the
 * books are taken over. Without it (books_open alone) the indices are the
 * configuration's order, which a reload that added objects may change.
 */
#ifndef ALLOCATORD_DAEMON_BOOKS_H
#define ALLOCATORD_DAEMON_BOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/errbuf.h"
#include "daemon/fdstore.h"

/*
 * Take over the books in fd (owned from now on, also on error) in place of
 * d's fresh ones; d is as daemon_init left it (no session, nothing held).
 * Checks everything read -- indices in range, sessions referenced exist, no
 * unit held twice by one session, a heap span inside its heap, a pool unit
 * below its blocks -- then undoes or completes the undo log, reclaims the
 * sessions whose process is gone (pidfd_open fails with ESRCH, or the
 * start time differs), and rebuilds the rest; those sessions are then
 * *detached* (no connection, holds kept) until their client resumes or
 * their process exits (the server watches s->pidfd). Returns 0, or a negative errno with
 * the reason in e ("books: ..."; -EBADMSG for damaged books), leaving d
 * with fresh empty books (so the caller may refuse, or discard the state)
 * -- or none (d->books.base NULL) when even those cannot be made: then d
 * can only be released.
 * O(holds log holds + sessions + blocks / 64).
 */
int books_takeover(struct daemon *d, int fd, struct errbuf *e);

/*
 * At start, after daemon_init (which drops books passed without a state
 * taken over): the books a previous serving process left in fs under
 * "books" taken over (books_takeover), else d's fresh ones kept; then
 * d->books.fd put in fs under "books" (again: a takeover may have made it
 * larger). Books refused with discard (--discard-state): a warning, the
 * state dropped (state_drop), a cold start with fresh books. No store:
 * nothing passed, nothing put. 0 or a negative errno with the reason in e.
 */
int books_open(struct daemon *d, struct fdstore *fs, bool discard, struct errbuf *e);

/*
 * Hello.resume_id/resume_token on s's connection: s takes over detached
 * session id -- its slot, id, token, holds, client name, last request --
 * and s's own record is released. -ESTALE "no session N waiting to resume"
 * (unknown or not detached), -EPERM "session N belongs to another process"
 * (token, SO_PEERCRED pid or uid differ): then nothing changes. O(slots).
 */
int books_resume(struct daemon *d, struct session *s, uint64_t id, const uint8_t *token,
		 size_t token_len, struct errbuf *e);

#endif
