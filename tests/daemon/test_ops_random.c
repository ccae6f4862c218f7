/*
 * Random alloc (single blocks and contiguous runs) / group alloc / heap
 * alloc / free and retain (lists and runs) / reclaim traffic from four
 * sessions of different users, checked after every step against a model
 * that keeps, for every live allocation unit, the set of sessions holding
 * it. Pool s is in a region that admits uid 1000 and gid 4242: session 0 by
 * its uid, 1 by its primary gid, 2 by a supplementary group, 3 not at all.
 * Quotas: q 4 blocks, s 6 blocks, heap h 8100 bytes (no multiple of its
 * granule, so a quota that counts requested rather than rounded bytes
 * shows); each session is a uid of its own, and p's uid_quota is all of it,
 * so the per-uid limits (test_limits.c) decide only as a quota of the whole
 * pool would. Every step checks:
 *   - every return code is the one the model predicts (heap -ENOMEM aside,
 *     which depends on fragmentation; then nothing may change);
 *   - a unit is allocated in its core allocator iff somebody holds it, so
 *     nothing is lost and nothing is handed out twice;
 *   - per-session held amounts and the hold count match the model.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ops.h"
#include "tests/common/seed.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

#define NSESS  4
#define MUNITS 256
#define STEPS  20000

enum { OBJ_P, OBJ_Q, OBJ_S, OBJ_H, NOBJ };

static const char config[] =
    "log_level = \"error\";\n"
    "regions = (\n"
    "  { name = \"r\";\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 100; uid_quota = 100; },\n"
    "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512;\n"
    "                client_quota = 4; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64;\n"
    "                client_quota = 8100; } ); },\n"
    "  { name = \"staff\"; allow_uids = [ 1000 ]; allow_gids = [ 4242 ];\n"
    "    pools = ( { name = \"s\"; block_size = 64; blocks = 16; client_quota = 6; } ); }\n"
    ");\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; } );\n";

/* The sessions' credentials (see the top), and who may use pool s. */
static const gid_t staff[] = {7, 4242}, others[] = {7, 8};
static const struct {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	bool staff;
} creds[NSESS] = {
    {1000, 1000, NULL, 0, true},
    {1001, 4242, NULL, 0, true},
    {1002, 1002, staff, 2, true},
    {1003, 1003, others, 2, false},
};

struct munit {
	int obj;
	uint64_t off;
	uint64_t amount; /* blocks or usable bytes */
	uint8_t holders; /* bit per session */
};

struct model {
	struct munit u[MUNITS];
	int n;
};

static struct daemon D;
static struct dispatch X;
static struct session *S[NSESS];
static struct object *O[NOBJ];
static struct model M;
static struct test_rng R;
static uint64_t seed;
static int step;
static struct errbuf E;

static struct munit *lookup(int obj, uint64_t off)
{
	for (int i = 0; i < M.n; i++)
		if (M.u[i].obj == obj && M.u[i].off == off)
			return &M.u[i];
	return NULL;
}

static void drop_unit(struct munit *u)
{
	*u = M.u[--M.n];
}

static uint64_t held_by(int sess, int obj)
{
	uint64_t sum = 0;

	for (int i = 0; i < M.n; i++)
		if (M.u[i].obj == obj && (M.u[i].holders & (1u << sess)))
			sum += M.u[i].amount;
	return sum;
}

/* What one session may hold of obj: its client quota, or for p its uid's
 * uid_quota -- every session is a uid of its own, so the uid's total is
 * the session's. 100 is all of p, yet it decides: a uid holding 98 that
 * asks for 3 is over it (-EDQUOT) before the pool is short (-ENOMEM). */
static uint64_t quota_of(int obj)
{
	return obj == OBJ_P ? 100 : obj == OBJ_Q ? 4 : obj == OBJ_S ? 6 : obj == OBJ_H ? 8100 : 0;
}

static bool may_use(int sess, int obj)
{
	return obj != OBJ_S || creds[sess].staff;
}

static bool is_free(int obj, uint64_t b)
{
	return lookup(obj, O[obj]->offset + b * pool_block_size(O[obj])) == NULL;
}

/* The first block of the lowest run of count free blocks, or -1. */
static int64_t lowest_run(int obj, uint64_t count)
{
	for (uint64_t b = 0, len = 0; b < pool_blocks(O[obj]); b++) {
		len = is_free(obj, b) ? len + 1 : 0;
		if (len == count)
			return (int64_t) (b + 1 - count);
	}
	return -1;
}

static void check_model(void)
{
	uint32_t holds = 0;

	for (int obj = OBJ_P; obj <= OBJ_S; obj++) {
		const struct object *o = O[obj];

		for (uint64_t b = 0; b < pool_blocks(o); b++) {
			bool used = bitarray_is_used(&o->u.pool.mb.bitmap, b);
			bool live = lookup(obj, o->offset + b * pool_block_size(o)) != NULL;

			ck_assert_msg(used == live,
				      "seed %llu step %d: %s block %llu used %d model %d",
				      (unsigned long long) seed, step, o->name,
				      (unsigned long long) b, used, live);
		}
	}
	{
		struct tlsf_stats st;
		uint64_t live = 0, bytes = 0;

		tlsf_get_stats(O[OBJ_H]->u.heap.tlsf, &st);
		for (int i = 0; i < M.n; i++)
			if (M.u[i].obj == OBJ_H) {
				live++;
				bytes += M.u[i].amount;
			}
		ck_assert_msg(st.live == live && st.used == bytes,
			      "seed %llu step %d: heap live %llu/%llu used %llu/%llu",
			      (unsigned long long) seed, step, (unsigned long long) st.live,
			      (unsigned long long) live, (unsigned long long) st.used,
			      (unsigned long long) bytes);
	}
	for (int s = 0; s < NSESS; s++)
		for (int obj = 0; obj < NOBJ; obj++)
			ck_assert_msg(S[s]->held[O[obj]->index].amount == held_by(s, obj),
				      "seed %llu step %d: session %d holds %llu of %s, model %llu",
				      (unsigned long long) seed, step, s,
				      (unsigned long long) S[s]->held[O[obj]->index].amount,
				      O[obj]->name, (unsigned long long) held_by(s, obj));
	for (int i = 0; i < M.n; i++)
		holds += (uint32_t) __builtin_popcount(M.u[i].holders);
	ck_assert_msg(holds_count(&D.holds) == holds, "seed %llu step %d: %u holds, model %u",
		      (unsigned long long) seed, step, holds_count(&D.holds), holds);
	if (step % 64 == 0)
		ck_assert_int_eq(tlsf_check(O[OBJ_H]->u.heap.tlsf), 0);
}

static void expect(int got, int want, const char *what)
{
	ck_assert_msg(got == want, "seed %llu step %d: %s returned %d, model says %d (%s)",
		      (unsigned long long) seed, step, what, got, want, E.msg);
}

/* The model's answer to a pool allocation; on success the offsets must be
 * exactly the lowest free blocks. */
static void pool_alloc_step(int s, int obj, uint64_t count, bool contiguous, int rc,
			    const uint64_t *off)
{
	const struct object *o = O[obj];
	uint64_t free_blocks = 0;
	int want = 0;

	for (uint64_t b = 0; b < pool_blocks(o); b++)
		free_blocks += is_free(obj, b);
	if (!may_use(s, obj))
		want = -EACCES;
	else if (quota_of(obj) && held_by(s, obj) + count > quota_of(obj))
		want = -EDQUOT;
	else if (contiguous ? lowest_run(obj, count) < 0 : free_blocks < count)
		want = -ENOMEM;
	expect(rc, want, contiguous ? "contiguous alloc" : "pool alloc");
	if (rc < 0)
		return;
	if (contiguous) {
		uint64_t first = (uint64_t) lowest_run(obj, count);

		ck_assert_msg(off[0] == o->offset + first * pool_block_size(o),
			      "seed %llu step %d: run at %llu is not the lowest free run",
			      (unsigned long long) seed, step, (unsigned long long) off[0]);
		for (uint64_t b = first; b < first + count; b++)
			M.u[M.n++] = (struct munit){obj, o->offset + b * pool_block_size(o), 1,
						    (uint8_t) (1u << s)};
		return;
	}
	for (uint64_t i = 0, b = 0; i < count; i++, b++) {
		while (lookup(obj, o->offset + b * pool_block_size(o)) != NULL)
			b++;
		ck_assert_msg(off[i] == o->offset + b * pool_block_size(o),
			      "seed %llu step %d: offset %llu is not the lowest free block",
			      (unsigned long long) seed, step, (unsigned long long) off[i]);
		M.u[M.n++] = (struct munit){obj, off[i], 1, (uint8_t) (1u << s)};
	}
}

static void do_pool_alloc(int s)
{
	int obj = (int) test_rng_below(&R, 3); /* p, q or s */
	uint64_t count = 1 + test_rng_below(&R, 7), off[8];
	bool contiguous = test_rng_below(&R, 3) == 0;

	if (M.n + (int) count > MUNITS)
		return;
	pool_alloc_step(s, obj, count, contiguous,
			ops_pool_alloc(&X.ops, S[s], O[obj], count, contiguous, off, &E), off);
}

/* by_size over p (64 B) and q (1536 B): the smallest fitting pool with room,
 * else the smallest fitting one. */
static void do_group_alloc(int s)
{
	uint64_t hint = test_rng_below(&R, 2) ? 32 : 1000, count = 1 + test_rng_below(&R, 3);
	struct object *chosen;
	uint64_t off[4];
	int obj, rc;

	if (M.n + (int) count > MUNITS)
		return;
	rc = ops_group_alloc(&X.ops, S[s], object_table_find(&D.table, "g"), hint, count, 0, off,
			     &chosen, &E);
	obj = OBJ_Q;
	if (hint <= 64) {
		uint64_t free_p = 0;

		for (uint64_t b = 0; b < pool_blocks(O[OBJ_P]); b++)
			free_p += lookup(OBJ_P, O[OBJ_P]->offset + b * 64) == NULL;
		if (free_p >= count)
			obj = OBJ_P;
		else {
			uint64_t free_q = 0;

			for (uint64_t b = 0; b < pool_blocks(O[OBJ_Q]); b++)
				free_q += lookup(OBJ_Q, O[OBJ_Q]->offset + b * 1536) == NULL;
			obj = free_q >= count ? OBJ_Q : OBJ_P;
		}
	}
	if (rc == 0)
		ck_assert_str_eq(chosen->name, O[obj]->name);
	pool_alloc_step(s, obj, count, false, rc, off);
}

static void do_heap_alloc(int s)
{
	static const uint64_t aligns[] = {0, 64, 256, 4096};
	uint64_t size = 1 + test_rng_below(&R, 2048), room = quota_of(OBJ_H) - held_by(s, OBJ_H);
	uint64_t align = aligns[test_rng_below(&R, 4)], usable, off, got;
	int rc;

	/* Often just what is left of the quota, give or take a granule: where
	 * rounding decides. */
	if (test_rng_below(&R, 3) == 0 && room > 64)
		size = room - 32 + test_rng_below(&R, 64);
	usable = (size + 63) & ~(uint64_t) 63;

	if (M.n >= MUNITS)
		return;
	rc = ops_heap_alloc(&X.ops, S[s], O[OBJ_H], size, align, &off, &got, &E);
	/* What counts is the rounded size: never more than the quota held. */
	ck_assert_msg(S[s]->held[O[OBJ_H]->index].amount <= quota_of(OBJ_H),
		      "seed %llu step %d: session %d holds %llu bytes of h, over its quota",
		      (unsigned long long) seed, step, s,
		      (unsigned long long) S[s]->held[O[OBJ_H]->index].amount);
	if (held_by(s, OBJ_H) + usable > quota_of(OBJ_H)) {
		expect(rc, -EDQUOT, "heap alloc");
		return;
	}
	if (rc == -ENOMEM)
		return; /* fragmentation: check_model() proves nothing changed */
	expect(rc, 0, "heap alloc");
	ck_assert_uint_eq(got, usable);
	ck_assert_uint_eq((off - O[OBJ_H]->offset) % (align ? align : 64), 0);
	for (int i = 0; i < M.n; i++)
		if (M.u[i].obj == OBJ_H)
			ck_assert_msg(
			    off + usable <= M.u[i].off || M.u[i].off + M.u[i].amount <= off,
			    "seed %llu step %d: heap overlap", (unsigned long long) seed, step);
	M.u[M.n++] = (struct munit){OBJ_H, off, usable, (uint8_t) (1u << s)};
}

/* Offsets for free/retain: mostly live units, sometimes a free block or a
 * place that is no allocation start, sometimes a repeat. */
static int pick_offsets(int *obj, uint64_t *off)
{
	int n = 1 + (int) test_rng_below(&R, 3);

	*obj = (int) test_rng_below(&R, NOBJ);
	for (int i = 0; i < n; i++) {
		uint64_t r = test_rng_below(&R, 10);
		struct munit *u = NULL;

		for (int tries = 0; tries < 8 && u == NULL && M.n > 0; tries++) {
			struct munit *c = &M.u[test_rng_below(&R, (uint64_t) M.n)];

			if (c->obj == *obj)
				u = c;
		}
		if (r == 0 && i > 0)
			off[i] = off[i - 1];
		else if (r == 1 || u == NULL)
			off[i] = O[*obj]->offset + test_rng_below(&R, O[*obj]->size / 64) * 64;
		else
			off[i] = u->off;
	}
	return n;
}

/* Replays a free or retain on a copy of the model; commits it on success. */
static int model_free_or_retain(int s, int obj, const uint64_t *off, int n, bool retain)
{
	struct model save = M;
	bool pending[MUNITS] = {false};

	if (!may_use(s, obj))
		return -EACCES;
	for (int i = 0; i < n; i++) {
		struct munit *u = lookup(obj, off[i]);
		int idx = u ? (int) (u - M.u) : -1;

		if (u == NULL) {
			M = save;
			return -EFAULT;
		}
		if (retain) {
			if (u->holders & (1u << s)) {
				M = save;
				return -EALREADY;
			}
			if (quota_of(obj) && held_by(s, obj) + u->amount > quota_of(obj)) {
				M = save;
				return -EDQUOT;
			}
			u->holders |= (uint8_t) (1u << s);
			continue;
		}
		if (pending[idx]) {
			M = save;
			return -EINVAL;
		}
		if (!(u->holders & (1u << s))) {
			M = save;
			return -EPERM;
		}
		u->holders &= (uint8_t) ~(1u << s);
		pending[idx] = u->holders == 0;
	}
	for (int i = M.n - 1; i >= 0; i--)
		if (M.u[i].holders == 0)
			drop_unit(&M.u[i]);
	return 0;
}

static void do_free_or_retain(int s, bool retain)
{
	uint64_t off[4];
	int obj, n = pick_offsets(&obj, off);
	int want = model_free_or_retain(s, obj, off, n, retain);
	int rc = retain ? ops_retain(&X.ops, S[s], O[obj], off, (uint64_t) n, 0, &E)
			: ops_free(&X.ops, S[s], O[obj], off, (uint64_t) n, 0, &E);

	expect(rc, want, retain ? "retain" : "free");
}

/* The model's answer to a free or retain of the run blocks from off. */
static int model_run(int s, int obj, uint64_t off, uint64_t run, bool retain)
{
	const struct object *o = O[obj];
	uint64_t bs, first;

	if (!may_use(s, obj))
		return -EACCES;
	if (obj == OBJ_H)
		return -EINVAL;
	bs = pool_block_size(o);
	if (off < o->offset || off - o->offset >= o->size || (off - o->offset) % bs != 0)
		return -EFAULT;
	first = (off - o->offset) / bs;
	if (run > pool_blocks(o) - first)
		return -EFAULT;
	for (uint64_t b = first; b < first + run; b++) {
		struct munit *u = lookup(obj, o->offset + b * bs);

		if (u == NULL)
			return -EFAULT;
		if (retain && (u->holders & (1u << s)))
			return -EALREADY;
		if (!retain && !(u->holders & (1u << s)))
			return -EPERM;
	}
	if (retain && quota_of(obj) && held_by(s, obj) + run > quota_of(obj))
		return -EDQUOT;
	for (uint64_t b = first; b < first + run; b++) {
		struct munit *u = lookup(obj, o->offset + b * bs);

		if (retain)
			u->holders |= (uint8_t) (1u << s);
		else if ((u->holders &= (uint8_t) ~(1u << s)) == 0)
			drop_unit(u);
	}
	return 0;
}

/* A run from a live unit (sometimes one past it, or from near a pool's end),
 * 1 to 4 blocks, freed or retained. */
static void do_run(int s, bool retain)
{
	int obj = (int) test_rng_below(&R, NOBJ);
	uint64_t run = 1 + test_rng_below(&R, 4), off, r = test_rng_below(&R, 8);
	struct munit *u = NULL;
	int want, rc;

	for (int tries = 0; tries < 8 && u == NULL && M.n > 0; tries++) {
		struct munit *c = &M.u[test_rng_below(&R, (uint64_t) M.n)];

		if (c->obj == obj)
			u = c;
	}
	if (obj != OBJ_H && (r == 0 || u == NULL))
		off = O[obj]->offset +
		      (pool_blocks(O[obj]) - 1 - test_rng_below(&R, 3)) * pool_block_size(O[obj]);
	else if (u != NULL)
		off = u->off + (r == 1 && obj != OBJ_H ? pool_block_size(O[obj]) : 0);
	else
		off = O[obj]->offset;
	want = model_run(s, obj, off, run, retain);
	rc = retain ? ops_retain(&X.ops, S[s], O[obj], &off, 1, run, &E)
		    : ops_free(&X.ops, S[s], O[obj], &off, 1, run, &E);
	expect(rc, want, retain ? "retain run" : "free run");
}

static struct session *new_session(int s)
{
	return fixture_session_groups(&D, creds[s].uid, creds[s].gid, creds[s].groups,
				      creds[s].ngroups);
}

static void do_reclaim(int s)
{
	for (int i = M.n - 1; i >= 0; i--) {
		M.u[i].holders &= (uint8_t) ~(1u << s);
		if (M.u[i].holders == 0)
			drop_unit(&M.u[i]);
	}
	ops_end_session(&X.ops, S[s]);
	S[s] = new_session(s);
}

START_TEST(test_ops_random_against_model)
{
	fixture_daemon(&D, config);
	fixture_dispatch(&X, &D);
	seed = test_seed("ops_random");
	test_rng_init(&R, seed);
	memset(&M, 0, sizeof(M));
	O[OBJ_P] = object_table_find(&D.table, "p");
	O[OBJ_Q] = object_table_find(&D.table, "q");
	O[OBJ_S] = object_table_find(&D.table, "s");
	O[OBJ_H] = object_table_find(&D.table, "h");
	for (int s = 0; s < NSESS; s++)
		S[s] = new_session(s);

	for (step = 0; step < STEPS; step++) {
		int s = (int) test_rng_below(&R, NSESS);
		uint64_t r = test_rng_below(&R, 100);

		if (r < 25)
			do_pool_alloc(s);
		else if (r < 32)
			do_group_alloc(s);
		else if (r < 45)
			do_heap_alloc(s);
		else if (r < 68)
			do_free_or_retain(s, false);
		else if (r < 83)
			do_free_or_retain(s, true);
		else if (r < 90)
			do_run(s, false);
		else if (r < 98)
			do_run(s, true);
		else
			do_reclaim(s);
		check_model();
	}
	for (int s = 0; s < NSESS; s++)
		do_reclaim(s);
	check_model();
	ck_assert_int_eq(M.n, 0);
	ck_assert_int_eq(tlsf_check(O[OBJ_H]->u.heap.tlsf), 0);
	dispatch_fini(&X);
	daemon_fini(&D);
}
END_TEST

Suite *ops_random_suite(void)
{
	Suite *s = suite_create("ops_random");
	TCase *tc = tcase_create("ops_random");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ops_random_against_model);
	suite_add_tcase(s, tc);
	return s;
}
