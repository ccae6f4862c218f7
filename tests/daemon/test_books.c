/*
 * The books across a takeover (books.c, ledger.c): a serving process killed
 * after every one of its writes to the books in the middle of each kind of
 * request, and a new daemon taking over the same memfd, must find the
 * request applied wholly or not at all, every allocator whole and every
 * counter equal to a recount; damaged books are refused by name; a request
 * resent with the applied id is answered from the reply cache; resuming
 * checks the token, the pid and the uid; sessions whose process is gone
 * are reclaimed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/books.h"
#include "daemon/lease_page.h"
#include "daemon/ops.h"
#include "daemon/reload.h"
#include "daemon/stats.h"
#include "tests/common/seed.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

static const char config[] =
    "log_level = \"error\"; max_clients = 8; admin_slots = 0; max_clients_per_uid = 8;\n"
    "regions = ( { name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 64; uid_quota = 64; },\n"
    "            { name = \"q\"; block_size = 256; blocks = 16; uid_quota = 16; } );\n"
    "  heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64;\n"
    "              uid_quota = \"64K\"; } ); } );\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; } );\n";

static struct daemon D, D2;
static struct dispatch X, X2;
static struct session *A, *B, *C; /* uid 1000, 1001 (leases), 1000 */
static uint64_t Next_id;
static struct errbuf E;

/* A hold as the books have it, named by session id. */
struct canon {
	uint64_t sess;
	uint32_t obj, unit, granules;
};

static int cmp_canon(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct canon));
}

/* The books' holds of d, sorted: what must survive a takeover. */
static size_t canon(const struct daemon *d, struct canon *out, size_t max)
{
	const struct hold *v = d->books.holds;
	size_t n = 0;

	for (uint32_t i = 0; i < d->books.head->hold_top; i++) {
		if (!v[i].used)
			continue;
		ck_assert_uint_lt(n, max);
		memset(&out[n], 0, sizeof(out[n]));
		out[n].sess = d->books.sess[v[i].session].id;
		out[n].obj = v[i].obj;
		out[n].unit = v[i].unit;
		out[n].granules = v[i].granules;
		n++;
	}
	qsort(out, n, sizeof(*out), cmp_canon);
	return n;
}

static void teardown(void)
{
	if (X2.d != NULL)
		dispatch_fini(&X2);
	if (D2.slots != NULL)
		daemon_fini(&D2);
	if (X.d != NULL)
		dispatch_fini(&X);
	if (D.slots != NULL)
		daemon_fini(&D);
	memset(&X, 0, sizeof(X));
	memset(&X2, 0, sizeof(X2));
}

/* One request through dispatch: its status; allocation offsets into
 * out[0..*n) when out. */
static int call(struct dispatch *x, struct session *s, Allocd__Request *r, uint64_t *out, size_t *n)
{
	Allocd__Reply *rep;
	int status;

	r->version = 1;
	r->id = ++Next_id;
	fixture_put_request(s, r);
	ck_assert_int_eq(dispatch_input(x, s, SIZE_MAX), 0);
	rep = fixture_take_reply(s);
	ck_assert_ptr_nonnull(rep);
	status = rep->status;
	if (out != NULL) {
		*n = 0;
		if (rep->body_case == ALLOCD__REPLY__BODY_ALLOC)
			for (size_t i = 0; i < rep->alloc->n_offsets; i++)
				out[(*n)++] = rep->alloc->offsets[i];
	}
	allocd__reply__free_unpacked(rep, NULL);
	return status;
}

static int req_alloc(struct dispatch *x, struct session *s, const char *pool, uint64_t count,
		     bool contiguous)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	uint64_t off[64];
	size_t n;

	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = (char *) pool;
	a.count = count;
	a.contiguous = contiguous;
	return call(x, s, &r, off, &n);
}

static int req_group(struct dispatch *x, struct session *s, uint64_t cfg, uint64_t count)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__GroupAlloc g = ALLOCD__GROUP_ALLOC__INIT;

	r.body_case = ALLOCD__REQUEST__BODY_GROUP_ALLOC;
	r.group_alloc = &g;
	g.group = "g";
	g.cfg = cfg;
	g.count = count;
	return call(x, s, &r, NULL, NULL);
}

static int req_heap(struct dispatch *x, struct session *s, uint64_t size)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__HeapAlloc h = ALLOCD__HEAP_ALLOC__INIT;

	r.body_case = ALLOCD__REQUEST__BODY_HEAP_ALLOC;
	r.heap_alloc = &h;
	h.heap = "h";
	h.size = size;
	return call(x, s, &r, NULL, NULL);
}

/* Free (retain: Retain) n offsets of name. */
static int req_drop(struct dispatch *x, struct session *s, bool retain, const char *name,
		    uint64_t *off, size_t n)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Free f = ALLOCD__FREE__INIT;
	Allocd__Retain t = ALLOCD__RETAIN__INIT;

	if (retain) {
		r.body_case = ALLOCD__REQUEST__BODY_RETAIN;
		r.retain = &t;
		t.name = (char *) name;
		t.offsets = off;
		t.n_offsets = n;
	} else {
		r.body_case = ALLOCD__REQUEST__BODY_FREE;
		r.free = &f;
		f.name = (char *) name;
		f.offsets = off;
		f.n_offsets = n;
	}
	return call(x, s, &r, NULL, NULL);
}

/* Up to max region offsets of object name that s holds (first first). */
static size_t held_offsets(struct daemon *d, struct session *s, const char *name, uint64_t *off,
			   size_t max)
{
	struct object *o = fixture_object(d, name);
	const struct hold *v = d->holds.v;
	size_t n = 0;

	for (uint32_t i = s->hold_head; i != HOLD_NIL && n < max; i = v[i].sess_next) {
		if (v[i].obj != o->index)
			continue;
		off[n++] = o->kind == OBJ_POOL
			       ? o->offset + (uint64_t) v[i].unit * pool_block_size(o)
			       : o->offset + ((uint64_t) v[i].unit << o->u.heap.granule_shift);
	}
	return n;
}

/* A deterministic history: A, B, C allocate, retain and free all kinds;
 * B caches 4 blocks of p in its lease page; p is left with 3 free. */
static void setup_history(void)
{
	struct object *p;
	uint64_t off[8];
	uint32_t *slots;
	size_t n;

	fixture_daemon(&D, config);
	fixture_dispatch(&X, &D);
	A = fixture_session(&D, 1000, 1000);
	B = fixture_session(&D, 1001, 1001);
	C = fixture_session(&D, 1000, 1000);
	p = fixture_object(&D, "p");
	Next_id = 0;
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(req_alloc(&X, A, "p", 3, false), 0);
		ck_assert_int_eq(req_heap(&X, A, 100 + 300 * (uint64_t) i), 0);
		ck_assert_int_eq(req_group(&X, C, 200, 1), 0);
		ck_assert_int_eq(req_alloc(&X, C, "q", 1, false), 0);
	}
	n = held_offsets(&D, A, "p", off, 4);
	ck_assert_int_eq(req_drop(&X, C, true, "p", off, n), 0);
	n = held_offsets(&D, A, "h", off, 2);
	ck_assert_int_eq(req_drop(&X, B, true, "h", off, n), 0);
	ck_assert_int_eq(req_drop(&X, A, false, "h", off, 1), 0);
	n = held_offsets(&D, A, "p", off, 2);
	ck_assert_int_eq(req_drop(&X, A, false, "p", off, n), 0);
	/* B's cache: 4 blocks listed in its lease page. */
	B->leases = true;
	ck_assert_int_eq(lease_page_open(&D.table, B->regions, &B->lease), 0);
	slots = lease_page_array(&B->lease, p);
	ck_assert_ptr_nonnull(slots);
	ck_assert_int_eq(req_alloc(&X, B, "p", 4, false), 0);
	n = held_offsets(&D, B, "p", off, 4);
	for (size_t i = 0; i < n; i++)
		slots[i] = (uint32_t) ((off[i] - p->offset) / pool_block_size(p)) + 1;
	while (sys_mem_blocks_free_count(&p->u.pool.mb) > 3)
		ck_assert_int_eq(req_alloc(&X, A, "p", 1, false), 0);
}

enum kind {
	K_TAKE_BACK, /* an allocation that takes B's cached blocks back */
	K_GROUP,
	K_HEAP,
	K_FREE,
	K_FREE_FAILS, /* drops two holds, then an offset is bad: undone by ops */
	K_RETAIN,
	K_RUN,
	K_END, /* ops_end_session(B): completed, never undone */
	K_KINDS
};

/* The request of kind k, checking its status; the session that made it
 * (its commit says whether it was applied), NULL for K_END. */
static struct session *apply(enum kind k)
{
	struct object *p = fixture_object(&D, "p");
	uint64_t off[4];
	size_t n;

	switch (k) {
	case K_TAKE_BACK:
		ck_assert_int_eq(
		    req_alloc(&X, A, "p", sys_mem_blocks_free_count(&p->u.pool.mb) + 2, false), 0);
		return A;
	case K_GROUP:
		ck_assert_int_eq(req_group(&X, C, 100, 3), 0);
		return C;
	case K_HEAP:
		ck_assert_int_eq(req_heap(&X, C, 1000), 0);
		return C;
	case K_FREE:
		n = held_offsets(&D, A, "p", off, 3);
		ck_assert_int_eq(req_drop(&X, A, false, "p", off, n), 0);
		return A;
	case K_FREE_FAILS:
		n = held_offsets(&D, A, "p", off, 2);
		off[n++] = p->offset + 1;
		ck_assert_int_eq(req_drop(&X, A, false, "p", off, n), -EFAULT);
		return A;
	case K_RETAIN:
		n = held_offsets(&D, A, "h", off, 2);
		ck_assert_int_eq(req_drop(&X, C, true, "h", off, n), 0);
		return C;
	case K_RUN:
		ck_assert_int_eq(req_alloc(&X, C, "q", 3, true), 0);
		return C;
	default:
		ops_end_session(&X.ops, B);
		return NULL;
	}
}

/* Every allocator of d whole, and every counter equal to a recount of the
 * holds: what a rebuild must give. */
static void check_whole(struct daemon *d)
{
	uint64_t region_holds = 0;

	for (size_t i = 0; i < d->table.nobjects; i++) {
		struct object *o = d->table.objects[i];
		uint64_t units = 0;

		if (o->kind == OBJ_POOL) {
			ck_assert_int_eq(bitarray_check(&o->u.pool.mb.bitmap), 0);
			for (uint64_t b = 0; b < pool_blocks(o); b++) {
				uint32_t k = 0;

				for (uint32_t h = o->u.pool.holders[b]; h != HOLD_NIL;
				     h = d->holds.v[h].next_unit)
					k++;
				units += k > 0;
				ck_assert_int_eq((o->u.pool.bits[b / 64] >> (b % 64)) & 1, k >= 2);
			}
			ck_assert_uint_eq(pool_used(o), units);
		} else if (o->kind == OBJ_HEAP) {
			struct tlsf_stats st;

			ck_assert_int_eq(tlsf_check(o->u.heap.tlsf), 0);
			tlsf_get_stats(o->u.heap.tlsf, &st);
			for (uint32_t id = 0; id < o->u.heap.cfg->max_allocs; id++)
				units += o->u.heap.holders[id] != HOLD_NIL;
			ck_assert_uint_eq(st.live, units);
		}
	}
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		struct session *s = d->slots[i];
		struct session_held held[8];

		if (s == NULL)
			continue;
		memset(held, 0, sizeof(held));
		for (uint32_t h = s->hold_head; h != HOLD_NIL; h = d->holds.v[h].sess_next) {
			const struct hold *e = &d->holds.v[h];
			struct object *o = d->table.objects[e->obj];

			ck_assert_uint_eq(e->session, i);
			held[e->obj].holds++;
			held[e->obj].amount += o->kind == OBJ_POOL ? 1
								   : (uint64_t) e->granules
									 << o->u.heap.granule_shift;
			region_holds++;
		}
		for (size_t o = 0; o < d->table.nobjects; o++) {
			ck_assert_uint_eq(s->held[o].holds, held[o].holds);
			ck_assert_uint_eq(s->held[o].amount, held[o].amount);
		}
	}
	ck_assert_uint_eq(d->table.regions[0]->holds, region_holds);
	ck_assert_uint_eq(holds_count(&d->holds), region_holds);
}

/* Take D's books over into D2 (D's process is "dead": only its memfd is
 * used from here). */
static int take_over(void)
{
	fixture_daemon(&D2, config);
	fixture_dispatch(&X2, &D2);
	return books_takeover(&D2, dup(D.books.fd), &E);
}

/* End every session of D2: everything must come back. */
static void end_all(void)
{
	for (uint32_t i = 0; i < D2.cfg.max_clients; i++)
		if (D2.slots[i] != NULL)
			ops_end_session(&X2.ops, D2.slots[i]);
	ck_assert_msg(daemon_verify_idle(&D2, &E) == 0, "%s", E.msg);
}

static void fini_both(void)
{
	teardown();
	memset(&D, 0, sizeof(D));
	memset(&D2, 0, sizeof(D2));
}

/* B's lease page slots for pool p, as the client sees them. */
static const uint32_t *b_slots(void)
{
	return lease_page_array(&B->lease, fixture_object(&D, "p"));
}

/* v (n holds of the books before a request) less B's holds of the blocks
 * whose slots were listed in was and are empty now: what a take-back that
 * emptied them must leave even when its request is undone -- B's client
 * no longer lists those blocks, so B must no longer hold them. */
static size_t less_taken(struct canon *v, size_t n, const uint32_t *was)
{
	const struct object *p = fixture_object(&D, "p");
	const uint32_t *now = b_slots();
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		bool taken = false;

		for (uint32_t j = 0; j < 4; j++)
			taken |= was[j] != 0 && now[j] == 0 && v[i].sess == B->id &&
				 v[i].obj == p->index && v[i].unit == was[j] - 1;
		if (!taken)
			v[k++] = v[i];
	}
	return k;
}

/* The heart of it: for each kind of request, a serving process killed
 * right after each of its writes to the books (and one not killed), and a
 * takeover finding exactly the books before or after the request. */
START_TEST(test_books_killed_at_every_write)
{
	static struct canon before[512], after[512], got[512];
	enum kind k = (enum kind) _i;
	size_t nb, na, ng;
	uint64_t writes, id_before, id_after;
	struct session *by;
	uint32_t slot;

	setup_history();
	nb = canon(&D, before, 512);
	id_before = A->rec->commit.applied_id;
	id_after = C->rec->commit.applied_id; /* for now: C's before */
	D.books.fault_at = UINT64_MAX;        /* counts, never fires */
	by = apply(k);
	writes = D.books.writes;
	na = canon(&D, after, 512);
	if (by == C)
		id_before = id_after;
	id_after = Next_id;
	slot = by != NULL ? by->slot : 0;
	ck_assert_uint_gt(writes, 1);
	fini_both();

	for (uint64_t n = 1; n <= writes + 1; n++) {
		static struct canon settled[512];
		uint32_t was[4];
		size_t ns;
		pid_t pid;
		int st;
		bool is_after;

		setup_history();
		memcpy(was, b_slots(), sizeof(was));
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			D.books.fault_at = n;
			D.books.writes = 0;
			apply(k);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		if (n <= writes)
			ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
				      "kind %d write %llu: status %#x", k, (unsigned long long) n,
				      st);
		else
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
		/* The page is shared with the child: what it emptied shows. */
		memcpy(settled, before, nb * sizeof(*before));
		ns = less_taken(settled, nb, was);
		ck_assert_msg(take_over() == 0, "kind %d write %llu: %s", k, (unsigned long long) n,
			      E.msg);
		ng = canon(&D2, got, 512);
		is_after = ng == na && memcmp(got, after, ng * sizeof(*got)) == 0;
		ck_assert_msg(
		    is_after || (ng == ns && memcmp(got, settled, ng * sizeof(*got)) == 0),
		    "kind %d killed after write %llu of %llu: %zu holds, neither before "
		    "(%zu, less %zu taken back) nor after (%zu)",
		    k, (unsigned long long) n, (unsigned long long) writes, ng, nb, nb - ns, na);
		if (n > writes || k == K_END)
			ck_assert_msg(is_after, "kind %d write %llu: not applied", k,
				      (unsigned long long) n);
		/* The commit goes with the holds: applied_id says which (for
		 * a request that changes no hold, it says which it was). */
		if (by != NULL && nb != na)
			ck_assert_uint_eq(D2.books.sess[slot].commit.applied_id,
					  is_after ? id_after : id_before);
		else if (by != NULL)
			ck_assert(D2.books.sess[slot].commit.applied_id == id_before ||
				  D2.books.sess[slot].commit.applied_id == id_after);
		ck_assert_int_eq(D2.books.head->log_state, LEDGER_LOG_CLOSED);
		check_whole(&D2);
		end_all();
		fini_both();
	}
}
END_TEST

#define SEQ 8 /* requests in a random sequence */

/* One random request of A, B or C: an allocation of any kind, a free of
 * what it holds, a retain of what another holds; whatever its status. The
 * choices follow rng and the daemon's state only, so the same seed makes
 * the same requests on the same history. */
static void random_request(struct test_rng *rng)
{
	static const char *const held_in[] = {"p", "q", "h"};
	struct session *who[] = {A, B, C}, *s = who[test_rng_below(rng, 3)];
	struct session *other = who[test_rng_below(rng, 3)];
	const char *name = held_in[test_rng_below(rng, 3)];
	uint64_t off[4];
	size_t n;

	switch (test_rng_below(rng, 6)) {
	case 0:
		req_alloc(&X, s, test_rng_below(rng, 2) ? "p" : "q", 1 + test_rng_below(rng, 4),
			  false);
		break;
	case 1:
		req_group(&X, s, 64 + 200 * test_rng_below(rng, 2), 1 + test_rng_below(rng, 3));
		break;
	case 2:
		req_heap(&X, s, 64 + test_rng_below(rng, 2000));
		break;
	case 3:
		n = held_offsets(&D, s, name, off, 1 + test_rng_below(rng, 3));
		req_drop(&X, s, false, name, off, n);
		break;
	case 4:
		n = held_offsets(&D, other, name, off, 1 + test_rng_below(rng, 2));
		req_drop(&X, s, true, name, off, n);
		break;
	default:
		req_alloc(&X, s, "q", 1 + test_rng_below(rng, 3), true);
		break;
	}
}

/* A random sequence of requests, the serving process killed after each of
 * its writes to the books: the takeover finds exactly the state after the
 * requests that committed before the kill -- none of the one under way,
 * except the drops of the cached blocks it took back from B's page, whose
 * slots it emptied (less_taken). */
START_TEST(test_books_killed_in_random_sequences)
{
	static struct canon state[SEQ + 1][512], got[512], want[512];
	static size_t nstate[SEQ + 1];
	uint64_t seed = test_seed("books_killed_in_random_sequences"), done[SEQ];
	uint32_t was[SEQ][4]; /* B's slots before each request */
	struct test_rng rng;

	setup_history();
	test_rng_init(&rng, seed);
	D.books.fault_at = UINT64_MAX; /* counts, never fires */
	for (int k = 0; k < SEQ; k++) {
		nstate[k] = canon(&D, state[k], 512);
		memcpy(was[k], b_slots(), sizeof(was[k]));
		random_request(&rng);
		done[k] = D.books.writes;
	}
	nstate[SEQ] = canon(&D, state[SEQ], 512);
	fini_both();

	for (uint64_t n = 1; n <= done[SEQ - 1]; n++) {
		size_t ng, nw, j = 0;
		pid_t pid;
		int st;

		setup_history();
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			test_rng_init(&rng, seed);
			D.books.fault_at = n;
			D.books.writes = 0;
			for (int k = 0; k < SEQ; k++)
				random_request(&rng);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "write %llu: status %#x",
			      (unsigned long long) n, st);
		ck_assert_msg(take_over() == 0, "seed %llu write %llu: %s",
			      (unsigned long long) seed, (unsigned long long) n, E.msg);
		while (j < SEQ && done[j] <= n)
			j++;
		/* The page is shared with the child: what it emptied shows. */
		memcpy(want, state[j], nstate[j] * sizeof(*want));
		nw = j < SEQ ? less_taken(want, nstate[j], was[j]) : nstate[j];
		ng = canon(&D2, got, 512);
		ck_assert_msg(ng == nw && memcmp(got, want, ng * sizeof(*got)) == 0,
			      "seed %llu killed after write %llu: %zu holds, not the %zu after "
			      "request %zu (less %zu taken back)",
			      (unsigned long long) seed, (unsigned long long) n, ng, nw, j,
			      nstate[j] - nw);
		check_whole(&D2);
		end_all();
		fini_both();
	}
}
END_TEST

/* What a rebuilt daemon serves: the same sessions, detached; their holds
 * freed by their owners as before the takeover. */
START_TEST(test_books_takeover_serves_on)
{
	struct canon before[512], got[512];
	size_t nb, ng;

	setup_history();
	nb = canon(&D, before, 512);
	ck_assert_int_eq(take_over(), 0);
	ng = canon(&D2, got, 512);
	ck_assert_uint_eq(ng, nb);
	ck_assert_int_eq(memcmp(got, before, nb * sizeof(*got)), 0);
	ck_assert_uint_eq(D2.nsessions, 3);
	ck_assert(D2.slots[A->slot]->detached);
	ck_assert_uint_eq(D2.slots[A->slot]->id, A->id);
	ck_assert_uint_eq(D2.next_session_id, D.next_session_id);
	check_whole(&D2);
	/* memctl status and clients say who is detached. */
	{
		Allocd__StatusReply st;
		Allocd__ClientsReply cr;
		struct session *m = fixture_session(&D2, 0, 0);

		ck_assert_int_eq(stats_status(&D2, m, &st, &E), 0);
		ck_assert_uint_eq(st.detached, 3);
		ck_assert_int_eq(stats_clients(&D2, m, 0, &cr, &E), 0);
		ck_assert_uint_eq(cr.n_clients, 4);
		for (size_t i = 0; i < cr.n_clients; i++)
			ck_assert_int_eq(cr.clients[i]->detached, cr.clients[i]->id != m->id);
		arena_reset(&D2.arena);
		ops_end_session(&X2.ops, m);
	}
	/* The tenants: uid 1000 has A's and C's. */
	ck_assert_ptr_eq(D2.slots[A->slot]->tenant, D2.slots[C->slot]->tenant);
	ck_assert_uint_eq(D2.slots[A->slot]->tenant->sessions, 2);
	end_all();
}
END_TEST

/* ALLOCATORD_FAULT_WRITES is read when the books are made. */
START_TEST(test_books_fault_switch_from_environment)
{
	setenv("ALLOCATORD_FAULT_WRITES", "17", 1);
	fixture_daemon(&D, config);
	unsetenv("ALLOCATORD_FAULT_WRITES");
	ck_assert_uint_eq(D.books.fault_at, 17);
	daemon_fini(&D);
	fixture_daemon(&D, config);
	ck_assert_uint_eq(D.books.fault_at, 0);
}
END_TEST

/* Damaged books: each rule a clear error, never a crash. */
struct damage {
	const char *what;
	int rc;
	const char *msg;
};

static const struct damage Damages[] = {
    {"magic", -EBADMSG, "bad magic"},
    {"version", -EPROTO, "format 99 is newer"},
    {"truncated", -EBADMSG, "truncated"},
    {"section", -EBADMSG, "outside the file"},
    {"hold_top", -EBADMSG, "hold_top"},
    {"session out of range", -EBADMSG, "is not a session"},
    {"session not used", -EBADMSG, "is not a session"},
    {"object out of range", -EBADMSG, "object 99"},
    {"group", -EBADMSG, "holds nothing"},
    {"pool unit", -EBADMSG, "block 64 of pool 'p'"},
    {"heap span", -EBADMSG, "is outside it"},
    {"held twice", -EBADMSG, "held twice"},
    {"two sizes", -EBADMSG, "two sizes"},
    {"overlap", -EBADMSG, "overlap"},
    {"undo record", -EBADMSG, "undo record 0"},
    {"session id", -EBADMSG, "session slot"},
    {"ending slot", -EBADMSG, "ending session slot"},
    {"reply length", -EBADMSG, "replies of"},
};

/* The entry of s's hold on object name (first found). */
static struct hold *entry_of(struct session *s, const char *name)
{
	uint32_t obj = fixture_object(&D, name)->index;

	for (uint32_t i = s->hold_head; i != HOLD_NIL; i = D.holds.v[i].sess_next)
		if (D.holds.v[i].obj == obj)
			return &D.holds.v[i];
	ck_abort_msg("no hold on %s", name);
	return NULL;
}

static void plant(int i)
{
	struct ledger_head *h = D.books.head;
	struct hold *e;

	switch (i) {
	case 0:
		h->magic[0] = 'X';
		break;
	case 1:
		h->version = 99;
		break;
	case 2:
		ck_assert_int_eq(ftruncate(D.books.fd, (off_t) (h->size - 4096)), 0);
		break;
	case 3:
		h->hold_off = h->size;
		break;
	case 4:
		h->hold_top = h->hold_cap + 1;
		break;
	case 5:
		entry_of(A, "p")->session = 200;
		break;
	case 6:
		entry_of(A, "p")->session = 7;
		break;
	case 7:
		entry_of(A, "p")->obj = 99;
		break;
	case 8:
		entry_of(A, "p")->obj = fixture_object(&D, "g")->index;
		break;
	case 9:
		entry_of(A, "p")->unit = 64;
		break;
	case 10:
		e = entry_of(A, "h");
		e->unit = 1020;
		e->granules = 8;
		break;
	case 11:
		/* B's hold on a heap allocation A holds too, made A's. */
		entry_of(B, "h")->session = A->slot;
		break;
	case 12:
		entry_of(B, "h")->granules++;
		break;
	case 13:
		/* A's first heap allocation made to run into the next. */
		e = entry_of(C, "q");
		e->obj = fixture_object(&D, "h")->index;
		e->unit = entry_of(A, "h")->unit + 1;
		e->granules = 1;
		break;
	case 14:
		h->log_state = LEDGER_LOG_OPEN;
		h->log_n = 1;
		D.books.log[0].off = h->size + 100;
		D.books.log[0].len = 8;
		break;
	case 15:
		A->rec->id = 0;
		break;
	case 16:
		h->log_state = LEDGER_LOG_ENDING;
		h->log_slot = 1000;
		break;
	default:
		A->rec->commit.reply_len[A->rec->commit.reply_cur] = h->reply_max + 1;
		break;
	}
}

START_TEST(test_books_damage_is_refused)
{
	const struct damage *dm = &Damages[_i];
	int rc;

	setup_history();
	plant(_i);
	rc = take_over();
	ck_assert_msg(rc == dm->rc, "%s: %d (%s)", dm->what, rc, E.msg);
	ck_assert_msg(strstr(E.msg, dm->msg) != NULL && strncmp(E.msg, "books: ", 7) == 0,
		      "%s: '%s'", dm->what, E.msg);
	/* The daemon that refused is as it was: fresh books, nobody, nothing
	 * held (so that --discard-state may go on with it). */
	ck_assert_uint_eq(D2.nsessions, 0);
	ck_assert_uint_eq(holds_count(&D2.holds), 0);
	ck_assert_uint_eq(D2.books.head->hold_top, 0);
	ck_assert_msg(daemon_verify_idle(&D2, &E) == 0, "%s: %s", dm->what, E.msg);
}
END_TEST

/* A mutating request sent again with the id the books say was applied
 * last: the reply it had, not a second application -- also across a
 * takeover, for a resumed session, and for a refused request. */
START_TEST(test_books_reply_cache)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	Allocd__Reply *one, *two;
	uint32_t holds;

	setup_history();
	r.version = 1;
	r.id = 1000;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = "q";
	a.count = 2;
	fixture_put_request(A, &r);
	ck_assert_int_eq(dispatch_input(&X, A, SIZE_MAX), 0);
	one = fixture_take_reply(A);
	holds = holds_count(&D.holds);
	fixture_put_request(A, &r);
	ck_assert_int_eq(dispatch_input(&X, A, SIZE_MAX), 0);
	two = fixture_take_reply(A);
	ck_assert_int_eq(two->status, 0);
	ck_assert_uint_eq(two->id, 1000);
	ck_assert_uint_eq(two->alloc->n_offsets, 2);
	ck_assert_uint_eq(two->alloc->offsets[0], one->alloc->offsets[0]);
	ck_assert_uint_eq(two->alloc->offsets[1], one->alloc->offsets[1]);
	ck_assert_uint_eq(holds_count(&D.holds), holds);
	allocd__reply__free_unpacked(one, NULL);
	allocd__reply__free_unpacked(two, NULL);
	/* The next id is applied as usual. */
	r.id = 1001;
	fixture_put_request(A, &r);
	ck_assert_int_eq(dispatch_input(&X, A, SIZE_MAX), 0);
	two = fixture_take_reply(A);
	ck_assert_int_eq(two->status, 0);
	ck_assert_uint_eq(holds_count(&D.holds), holds + 2);
	allocd__reply__free_unpacked(two, NULL);
	/* A refusal is cached too, and counted as the last failure. */
	r.id = 1002;
	a.count = 100;
	fixture_put_request(A, &r);
	ck_assert_int_eq(dispatch_input(&X, A, SIZE_MAX), 0);
	two = fixture_take_reply(A);
	ck_assert_int_eq(two->status, -ENOMEM);
	allocd__reply__free_unpacked(two, NULL);
	ck_assert_uint_eq(A->rec->commit.applied_id, 1002);
	ck_assert_uint_eq(A->rec->commit.failed_id, 1002);
	ck_assert_int_eq(A->rec->commit.failed_status, -ENOMEM);

	/* Across a takeover: the resumed session gets the same refusal. */
	ck_assert_int_eq(take_over(), 0);
	{
		struct session *s = fixture_session(&D2, 1000, 1000);
		Allocd__Request h = ALLOCD__REQUEST__INIT;
		Allocd__Hello hello = ALLOCD__HELLO__INIT;
		Allocd__Reply *hr;

		s->hello_done = false;
		h.version = 1;
		h.id = 1;
		h.body_case = ALLOCD__REQUEST__BODY_HELLO;
		h.hello = &hello;
		hello.resume_id = A->id;
		hello.resume_token.data = A->token;
		hello.resume_token.len = sizeof(A->token);
		fixture_put_request(s, &h);
		ck_assert_int_eq(dispatch_input(&X2, s, SIZE_MAX), 0);
		hr = fixture_take_reply(s);
		ck_assert_msg(hr->status == 0, "%s", hr->error);
		ck_assert(hr->hello->resumed);
		ck_assert_uint_eq(hr->hello->client_id, A->id);
		ck_assert_uint_eq(hr->hello->applied_id, 1002);
		ck_assert_uint_eq(hr->hello->failed_id, 1002);
		ck_assert_int_eq(hr->hello->failed_status, -ENOMEM);
		ck_assert_uint_eq(hr->hello->session_token.len, LEDGER_TOKEN);
		allocd__reply__free_unpacked(hr, NULL);
		ck_assert_uint_eq(s->slot, A->slot);
		ck_assert(!s->detached);
		fixture_put_request(s, &r);
		ck_assert_int_eq(dispatch_input(&X2, s, SIZE_MAX), 0);
		two = fixture_take_reply(s);
		ck_assert_int_eq(two->status, -ENOMEM);
		ck_assert_uint_eq(two->id, 1002);
		allocd__reply__free_unpacked(two, NULL);
		ck_assert_uint_eq(D2.slots[A->slot]->held[fixture_object(&D2, "q")->index].amount,
				  A->held[fixture_object(&D, "q")->index].amount);
		check_whole(&D2);
		/* A reply that could not be made (out of memory: committed
		 * empty) is an error naming the loss, never silence. */
		r.id = 1003;
		ledger_begin(&D2.books, s->slot);
		ledger_commit(&D2.books, s->slot, 1003, 0, NULL, 0);
		fixture_put_request(s, &r);
		ck_assert_int_eq(dispatch_input(&X2, s, SIZE_MAX), 0);
		two = fixture_take_reply(s);
		ck_assert_ptr_nonnull(two);
		ck_assert_uint_eq(two->id, 1003);
		ck_assert_int_eq(two->status, -EIO);
		allocd__reply__free_unpacked(two, NULL);
	}
	end_all();
}
END_TEST

/* Resume refusals change nothing. */
START_TEST(test_books_resume_refused)
{
	uint8_t token[LEDGER_TOKEN];
	struct session_creds cr = {.pid = getppid(), .uid = 1000, .gid = 1000};
	struct session *s, *other_pid, *other_uid;
	uint32_t slot;

	setup_history();
	ck_assert_int_eq(take_over(), 0);
	s = fixture_session(&D2, 1000, 1000);
	other_uid = fixture_session(&D2, 1001, 1001);
	ck_assert_int_eq(daemon_session_start(&D2, &cr, &other_pid, &E), 0);
	slot = s->slot;
	memcpy(token, A->token, sizeof(token));

	ck_assert_int_eq(books_resume(&D2, s, 9999, token, sizeof(token), &E), -ESTALE);
	ck_assert_str_eq(E.msg, "no session 9999 waiting to resume");
	/* a connected session is not waiting */
	ck_assert_int_eq(books_resume(&D2, s, other_uid->id, token, sizeof(token), &E), -ESTALE);
	token[5] ^= 1;
	ck_assert_int_eq(books_resume(&D2, s, A->id, token, sizeof(token), &E), -EPERM);
	ck_assert_msg(strstr(E.msg, "belongs to another process") != NULL, "%s", E.msg);
	token[5] ^= 1;
	ck_assert_int_eq(books_resume(&D2, s, A->id, token, sizeof(token) - 1, &E), -EPERM);
	ck_assert_int_eq(books_resume(&D2, other_uid, A->id, token, sizeof(token), &E), -EPERM);
	ck_assert_int_eq(books_resume(&D2, other_pid, A->id, token, sizeof(token), &E), -EPERM);
	ck_assert_uint_eq(s->slot, slot);
	ck_assert(D2.slots[A->slot]->detached);
	ck_assert_uint_eq(D2.nsessions, 6);
	check_whole(&D2);
	ck_assert_int_eq(books_resume(&D2, s, A->id, token, sizeof(token), &E), 0);
	ck_assert_uint_eq(s->slot, A->slot);
	ck_assert_ptr_null(D2.slots[slot]);
	ck_assert_uint_eq(D2.nsessions, 5);
	check_whole(&D2);
	end_all();
}
END_TEST

/* Sessions whose process exited, or whose pid is another process now,
 * are reclaimed at the takeover; the others stay. */
START_TEST(test_books_gone_sessions_reclaimed)
{
	struct session_creds cr = {.uid = 1002, .gid = 1002};
	struct session *dead;
	int st;

	setup_history();
	cr.pid = fork();
	ck_assert_int_ge(cr.pid, 0);
	if (cr.pid == 0) {
		pause();
		_exit(0);
	}
	ck_assert_int_eq(daemon_session_start(&D, &cr, &dead, &E), 0);
	dead->hello_done = true;
	ck_assert_uint_ne(dead->start_time, 0);
	ck_assert_int_eq(req_alloc(&X, dead, "q", 2, false), 0);
	kill(cr.pid, SIGKILL);
	ck_assert_int_eq(waitpid(cr.pid, &st, 0), cr.pid);
	/* C's pid is "reused": its start time differs. */
	C->rec->start_time++;
	ck_assert_int_eq(take_over(), 0);
	ck_assert_ptr_null(D2.slots[dead->slot]);
	ck_assert_ptr_null(D2.slots[C->slot]);
	ck_assert_ptr_nonnull(D2.slots[A->slot]);
	ck_assert_ptr_nonnull(D2.slots[B->slot]);
	ck_assert_uint_eq(D2.nsessions, 2);
	ck_assert_uint_eq(D2.reclaimed, 2 + C->held[0].holds + C->held[1].holds + C->held[2].holds);
	check_whole(&D2);
	end_all();
}
END_TEST

/* A session whose hello reply never went out (the serving process died
 * first) cannot be resumed -- its client has no token -- so a takeover
 * reclaims it although its process lives; a greeted one stays. */
START_TEST(test_books_ungreeted_session_reclaimed)
{
	struct session_creds cr = {.pid = getpid(), .uid = 1002, .gid = 1002};
	struct session *ghost;

	setup_history();
	ck_assert_int_eq(daemon_session_start(&D, &cr, &ghost, &E), 0);
	ck_assert_uint_eq(ghost->rec->used, LEDGER_SESS_NEW);
	ghost->hello_done = true;
	ck_assert_int_eq(req_alloc(&X, ghost, "q", 2, false), 0);
	ck_assert_int_eq(take_over(), 0);
	ck_assert_ptr_null(D2.slots[ghost->slot]);
	ck_assert_ptr_nonnull(D2.slots[A->slot]);
	ck_assert_uint_eq(D2.reclaimed, 2);
	check_whole(&D2);
	end_all();
}
END_TEST

/* The undo log holds the largest request there can be: an allocation of a
 * whole max_batch that takes every block back from another client's cache
 * (a settle record and a save per block taken back, a save per block
 * added). Too small a log is a daemon that aborts on a client's request.
 * A frame of 1 MiB makes that more than the log's floor of 64 Ki records. */
START_TEST(test_books_log_holds_the_largest_take_back)
{
	static uint64_t off[1u << 17];
	char text[512];
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;
	uint32_t n = wire_max_batch(1u << 20), *slots;
	struct object *p;
	size_t k;

	snprintf(text, sizeof(text),
		 "max_frame = \"1M\"; max_output = \"2M\";\n"
		 "regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64;\n"
		 "  blocks = %u; uid_quota = %u; cache_max = %u; } ); } );\n",
		 n, n, n);
	fixture_daemon(&D, text);
	fixture_dispatch(&X, &D);
	ck_assert_uint_eq(D.max_batch, n);
	A = fixture_session(&D, 1000, 1000);
	B = fixture_session(&D, 1001, 1001);
	p = fixture_object(&D, "p");
	B->leases = true;
	ck_assert_int_eq(lease_page_open(&D.table, B->regions, &B->lease), 0);
	slots = lease_page_array(&B->lease, p);
	ck_assert_ptr_nonnull(slots);
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.pool = "p";
	a.count = n;
	ck_assert_int_eq(call(&X, B, &r, NULL, NULL), 0);
	k = held_offsets(&D, B, "p", off, n);
	ck_assert_uint_eq(k, n);
	for (size_t i = 0; i < k; i++)
		slots[i] = (uint32_t) ((off[i] - p->offset) / pool_block_size(p)) + 1;
	ck_assert_int_eq(call(&X, A, &r, NULL, NULL), 0);
	ck_assert_uint_eq(A->held[p->index].amount, n);
	ck_assert_uint_eq(B->held[p->index].amount, 0);
	ck_assert_uint_eq(D.books.head->log_state, LEDGER_LOG_CLOSED);
}
END_TEST

/* A takeover whose configuration needs more room than the books have
 * (max_clients 2, room for 8 sessions; then 64) copies them into larger
 * books -- a request the dead process left half done included, whose undo
 * records must follow the sections they name. */
START_TEST(test_books_grow_at_takeover)
{
	static const char small[] = "max_clients = 2;\n"
				    "regions = ( { name = \"r\"; pools = ( { name = \"p\";\n"
				    "  block_size = 64; blocks = 64; uid_quota = 64; } ); } );\n";
	static const char big[] = "max_clients = 64;\n"
				  "regions = ( { name = \"r\"; pools = ( { name = \"p\";\n"
				  "  block_size = 64; blocks = 64; uid_quota = 64; } ); } );\n";
	static struct canon before[64], got[64];
	size_t nb, ng;
	pid_t pid;
	int st;

	fixture_daemon(&D, small);
	fixture_dispatch(&X, &D);
	A = fixture_session(&D, 1000, 1000);
	B = fixture_session(&D, 1001, 1001);
	ck_assert_int_eq(req_alloc(&X, A, "p", 3, false), 0);
	ck_assert_int_eq(req_alloc(&X, B, "p", 2, false), 0);
	ck_assert_uint_lt(D.books.head->sess_cap, 64);
	nb = canon(&D, before, 64);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		D.books.fault_at = 3; /* the log open, two entries saved */
		D.books.writes = 0;
		req_alloc(&X, A, "p", 4, false);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(D.books.head->log_state, LEDGER_LOG_OPEN);

	fixture_daemon(&D2, big);
	fixture_dispatch(&X2, &D2);
	ck_assert_msg(books_takeover(&D2, dup(D.books.fd), &E) == 0, "%s", E.msg);
	ck_assert_uint_ge(D2.books.head->sess_cap, 64);
	ck_assert_int_ne(D2.books.fd, D.books.fd);
	ng = canon(&D2, got, 64);
	ck_assert_uint_eq(ng, nb);
	ck_assert_int_eq(memcmp(got, before, ng * sizeof(*got)), 0);
	ck_assert_uint_eq(D2.books.head->log_state, LEDGER_LOG_CLOSED);
	check_whole(&D2);
	end_all();
	fini_both();
}
END_TEST

/* A session's record in the books says what a takeover needs of it. */
START_TEST(test_books_session_record)
{
	setup_history();
	ck_assert_uint_eq(A->rec->used, LEDGER_SESS_GREETED);
	ck_assert_uint_eq(A->rec->id, A->id);
	ck_assert_int_eq(A->rec->pid, getpid());
	ck_assert_uint_eq(A->rec->start_time, session_start_time(getpid()));
	ck_assert_uint_ne(A->rec->start_time, 0);
	ck_assert_int_eq(memcmp(A->rec->token, A->token, LEDGER_TOKEN), 0);
	ck_assert_int_ne(memcmp(A->token, B->token, LEDGER_TOKEN), 0);
	ck_assert_uint_eq(D.books.head->next_session_id, 3);
	ops_end_session(&X.ops, B);
	ck_assert_uint_eq(D.books.sess[1].used, 0);
}
END_TEST

/* A configuration of max_clients m and region max_holds h. */
static const char *sized(unsigned m, unsigned h)
{
	static char text[512];

	snprintf(text, sizeof(text),
		 "log_level = \"error\"; max_clients = %u; admin_slots = 0;\n"
		 "regions = ( { name = \"r\"; max_holds = %u;\n"
		 "  pools = ( { name = \"p\"; block_size = 64; blocks = 64; } ); } );\n",
		 m, h);
	return text;
}

static int reload_to(const char *text)
{
	struct config next;
	struct reload r;
	int rc;

	ck_assert_int_eq(config_load_string(text, "fixture", &next, E.msg, sizeof(E.msg)), 0);
	rc = reload_check(&D, &next, &r, &E);
	if (rc < 0) {
		config_free(&next);
		return rc;
	}
	ck_assert_int_eq(reload_apply(&D, &r, &E), 0);
	return 0;
}

/* The books have room for reloads, up to a point: past it a reload is
 * refused with the section named and "needs a restart" (a takeover makes
 * the books larger); within it, it is applied. */
START_TEST(test_books_reload_past_room_needs_restart)
{
	fixture_daemon(&D, sized(8, 100));
	ck_assert_uint_eq(D.books.head->sess_cap, 32);
	ck_assert_uint_eq(D.books.head->hold_cap, 100 + (1u << 20));
	ck_assert_int_eq(reload_to(sized(33, 100)), -EBUSY);
	ck_assert_msg(strstr(E.msg, "max_clients 33 is over the books' 32: needs a restart") !=
			  NULL,
		      "%s", E.msg);
	ck_assert_int_eq(reload_to(sized(8, 2000000)), -EBUSY);
	ck_assert_msg(strstr(E.msg, "the hold table (2000000) would be over the books' 1048676: "
				    "needs a restart") != NULL,
		      "%s", E.msg);
	ck_assert_uint_eq(D.cfg.max_clients, 8);
	ck_assert_int_eq(reload_to(sized(32, 1000000)), 0);
	ck_assert_uint_eq(D.cfg.max_clients, 32);
	ck_assert_uint_eq(D.holds.limit, 1000000);
}
END_TEST

/* A daemon made in a child under RLIMIT_FSIZE lim (the child's own): its
 * exit status -- 0 with books of exactly max_clients sessions (no room for
 * reloads), 1 refused with -EFBIG naming the limit, 2 otherwise. */
static int books_under_fsize(rlim_t lim)
{
	struct rlimit rl = {lim, lim};
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct config cfg;
		int rc;

		if (setrlimit(RLIMIT_FSIZE, &rl) < 0 ||
		    config_load_string(sized(8, 100), "fixture", &cfg, E.msg, sizeof(E.msg)) < 0)
			_exit(2);
		rc = daemon_init(&D, &cfg, true, NULL, false, &E);
		if (rc == 0)
			_exit(D.books.head->sess_cap == 8 ? 0 : 2);
		_exit(rc == -EFBIG && strstr(E.msg, "books:") != NULL &&
			      strstr(E.msg, "RLIMIT_FSIZE") != NULL
			  ? 1
			  : 2);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "killed (SIGXFSZ?): status %#x", st);
	return WEXITSTATUS(st);
}

/* Under ulimit -f the books make do without room for reloads, and a limit
 * they cannot fit is a clear error -- never SIGXFSZ. */
START_TEST(test_books_under_file_size_limit)
{
	ck_assert_int_eq(books_under_fsize(8u << 20), 0);
	ck_assert_int_eq(books_under_fsize(16u << 10), 1);
}
END_TEST

Suite *books_suite(void)
{
	Suite *s = suite_create("books");
	TCase *tc = tcase_create("books");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, test_books_killed_at_every_write, 0, K_KINDS);
	tcase_add_test(tc, test_books_killed_in_random_sequences);
	tcase_add_test(tc, test_books_takeover_serves_on);
	tcase_add_test(tc, test_books_fault_switch_from_environment);
	tcase_add_loop_test(tc, test_books_damage_is_refused, 0,
			    (int) (sizeof(Damages) / sizeof(Damages[0])));
	tcase_add_test(tc, test_books_reply_cache);
	tcase_add_test(tc, test_books_resume_refused);
	tcase_add_test(tc, test_books_gone_sessions_reclaimed);
	tcase_add_test(tc, test_books_ungreeted_session_reclaimed);
	tcase_add_test(tc, test_books_log_holds_the_largest_take_back);
	tcase_add_test(tc, test_books_grow_at_takeover);
	tcase_add_test(tc, test_books_session_record);
	tcase_add_test(tc, test_books_reload_past_room_needs_restart);
	tcase_add_test(tc, test_books_under_file_size_limit);
	suite_add_tcase(s, tc);
	return s;
}
