/*
 * books: taking over the books a dead serving process left, and resuming
 * its sessions (see books.h). The books are trusted for nothing: every
 * index is checked before it is used, and a check that fails names what
 * is wrong ("books: ...", -EBADMSG) instead of crashing or guessing.
 *
 * Order of a takeover: adopt the file (ledger_adopt), undo or complete the
 * request its log left open (ledger_recover), check every record, reclaim
 * the sessions whose process is gone (their holds cleared before their
 * record, so that a crash half-way leaves a record the next takeover finds
 * gone again), then rebuild the derived state from what remains.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/books.h"
#include "daemon/log.h"
#include "daemon/state.h"

/* A heap allocation as the books have it, for tlsf_rebuild. */
struct heap_span {
	uint32_t obj, unit, granules;
};

static int cmp_span(const void *a, const void *b)
{
	const struct heap_span *x = a, *y = b;

	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	return x->unit < y->unit ? -1 : x->unit > y->unit;
}

static struct hold *entry(const struct ledger *l, uint32_t i)
{
	return (struct hold *) l->holds + i;
}

/* Is hold entry h something this daemon's table can hold? */
static int check_hold(const struct daemon *d, const struct ledger *l, uint32_t i, struct errbuf *e)
{
	const struct hold *h = entry(l, i);
	const struct object *o;

	if (h->used != 1)
		return errbuf_set(e, -EBADMSG, "books: hold %u: used flag %u", i, h->used);
	if (h->session >= l->head->sess_cap || !l->sess[h->session].used)
		return errbuf_set(e, -EBADMSG, "books: hold %u: session slot %u is not a session",
				  i, h->session);
	if (h->obj >= d->table.nobjects)
		return errbuf_set(e, -EBADMSG, "books: hold %u: object %u of %zu", i, h->obj,
				  d->table.nobjects);
	o = d->table.objects[h->obj];
	if (o->gone || o->kind == OBJ_GROUP)
		return errbuf_set(e, -EBADMSG, "books: hold %u: object %u ('%s') holds nothing", i,
				  h->obj, o->name);
	if (o->kind == OBJ_POOL) {
		if (h->unit >= pool_blocks(o))
			return errbuf_set(e, -EBADMSG,
					  "books: hold %u: block %u of pool '%s' (%llu)", i,
					  h->unit, o->name, (unsigned long long) pool_blocks(o));
		return 0;
	}
	if (h->granules == 0 ||
	    ((uint64_t) h->unit + h->granules) << o->u.heap.granule_shift > o->size)
		return errbuf_set(e, -EBADMSG,
				  "books: hold %u: heap '%s' span of %u granules at %u is outside "
				  "it",
				  i, o->name, h->granules, h->unit);
	return 0;
}

static int check_sessions(const struct daemon *d, const struct ledger *l, struct errbuf *e)
{
	for (uint32_t i = 0; i < l->head->sess_cap; i++) {
		const struct ledger_sess *r = &l->sess[i];

		if (r->used == 0)
			continue;
		if (r->used > LEDGER_SESS_GREETED || r->id == 0 ||
		    r->id > l->head->next_session_id || r->pid <= 0)
			return errbuf_set(
			    e, -EBADMSG,
			    "books: session slot %u: used %u, id %llu (of %llu), pid %d", i,
			    r->used, (unsigned long long) r->id,
			    (unsigned long long) l->head->next_session_id, r->pid);
		if (r->commit.reply_cur > 1 || r->commit.reply_len[0] > l->head->reply_max ||
		    r->commit.reply_len[1] > l->head->reply_max)
			return errbuf_set(
			    e, -EBADMSG,
			    "books: session slot %u: reply buffer %u, replies of %u and "
			    "%u bytes (at most %u)",
			    i, r->commit.reply_cur, r->commit.reply_len[0], r->commit.reply_len[1],
			    l->head->reply_max);
		if (i >= d->cfg.max_clients)
			return errbuf_set(e, -EBADMSG,
					  "books: session slot %u is past max_clients %u", i,
					  d->cfg.max_clients);
	}
	return 0;
}

/* Is the process of record r still the one that connected (the pid
 * exists and started when it did)? *pidfd gets a pidfd for the server to
 * watch, or -1 when none can be had (a kernel before 5.3, valgrind): the
 * session then waits for its client or the daemon's stop. */
static bool process_alive(const struct ledger_sess *r, int *pidfd)
{
	int fd = (int) syscall(SYS_pidfd_open, r->pid, 0);

	*pidfd = -1;
	if (fd < 0 && errno == ESRCH)
		return false;
	/* After the pidfd: a process gone in between reads as 0 here. */
	if (session_start_time(r->pid) != r->start_time) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	*pidfd = fd;
	return true;
}

/* Clear the holds of every session whose process is gone, then their
 * records; pidfds[i] gets the pidfd of each live one. Returns the holds
 * cleared. */
static uint64_t reclaim_gone(struct daemon *d, struct ledger *l, int *pidfds)
{
	uint32_t top = l->head->hold_top, gone = 0;
	uint8_t *dead = calloc(l->head->sess_cap, 1);
	uint64_t n = 0;

	if (dead == NULL)
		return 0; /* nobody reclaimed now: their pidfds are -1, so the
			   * server ends them as soon as it runs */
	for (uint32_t i = 0; i < l->head->sess_cap; i++)
		if (l->sess[i].used == LEDGER_SESS_NEW ||
		    (l->sess[i].used && !process_alive(&l->sess[i], &pidfds[i]))) {
			dead[i] = 1;
			gone++;
		}
	for (uint32_t i = 0; gone > 0 && i < top; i++) {
		struct hold *h = entry(l, i);

		if (h->used && dead[h->session]) {
			__atomic_store_n(&h->used, 0, __ATOMIC_RELEASE);
			ledger_wrote(l);
			n++;
		}
	}
	for (uint32_t i = 0; i < l->head->sess_cap; i++) {
		if (!dead[i])
			continue;
		log_info("client %llu (pid %d, %.16s) %s: reclaimed",
			 (unsigned long long) l->sess[i].id, l->sess[i].pid, l->sess[i].comm,
			 l->sess[i].used == LEDGER_SESS_NEW ? "never got its hello reply"
							    : "gone during the takeover");
		__atomic_store_n(&l->sess[i].used, 0, __ATOMIC_RELEASE);
		ledger_wrote(l);
	}
	free(dead);
	d->reclaimed += n;
	return n;
}

/* A detached session for record r in slot: what session_new would make,
 * from the books. */
static int adopt_session(struct daemon *d, uint32_t slot, struct ledger_sess *r, int pidfd)
{
	struct session *s = calloc(1, sizeof(*s));
	uint64_t live = 0;

	if (s != NULL)
		s->held = calloc(d->table.nobjects ? d->table.nobjects : 1, sizeof(*s->held));
	if (s != NULL && s->held != NULL)
		s->tenant = tenants_join(&d->tenants, r->uid);
	if (s == NULL || s->held == NULL || s->tenant == NULL) {
		if (s != NULL)
			free(s->held);
		free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->table.nregions; i++)
		if (!d->table.regions[i]->gone)
			live |= UINT64_C(1) << i;
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->client_name[sizeof(r->client_name) - 1] = '\0';
	s->id = r->id;
	s->slot = slot;
	s->pid = r->pid;
	s->uid = r->uid;
	s->gid = r->gid;
	memcpy(s->comm, r->comm, sizeof(s->comm));
	memcpy(s->client_name, r->client_name, sizeof(s->client_name));
	s->since_ms = r->since_ms;
	s->regions = r->regions & live;
	s->sent = r->sent & live;
	s->admin = r->admin != 0;
	s->leases = r->leases != 0;
	s->start_time = r->start_time;
	memcpy(s->token, r->token, sizeof(s->token));
	s->rec = r;
	s->hold_head = HOLD_NIL;
	s->lease.fd = -1;
	s->pidfd = pidfd;
	s->detached = true;
	s->hello_done = true;
	s->log_window_ms = daemon_now_ms();
	d->slots[slot] = s;
	d->nsessions++;
	return 0;
}

/* The heaps' allocations, checked -- the same unit of several holders
 * with one size, none overlapping the next, at most max_allocs a heap --
 * and with build, made their TLSF heaps' (tlsf_rebuild, which the checks
 * leave nothing to refuse). O(heap holds log heap holds). */
static int heaps(struct daemon *d, struct ledger *l, bool build, struct errbuf *e)
{
	uint32_t top = l->head->hold_top, n = 0;
	struct heap_span *v = NULL;
	struct tlsf_span *live = NULL;
	int rc = 0;

	for (uint32_t i = 0; i < top; i++)
		if (entry(l, i)->used && d->table.objects[entry(l, i)->obj]->kind == OBJ_HEAP)
			n++;
	if (n == 0)
		return 0;
	v = malloc((size_t) n * sizeof(*v));
	live = malloc((size_t) n * sizeof(*live));
	if (v == NULL || live == NULL) {
		rc = errbuf_set(e, -ENOMEM, "books: out of memory for %u heap spans", n);
		goto out;
	}
	n = 0;
	for (uint32_t i = 0; i < top; i++) {
		const struct hold *h = entry(l, i);

		if (h->used && d->table.objects[h->obj]->kind == OBJ_HEAP)
			v[n++] = (struct heap_span){h->obj, h->unit, h->granules};
	}
	qsort(v, n, sizeof(*v), cmp_span);
	for (uint32_t i = 0, j; i < n && rc == 0; i = j) {
		struct object *o = d->table.objects[v[i].obj];
		unsigned shift = o->u.heap.granule_shift;
		size_t k = 0;

		for (j = i; j < n && v[j].obj == v[i].obj && rc == 0; j++) {
			if (j > i && v[j].unit == v[j - 1].unit) {
				if (v[j].granules != v[j - 1].granules)
					rc =
					    errbuf_set(e, -EBADMSG,
						       "books: heap '%s': the allocation at %u has "
						       "two sizes",
						       o->name, v[j].unit);
				continue;
			}
			if (j > i && (uint64_t) v[j - 1].unit + v[j - 1].granules > v[j].unit)
				rc = errbuf_set(e, -EBADMSG,
						"books: heap '%s': the allocations at %u and %u "
						"overlap",
						o->name, v[j - 1].unit, v[j].unit);
			live[k++] = (struct tlsf_span){(uint64_t) v[j].unit << shift,
						       (uint64_t) v[j].granules << shift};
		}
		if (rc == 0 && k > o->u.heap.cfg->max_allocs)
			rc = errbuf_set(e, -EBADMSG,
					"books: heap '%s': %zu allocations, max_allocs is %u",
					o->name, k, o->u.heap.cfg->max_allocs);
		if (rc == 0 && build && tlsf_rebuild(o->u.heap.tlsf, live, k) < 0)
			rc = errbuf_set(e, -EBADMSG, "books: heap '%s' cannot be rebuilt", o->name);
	}
out:
	free(v);
	free(live);
	return rc;
}

/* The pools' blocks at once: one pass over the entries into two bitmaps
 * per pool -- held, held by two or more -- then each pool loads the first
 * (sys_mem_blocks_rebuild) and its shared bits are the second (lease.h).
 * O(holds + blocks / 64). */
static int rebuild_pools(struct daemon *d, struct ledger *l, struct errbuf *e)
{
	size_t nobj = d->table.nobjects;
	uint64_t **maps = calloc(nobj ? nobj * 2 : 1, sizeof(*maps));
	int rc = 0;

	if (maps == NULL)
		return errbuf_set(e, -ENOMEM, "books: out of memory");
	for (size_t i = 0; i < nobj && rc == 0; i++) {
		const struct object *o = d->table.objects[i];
		size_t nw = (pool_blocks(o) + 63) / 64;

		if (o->gone || o->kind != OBJ_POOL)
			continue;
		maps[2 * i] = calloc(nw, sizeof(uint64_t));
		maps[2 * i + 1] = calloc(nw, sizeof(uint64_t));
		if (maps[2 * i] == NULL || maps[2 * i + 1] == NULL)
			rc = errbuf_set(e, -ENOMEM, "books: out of memory");
	}
	for (uint32_t i = 0; rc == 0 && i < l->head->hold_top; i++) {
		const struct hold *h = entry(l, i);
		uint64_t *held = maps[2 * h->obj], m = UINT64_C(1) << (h->unit % 64);

		if (!h->used || held == NULL)
			continue;
		if (held[h->unit / 64] & m)
			maps[2 * h->obj + 1][h->unit / 64] |= m;
		held[h->unit / 64] |= m;
	}
	for (size_t i = 0; i < nobj && rc == 0; i++) {
		struct object *o = d->table.objects[i];
		size_t nw = (pool_blocks(o) + 63) / 64;

		if (maps[2 * i] == NULL)
			continue;
		if (sys_mem_blocks_rebuild(&o->u.pool.mb, maps[2 * i], nw) < 0)
			rc = errbuf_set(e, -EBADMSG, "books: pool '%s' cannot be rebuilt", o->name);
		else
			memcpy(o->u.pool.bits, maps[2 * i + 1], nw * sizeof(uint64_t));
	}
	for (size_t i = 0; i < 2 * nobj; i++)
		free(maps[i]);
	free(maps);
	return rc;
}

/* Every used entry on its unit's and its session's list, and the
 * counters. */
static int link_holds(struct daemon *d, struct ledger *l, struct errbuf *e)
{
	uint32_t top = l->head->hold_top;

	for (uint32_t i = 0; i < top; i++) {
		struct hold *h = entry(l, i);
		struct object *o;
		struct session *s;
		uint32_t *head, id;
		uint64_t amount;

		if (!h->used)
			continue;
		o = d->table.objects[h->obj];
		s = d->slots[h->session];
		if (o->kind == OBJ_POOL) {
			head = &o->u.pool.holders[h->unit];
			amount = 1;
		} else {
			tlsf_id_of(o->u.heap.tlsf, (uint64_t) h->unit << o->u.heap.granule_shift,
				   &id);
			head = &o->u.heap.holders[id];
			amount = (uint64_t) h->granules << o->u.heap.granule_shift;
		}
		if (holds_find(&d->holds, *head, h->session) != HOLD_NIL)
			return errbuf_set(e, -EBADMSG,
					  "books: %s '%s' unit %u is held twice by client %llu",
					  object_kind_name(o->kind), o->name, h->unit,
					  (unsigned long long) s->id);
		holds_link(&d->holds, i, head, &s->hold_head);
		s->held[o->index].amount += amount;
		s->held[o->index].holds++;
		s->tenant->held[o->index] += amount;
		s->tenant->holds[o->region->index]++;
		o->region->holds++;
	}
	return 0;
}

/*
 * Back to fresh books after a failure past the swap (out of memory, a unit
 * held twice by one session): every count and head cleared, the adopted
 * sessions released, the heaps' allocations freed (by the entries that
 * made them; pools are rebuilt last, so they are still empty), the shared
 * bits cleared, the books replaced by fresh ones. 0, or the error of making those (then d can
 * only be released).
 */
static int unwind(struct daemon *d, const struct ledger_caps *caps)
{
	struct errbuf e;
	int rc;

	for (uint32_t i = 0; i < d->books.head->hold_top; i++) {
		const struct hold *h = entry(&d->books, i);
		struct object *o = d->table.objects[h->obj];

		/* A unit of several holders: freed once, -EFAULT after. */
		if (h->used && o->kind == OBJ_HEAP)
			tlsf_free(o->u.heap.tlsf, (uint64_t) h->unit << o->u.heap.granule_shift);
	}
	for (size_t i = 0; i < d->table.nobjects; i++) {
		struct object *o = d->table.objects[i];
		uint64_t n = o->kind == OBJ_POOL   ? pool_blocks(o)
			     : o->kind == OBJ_HEAP ? tlsf_id_limit(o->u.heap.tlsf)
						   : 0;
		uint32_t *heads = o->kind == OBJ_POOL ? o->u.pool.holders : o->u.heap.holders;

		for (uint64_t k = 0; !o->gone && k < n; k++)
			heads[k] = HOLD_NIL;
		/* The shared bits are the dead process's until rebuilt. */
		if (!o->gone && o->kind == OBJ_POOL)
			memset(o->u.pool.bits, 0, (n + 63) / 64 * sizeof(uint64_t));
	}
	for (size_t i = 0; i < d->table.nregions; i++)
		d->table.regions[i]->holds = 0;
	/* Every tenant is of an adopted session: their counts go with them. */
	for (uint32_t i = 0; i < d->tenants.used; i++)
		if (d->tenants.v[i] != NULL) {
			memset(d->tenants.v[i]->held, 0,
			       d->tenants.nobjects * sizeof(*d->tenants.v[i]->held));
			memset(d->tenants.v[i]->holds, 0,
			       d->tenants.nregions * sizeof(*d->tenants.v[i]->holds));
		}
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (d->slots[i] != NULL)
			daemon_session_release(d, d->slots[i]);
	ledger_close(&d->books);
	d->next_session_id = 0;
	rc = ledger_create(&d->books, caps, &e);
	if (rc < 0)
		return rc;
	holds_init(&d->holds, &d->books, daemon_hold_limit(&d->cfg));
	return 0;
}

int books_takeover(struct daemon *d, int fd, struct errbuf *e)
{
	uint64_t t0 = daemon_now_ms(), gone;
	struct ledger_caps caps;
	struct ledger l;
	int64_t ending;
	int *pidfds = NULL;
	uint32_t cap = 0;
	int rc;

	daemon_books_caps(&d->cfg, d->max_batch, &caps);
	rc = ledger_adopt(&l, fd, &caps, e);
	if (rc < 0)
		return rc;
	/* Every check before anything of d changes. */
	ending = ledger_recover(&l, e);
	rc = ending < 0 ? (int) ending : check_sessions(d, &l, e);
	for (uint32_t i = 0; rc == 0 && i < l.head->hold_top; i++)
		if (entry(&l, i)->used != 0)
			rc = check_hold(d, &l, i, e);
	if (rc == 0)
		rc = heaps(d, &l, false, e);
	if (rc < 0)
		goto fail;
	if (ending != UINT32_MAX) {
		/* The end of a session was under way: finish it. */
		for (uint32_t i = 0; i < l.head->hold_top; i++)
			if (entry(&l, i)->used && entry(&l, i)->session == ending)
				entry(&l, i)->used = 0;
		ledger_end_done(&l, (uint32_t) ending);
	}
	cap = l.head->sess_cap;
	pidfds = malloc((size_t) cap * sizeof(*pidfds));
	if (pidfds == NULL) {
		rc = errbuf_set(e, -ENOMEM, "books: out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < cap; i++)
		pidfds[i] = -1;
	gone = reclaim_gone(d, &l, pidfds);
	/* From here d runs on these books. Pools last: what fails before
	 * them is undone without touching a pool (unwind). */
	ledger_close(&d->books);
	d->books = l;
	memset(&l, 0, sizeof(l));
	l.fd = -1;
	d->next_session_id = d->books.head->next_session_id;
	holds_relink(&d->holds, &d->books, daemon_hold_limit(&d->cfg));
	for (uint32_t i = 0; rc == 0 && i < d->books.head->sess_cap; i++) {
		if (!d->books.sess[i].used)
			continue;
		if (adopt_session(d, i, &d->books.sess[i], pidfds[i]) < 0)
			rc = errbuf_set(e, -ENOMEM, "books: out of memory for the sessions");
		else
			pidfds[i] = -1;
	}
	if (rc == 0)
		rc = heaps(d, &d->books, true, e);
	if (rc == 0)
		rc = link_holds(d, &d->books, e);
	if (rc == 0)
		rc = rebuild_pools(d, &d->books, e);
	if (rc < 0) {
		/* The books stay as they were, in the store's copy. */
		if (unwind(d, &caps) < 0)
			log_error("books: no fresh books after a refused takeover: out of memory");
		goto fail;
	}
	log_debug("books: %u session%s, %u hold%s, %llu reclaimed, rebuilt in %llu ms",
		  d->nsessions, log_s(d->nsessions), holds_count(&d->holds),
		  log_s(holds_count(&d->holds)), (unsigned long long) gone,
		  (unsigned long long) (daemon_now_ms() - t0));
	free(pidfds);
	return 0;

fail:
	for (uint32_t i = 0; pidfds != NULL && i < cap; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	free(pidfds);
	ledger_close(&l);
	return rc;
}

int books_open(struct daemon *d, struct fdstore *fs, bool discard, struct errbuf *e)
{
	int fd = fdstore_take(fs, "books"), rc = 0;

	if (fd >= 0)
		rc = books_takeover(d, fd, e);
	/* Refused books leave d with fresh ones (books_takeover); with
	 * discard the state goes too: a cold start. */
	if (rc < 0 && discard && d->books.base != NULL) {
		log_warn("%s: dropped (--discard-state): a cold start, every hold of the old "
			 "state is lost",
			 e->msg);
		rc = state_drop(&d->state, e);
	}
	if (rc < 0)
		return rc;
	rc = fdstore_put(fs, "books", d->books.fd);
	if (rc < 0)
		return errbuf_set(e, rc, "books: cannot keep them in the fd store: %s",
				  strerror(-rc));
	return 0;
}

/* Equal tokens, in time that does not depend on where they differ. */
static bool token_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < LEDGER_TOKEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int books_resume(struct daemon *d, struct session *s, uint64_t id, const uint8_t *token,
		 size_t token_len, struct errbuf *e)
{
	struct session *t = NULL;
	struct session_held *held;
	uint32_t slot = s->slot;

	for (uint32_t i = 0; i < d->cfg.max_clients && t == NULL; i++)
		if (d->slots[i] != NULL && d->slots[i]->id == id && d->slots[i]->detached)
			t = d->slots[i];
	if (t == NULL)
		return errbuf_set(e, -ESTALE, "no session %llu waiting to resume",
				  (unsigned long long) id);
	if (token_len != LEDGER_TOKEN || !token_equal(token, t->token) || t->pid != s->pid ||
	    t->uid != s->uid)
		return errbuf_set(e, -EPERM, "session %llu belongs to another process",
				  (unsigned long long) id);
	/* s's own record goes (it holds nothing), then s becomes t: its
	 * slot, identity, holds and last request. */
	ledger_end_begin(&d->books, slot);
	ledger_end_done(&d->books, slot);
	d->slots[slot] = NULL;
	s->slot = t->slot;
	s->id = t->id;
	s->since_ms = t->since_ms;
	s->start_time = t->start_time;
	s->regions = t->regions;
	memcpy(s->token, t->token, sizeof(s->token));
	s->rec = t->rec;
	s->hold_head = t->hold_head;
	held = s->held;
	s->held = t->held;
	t->held = held;
	/* t's connection count of the uid goes with it (s's stays). */
	daemon_session_release(d, t);
	d->slots[s->slot] = s;
	session_log(s, LOG_INFO, "resumed session %llu", (unsigned long long) id);
	return 0;
}
