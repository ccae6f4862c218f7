/*
 * Random alloc / group alloc / heap alloc / free / retain / reclaim traffic
 * from four sessions, checked after every step against a model that keeps,
 * for every live allocation unit, the set of sessions holding it:
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

enum { OBJ_P, OBJ_Q, OBJ_H, NOBJ };

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

static uint64_t quota_of(int obj)
{
	return obj == OBJ_Q ? 4 : obj == OBJ_H ? 8192 : 0;
}

static void check_model(void)
{
	uint32_t holds = 0;

	for (int obj = OBJ_P; obj <= OBJ_Q; obj++) {
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
static void pool_alloc_step(int s, int obj, uint64_t count, int rc, const uint64_t *off)
{
	const struct object *o = O[obj];
	uint64_t free_blocks = 0;
	int want = 0;

	for (uint64_t b = 0; b < pool_blocks(o); b++)
		free_blocks += lookup(obj, o->offset + b * pool_block_size(o)) == NULL;
	if (quota_of(obj) && held_by(s, obj) + count > quota_of(obj))
		want = -EDQUOT;
	else if (free_blocks < count)
		want = -ENOMEM;
	expect(rc, want, "pool alloc");
	if (rc < 0)
		return;
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
	int obj = (int) test_rng_below(&R, 2);
	uint64_t count = 1 + test_rng_below(&R, 5), off[8];

	if (M.n + (int) count > MUNITS)
		return;
	pool_alloc_step(s, obj, count, ops_pool_alloc(&X.ops, S[s], O[obj], count, false, off, &E),
			off);
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
	pool_alloc_step(s, obj, count, rc, off);
}

static void do_heap_alloc(int s)
{
	static const uint64_t aligns[] = {0, 64, 256, 4096};
	uint64_t size = 1 + test_rng_below(&R, 2048);
	uint64_t align = aligns[test_rng_below(&R, 4)];
	uint64_t usable = (size + 63) & ~(uint64_t) 63, off, got;
	int rc;

	if (M.n >= MUNITS)
		return;
	rc = ops_heap_alloc(&X.ops, S[s], O[OBJ_H], size, align, &off, &got, &E);
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

static void do_reclaim(int s)
{
	for (int i = M.n - 1; i >= 0; i--) {
		M.u[i].holders &= (uint8_t) ~(1u << s);
		if (M.u[i].holders == 0)
			drop_unit(&M.u[i]);
	}
	ops_end_session(&X.ops, S[s]);
	S[s] = fixture_session(&D, 1000 + (uid_t) s, 1000);
}

START_TEST(test_ops_random_against_model)
{
	fixture_daemon(&D, NULL);
	fixture_dispatch(&X, &D);
	seed = test_seed("ops_random");
	test_rng_init(&R, seed);
	memset(&M, 0, sizeof(M));
	O[OBJ_P] = object_table_find(&D.table, "p");
	O[OBJ_Q] = object_table_find(&D.table, "q");
	O[OBJ_H] = object_table_find(&D.table, "h");
	for (int s = 0; s < NSESS; s++)
		S[s] = fixture_session(&D, 1000 + (uid_t) s, 1000);

	for (step = 0; step < STEPS; step++) {
		int s = (int) test_rng_below(&R, NSESS);
		uint64_t r = test_rng_below(&R, 100);

		if (r < 25)
			do_pool_alloc(s);
		else if (r < 35)
			do_group_alloc(s);
		else if (r < 50)
			do_heap_alloc(s);
		else if (r < 80)
			do_free_or_retain(s, false);
		else if (r < 98)
			do_free_or_retain(s, true);
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
