/*
 * Leased caches, the daemon's side (lease.c and its hooks in ops and stats),
 * driven directly on a dry-run daemon: lease grants and their bounds (slots,
 * quota, the reserve), Alloc.cache checks, the shared bits, take-back from
 * lease pages -- including hostile ones -- reclaim and the cached counts.
 * Every case ends with every session gone and daemon_verify_idle passing.
 */
#include <errno.h>
#include <string.h>

#include "daemon/lease.h"
#include "daemon/lease_page.h"
#include "daemon/ops.h"
#include "daemon/stats.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/daemon_fixture.h"

/* p: cacheable, 64 slots; q: 6 slots within a quota of 8; n: not cacheable.
 * Each uid may hold whole pools: the uid limits on leases are tested apart. */
static const char config[] =
    "log_level = \"error\";\n"
    "regions = ( { name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 64; uid_quota = 64; },\n"
    "            { name = \"q\"; block_size = 64; blocks = 64; client_quota = 8;\n"
    "              cache_max = 6; uid_quota = 64; },\n"
    "            { name = \"n\"; block_size = 64; blocks = 8; cache_max = 0;\n"
    "              uid_quota = 8; } );\n"
    "  heaps = ( { name = \"h\"; size = \"64K\"; } ); } );\n";

static struct daemon D;
static struct dispatch X;
static struct errbuf E;

static void setup(void)
{
	fixture_daemon(&D, config);
	fixture_dispatch(&X, &D);
}

static void teardown(void)
{
	struct errbuf err;

	for (uint32_t i = 0; i < D.cfg.max_clients; i++)
		if (D.slots[i] != NULL)
			ops_end_session(&X.ops, D.slots[i]);
	ck_assert_msg(daemon_verify_idle(&D, &err) == 0, "%s", err.msg);
	dispatch_fini(&X);
	daemon_fini(&D);
}

/* A session with its lease page, as after its hello. */
static struct session *client(uid_t uid)
{
	struct session *s = fixture_session(&D, uid, uid);

	ck_assert_int_eq(lease_page_open(&D.table, s->regions, &s->lease), 0);
	return s;
}

static uint32_t *slots(struct session *s, const char *pool)
{
	struct object *o = fixture_object(&D, pool);

	ck_assert_uint_gt(lease_page_slots(&s->lease, o), 0);
	return s->lease.base + s->lease.at[o->index] / sizeof(uint32_t);
}

static size_t pool_free(const char *name)
{
	return sys_mem_blocks_free_count(&fixture_object(&D, name)->u.pool.mb);
}

static uint32_t block_of(const char *pool, uint64_t off)
{
	struct object *o = fixture_object(&D, pool);

	return (uint32_t) ((off - o->offset) / pool_block_size(o));
}

static int holds(struct session *s, const char *pool, uint32_t b)
{
	struct object *o = fixture_object(&D, pool);

	return holds_find(&D.holds, o->u.pool.holders[b], s->slot) != HOLD_NIL;
}

static int shared_bit(const char *pool, uint32_t b)
{
	struct object *o = fixture_object(&D, pool);

	return (int) ((o->u.pool.bits[b / 64] >> (b % 64)) & 1);
}

/* ops_pool_alloc_lease, not contiguous, returning rc; *n gets the leased. */
static int alloc(struct session *s, const char *pool, uint64_t count, uint64_t lease,
		 uint64_t cache, uint64_t *off, uint64_t *n)
{
	return ops_pool_alloc_lease(&X.ops, s, fixture_object(&D, pool), count, false, lease, cache,
				    off, n, &E);
}

/* Put the blocks of offsets into s's slots of pool, from slot `at`. */
static void cache(struct session *s, const char *pool, const uint64_t *off, uint64_t n, uint32_t at)
{
	for (uint64_t i = 0; i < n; i++)
		slots(s, pool)[at + i] = block_of(pool, off[i]) + 1;
}

START_TEST(test_lease_page_geometry)
{
	struct session *s = client(1000);
	struct object *p = fixture_object(&D, "p"), *q = fixture_object(&D, "q");

	ck_assert_uint_eq(lease_page_slots(&s->lease, p), 64);
	ck_assert_uint_eq(lease_page_slots(&s->lease, q), 6);
	ck_assert_uint_eq(lease_page_slots(&s->lease, fixture_object(&D, "n")), 0);
	ck_assert_uint_eq(lease_page_slots(&s->lease, fixture_object(&D, "h")), 0);
	/* 64 slots = 256 bytes; 6 slots = 24 bytes, rounded to 64. */
	ck_assert_uint_eq(s->lease.at[p->index], 0);
	ck_assert_uint_eq(s->lease.at[q->index], 256);
	ck_assert_uint_eq(s->lease.size, 320);
	ck_assert_ptr_nonnull(s->lease.base);
	ck_assert_int_ge(s->lease.fd, 0);
	lease_page_sent(&s->lease);
	ck_assert_int_eq(s->lease.fd, -1);
	/* Without a page (no hello yet) nothing can be leased. */
	ck_assert_uint_eq(lease_page_slots(&fixture_session(&D, 1001, 1001)->lease, p), 0);
}
END_TEST

/* A lease never takes the pool below ceil(64 / 8) = 8 free blocks; plain
 * allocations still may. */
START_TEST(test_lease_grant_and_reserve)
{
	struct session *a = client(1000), *b = client(1001);
	struct session *bare = fixture_session(&D, 1002, 1002);
	uint64_t off[64], n;

	ck_assert_int_eq(alloc(a, "p", 2, 40, 0, off, &n), 0);
	ck_assert_uint_eq(n, 40);
	ck_assert_uint_eq(a->held[fixture_object(&D, "p")->index].amount, 42);
	for (int i = 0; i < 42; i++)
		ck_assert(holds(a, "p", block_of("p", off[i])));
	ck_assert_uint_eq(pool_free("p"), 22);
	ck_assert_int_eq(alloc(b, "p", 0, 40, 0, off, &n), 0);
	ck_assert_uint_eq(n, 14);
	ck_assert_uint_eq(pool_free("p"), 8);
	ck_assert_int_eq(alloc(b, "p", 0, 1, 0, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(alloc(b, "p", 3, 5, 0, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(pool_free("p"), 5);
	ck_assert_int_eq(alloc(bare, "p", 1, 5, 0, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* Best effort never fails; nothing asked, nothing done. */
	ck_assert_int_eq(alloc(a, "p", 0, 0, 0, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(pool_free("p"), 4);
}
END_TEST

START_TEST(test_lease_counts_toward_quota)
{
	struct session *a = client(1000), *b = client(1001);
	uint64_t off[16], n;

	/* q: 6 slots, quota 8. */
	ck_assert_int_eq(alloc(a, "q", 0, 100, 0, off, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(alloc(a, "q", 2, 5, 0, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(alloc(a, "q", 1, 0, 0, off, &n), -EDQUOT);
	ck_assert_uint_eq(a->held[fixture_object(&D, "q")->index].amount, 8);
	ck_assert_int_eq(alloc(b, "q", 5, 6, 0, off, &n), 0);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_lease_cache_checked)
{
	struct session *a = client(1000);
	uint64_t off[64], n;

	ck_assert_int_eq(alloc(a, "p", 1, 8, 65, off, &n), -EINVAL);
	ck_assert_str_eq(E.msg, "pool 'p': a cache of 65 blocks, at most 64");
	ck_assert_int_eq(alloc(a, "q", 0, 3, 7, off, &n), -EINVAL);
	ck_assert_int_eq(alloc(a, "q", 0, 3, 9, off, &n), -EDQUOT);
	ck_assert_str_eq(E.msg, "pool 'q': a cache of 9 blocks is over the client quota of 8");
	ck_assert_int_eq(alloc(a, "n", 1, 0, 1, off, &n), -EINVAL);
	ck_assert_str_eq(E.msg, "pool 'n' cannot be cached");
	ck_assert_int_eq(
	    ops_pool_alloc_lease(&X.ops, a, fixture_object(&D, "p"), 2, true, 1, 0, off, &n, &E),
	    -EINVAL);
	/* Refusals are all or nothing. */
	ck_assert_uint_eq(pool_free("p"), 64);
	ck_assert_uint_eq(pool_free("q"), 64);
	ck_assert_uint_eq(pool_free("n"), 8);
	ck_assert_uint_eq(holds_count(&D.holds), 0);
	/* Within bounds: an ordinary Alloc. */
	ck_assert_int_eq(alloc(a, "q", 0, 3, 6, off, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(alloc(a, "p", 1, 0, 64, off, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(pool_free("p"), 63);
}
END_TEST

/* The bit follows the holder count through alloc, retain, free (and its
 * undo) and reclaim. */
START_TEST(test_lease_shared_bits)
{
	struct session *a = client(1000), *b = client(1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[2], bad[2], n;
	uint32_t blk;

	ck_assert_int_eq(alloc(a, "p", 2, 0, 0, off, &n), 0);
	blk = block_of("p", off[1]);
	ck_assert_int_eq(shared_bit("p", blk), 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, &off[1], 1, 0, &E), 0);
	ck_assert_int_eq(shared_bit("p", blk), 1);
	ck_assert_int_eq(shared_bit("p", block_of("p", off[0])), 0);
	/* A free that fails is undone, bit included. */
	bad[0] = off[1];
	bad[1] = off[0];
	ck_assert_int_eq(ops_free(&X.ops, b, p, bad, 2, 0, &E), -EPERM);
	ck_assert_int_eq(shared_bit("p", blk), 1);
	ck_assert_int_eq(ops_free(&X.ops, a, p, &off[1], 1, 0, &E), 0);
	ck_assert_int_eq(shared_bit("p", blk), 0);
	ck_assert_int_eq(ops_retain(&X.ops, a, p, &off[1], 1, 0, &E), 0);
	ck_assert_int_eq(shared_bit("p", blk), 1);
	ops_end_session(&X.ops, b);
	ck_assert_int_eq(shared_bit("p", blk), 0);
	ck_assert_int_eq(ops_free(&X.ops, a, p, off, 2, 0, &E), 0);
}
END_TEST

/* An allocation short of free blocks takes cached blocks back -- the
 * holder's hold is dropped -- and -ENOMEM comes only when free plus cached
 * blocks are too few, then with no cache touched. */
START_TEST(test_lease_take_back_lets_allocation_succeed)
{
	struct session *a = client(1000), *b = client(1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[64], mine[64], n;

	ck_assert_int_eq(alloc(a, "p", 0, 56, 0, mine, &n), 0);
	ck_assert_uint_eq(n, 56);
	cache(a, "p", mine, 50, 0); /* 6 in use, 50 cached */
	ck_assert_uint_eq(lease_cached(a, p), 50);
	ck_assert_int_eq(alloc(b, "p", 59, 0, 0, off, &n), -ENOMEM);
	ck_assert_uint_eq(lease_cached(a, p), 50);
	ck_assert_uint_eq(p->u.pool.taken_back, 0);
	ck_assert_int_eq(alloc(b, "p", 30, 0, 0, off, &n), 0);
	ck_assert_uint_eq(p->u.pool.taken_back, 22);
	ck_assert_uint_eq(a->held[p->index].amount, 34);
	ck_assert_uint_eq(lease_cached(a, p), 28);
	for (int i = 0; i < 22; i++) {
		ck_assert_uint_eq(slots(a, "p")[i], 0);
		ck_assert(!holds(a, "p", block_of("p", mine[i])));
		ck_assert(holds(b, "p", block_of("p", mine[i])));
	}
	ck_assert_int_eq(ops_free(&X.ops, a, p, &mine[0], 1, 0, &E), -EPERM);
	ck_assert_int_eq(ops_free(&X.ops, a, p, &mine[22], 1, 0, &E), 0);
	ck_assert_uint_eq(slots(a, "p")[22], block_of("p", mine[22]) + 1); /* a's lie: ignored */
	/* A run takes the cached blocks of the run it can make, then retries. */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, p, 28, true, off, &E), 0);
	ck_assert_uint_eq(lease_cached(a, p), 0);
	ck_assert_uint_eq(a->held[p->index].amount, 6);
}
END_TEST

/* Take-back counts a cached block once, and only when its session holds it:
 * a page that lists one held block twenty times does not make a doomed
 * allocation empty the others' caches. */
START_TEST(test_lease_take_back_counts_each_block_once)
{
	struct session *a = client(1000), *b = client(1001), *c = client(1002);
	struct object *p = fixture_object(&D, "p");
	uint64_t mine[20], hers[5], off[64], n;

	ck_assert_int_eq(alloc(a, "p", 20, 0, 0, mine, &n), 0);
	for (uint32_t i = 0; i < 20; i++)
		slots(a, "p")[i] = block_of("p", mine[0]) + 1;
	ck_assert_int_eq(alloc(b, "p", 0, 5, 0, hers, &n), 0);
	ck_assert_uint_eq(n, 5);
	cache(b, "p", hers, 5, 0);
	ck_assert_int_eq(alloc(c, "p", 39, 0, 0, off, &n), 0);
	ck_assert_uint_eq(pool_free("p"), 0);
	/* 0 free + 6 cached (a's one block, b's five) < 10. */
	ck_assert_int_eq(alloc(c, "p", 10, 0, 0, off, &n), -ENOMEM);
	ck_assert_uint_eq(p->u.pool.taken_back, 0);
	ck_assert_uint_eq(lease_cached(b, p), 5);
	ck_assert(holds(a, "p", block_of("p", mine[0])));
	/* 6 can be met: a's block once, and b's. */
	ck_assert_int_eq(alloc(c, "p", 6, 0, 0, off, &n), 0);
	ck_assert_uint_eq(p->u.pool.taken_back, 6);
	ck_assert_uint_eq(a->held[p->index].amount, 19);
}
END_TEST

/* A contiguous run takes back only the cached blocks of the lowest run it
 * can make; cached blocks elsewhere stay where they are. */
START_TEST(test_lease_run_takes_only_its_run)
{
	struct session *a = client(1000), *b = client(1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[64], run, n;

	ck_assert_int_eq(alloc(a, "p", 64, 0, 0, off, &n), 0);
	cache(a, "p", off + 8, 8, 0);  /* blocks 8..15 */
	cache(a, "p", off + 40, 8, 8); /* blocks 40..47 */
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, p, 9, true, &run, &E), -ENOMEM);
	ck_assert_uint_eq(lease_cached(a, p), 16);
	ck_assert_int_eq(ops_pool_alloc(&X.ops, b, p, 8, true, &run, &E), 0);
	ck_assert_uint_eq(run, off[8]);
	ck_assert_uint_eq(p->u.pool.taken_back, 8);
	ck_assert_uint_eq(lease_cached(a, p), 8);
	for (int i = 40; i < 48; i++)
		ck_assert(holds(a, "p", block_of("p", off[i])));
}
END_TEST

/* Garbage, out-of-range values, blocks of others, free blocks and
 * duplicates in a lease page change nothing but the liar's own holds. */
START_TEST(test_lease_hostile_page)
{
	struct session *a = client(1000), *b = client(1001), *c = client(1002);
	struct object *p = fixture_object(&D, "p");
	uint64_t mine[3], theirs, off[64], n;
	uint32_t *sl = slots(a, "p");

	ck_assert_int_eq(alloc(a, "p", 3, 0, 0, mine, &n), 0);
	ck_assert_int_eq(alloc(b, "p", 1, 0, 0, &theirs, &n), 0);
	sl[0] = UINT32_MAX;
	sl[1] = 65;
	sl[2] = block_of("p", theirs) + 1;
	sl[3] = 64; /* block 63: free */
	sl[4] = block_of("p", mine[0]) + 1;
	sl[5] = block_of("p", mine[0]) + 1;
	sl[6] = block_of("p", mine[1]) + 1;
	sl[63] = 0xdeadbeef;
	/* 60 free and at most 3 cached (what a holds): 62 can be met. */
	ck_assert_uint_eq(lease_cached(a, p), 3);
	ck_assert_int_eq(alloc(c, "p", 62, 0, 0, off, &n), 0);
	ck_assert_uint_eq(p->u.pool.taken_back, 2);
	ck_assert(!holds(a, "p", block_of("p", mine[0])));
	ck_assert(!holds(a, "p", block_of("p", mine[1])));
	ck_assert(holds(a, "p", block_of("p", mine[2])));
	ck_assert(holds(b, "p", block_of("p", theirs)));
	ck_assert_uint_eq(a->held[p->index].amount, 1);
	ck_assert_uint_eq(b->held[p->index].amount, 1);
	ck_assert_uint_eq(pool_free("p"), 0);
	ck_assert_int_eq(bitarray_check(&p->u.pool.mb.bitmap), 0);
	/* Nothing left to take: -ENOMEM, and b and a keep what they hold. */
	ck_assert_int_eq(alloc(c, "p", 1, 0, 0, off, &n), -ENOMEM);
	ck_assert_uint_eq(holds_count(&D.holds), 64);
}
END_TEST

START_TEST(test_lease_reclaim_drops_leased_blocks)
{
	struct session *a = client(1000), *b = client(1001);
	struct object *p = fixture_object(&D, "p");
	uint64_t off[64], n;

	ck_assert_int_eq(alloc(a, "p", 1, 40, 0, off, &n), 0);
	cache(a, "p", off + 1, n, 0);
	ck_assert_int_eq(ops_retain(&X.ops, b, p, off, 1, 0, &E), 0);
	ck_assert_int_eq(shared_bit("p", block_of("p", off[0])), 1);
	ops_end_session(&X.ops, a);
	ck_assert_uint_eq(pool_free("p"), 63);
	ck_assert_int_eq(shared_bit("p", block_of("p", off[0])), 0);
	ck_assert_int_eq(ops_free(&X.ops, b, p, off, 1, 0, &E), 0);
	ck_assert_uint_eq(pool_free("p"), 64);
}
END_TEST

/* ObjectStats.cached, Holding.cached, MapReply.cached: what the pages list,
 * in range, clamped to what each session holds. */
START_TEST(test_lease_cached_counts)
{
	struct session *a = client(1000), *b = client(1001);
	struct object *p = fixture_object(&D, "p");
	Allocd__ListReply list;
	Allocd__ClientsReply cl;
	Allocd__MapReply map;
	uint64_t off[16], n;
	uint32_t blk;

	ck_assert_int_eq(alloc(a, "p", 0, 10, 0, off, &n), 0);
	cache(a, "p", off, 4, 0);
	slots(a, "p")[10] = 1000; /* out of range: not counted */
	ck_assert_int_eq(alloc(b, "p", 1, 2, 0, off + 10, &n), 0);
	cache(b, "p", off + 11, 2, 5);
	ck_assert_int_eq(stats_list(&D, a, "p", &list, &E), 0);
	ck_assert_uint_eq(list.objects[0]->cached, 6);
	arena_reset(&D.arena);
	ck_assert_int_eq(stats_clients(&D, a, 0, &cl, &E), 0);
	ck_assert_uint_eq(cl.n_clients, 2);
	ck_assert_uint_eq(cl.clients[0]->holdings[0]->amount, 10);
	ck_assert_uint_eq(cl.clients[0]->holdings[0]->cached, 4);
	ck_assert_uint_eq(cl.clients[1]->holdings[0]->cached, 2);
	arena_reset(&D.arena);
	ck_assert_int_eq(stats_map(&D, a, "p", 0, 64, &map, &E), 0);
	ck_assert_uint_eq(map.cached.len, 8);
	n = 0;
	for (uint32_t i = 0; i < 64; i++)
		n += (map.cached.data[i / 8] >> (i % 8)) & 1;
	ck_assert_uint_eq(n, 6);
	blk = block_of("p", off[0]);
	ck_assert(map.cached.data[blk / 8] & (1u << (blk % 8)));
	blk = block_of("p", off[10]); /* b's, in use */
	ck_assert(!(map.cached.data[blk / 8] & (1u << (blk % 8))));
	arena_reset(&D.arena);
	(void) p;
}
END_TEST

Suite *lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("lease");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lease_page_geometry);
	tcase_add_test(tc, test_lease_grant_and_reserve);
	tcase_add_test(tc, test_lease_counts_toward_quota);
	tcase_add_test(tc, test_lease_cache_checked);
	tcase_add_test(tc, test_lease_shared_bits);
	tcase_add_test(tc, test_lease_take_back_lets_allocation_succeed);
	tcase_add_test(tc, test_lease_take_back_counts_each_block_once);
	tcase_add_test(tc, test_lease_run_takes_only_its_run);
	tcase_add_test(tc, test_lease_hostile_page);
	tcase_add_test(tc, test_lease_reclaim_drops_leased_blocks);
	tcase_add_test(tc, test_lease_cached_counts);
	suite_add_tcase(s, tc);
	return s;
}
