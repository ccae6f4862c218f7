/*
 * stats: mc_list, mc_stats, mc_status, mc_group_members, mc_clients and
 * mc_pool_map report exactly what allocations did, and the paged ones
 * (clients, pool maps) are complete when one frame cannot hold the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/client/check_client.h"

/* Frames of 4 KiB: a page holds ~28 Ki map bits or a few dozen clients. */
static const char small_frame_config[] =
    "max_frame = \"4K\";\n"
    "regions = ( { name = \"r\"; pools = (\n"
    "  { name = \"wide\"; block_size = 64; blocks = 40000; } ); } );\n";

#define WIDE_BLOCKS 40000u

static const struct mc_info *find_info(const struct mc_info *info, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(info[i].name, name) == 0)
			return &info[i];
	ck_abort_msg("%s is not listed", name);
	return NULL;
}

START_TEST(test_mc_list_follows_allocations)
{
	struct test_daemon td;
	struct mc_info info[32];
	const struct mc_info *small, *heap, *g_idx, *g_size, *g_b;
	mc_client_t *c;
	uint64_t off[5], g[3], h;
	size_t n = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 5, off), 0);
	ck_assert_int_eq(mc_group_alloc(c, "g_idx", 1, 3, g, NULL), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 1000, 0, &h), 0);
	ck_assert_int_eq(mc_list(c, info, 32, &n), 0);
	ck_assert_uint_le(n, 32);
	small = find_info(info, n, "small");
	ck_assert_uint_eq(small->kind, MC_POOL);
	ck_assert_uint_eq(small->block_size, 256);
	ck_assert_uint_eq(small->total, 64);
	ck_assert_uint_eq(small->used, 5);
	heap = find_info(info, n, "heap");
	ck_assert_uint_eq(heap->kind, MC_HEAP);
	ck_assert_uint_eq(heap->block_size, 0);
	ck_assert_uint_eq(heap->total, 1u << 20);
	ck_assert_uint_eq(heap->used, 1024);
	/* Groups sum their members, which they may share. */
	g_idx = find_info(info, n, "g_idx");
	g_size = find_info(info, n, "g_size");
	g_b = find_info(info, n, "g_b");
	ck_assert_uint_eq(g_idx->kind, MC_GROUP);
	ck_assert_uint_eq(g_idx->block_size, 0); /* members differ */
	ck_assert_uint_eq(g_idx->total, 16 + 16 + 8);
	ck_assert_uint_eq(g_idx->used, 3);
	ck_assert_uint_eq(g_size->used, 3);
	ck_assert_uint_eq(g_b->used, 3);

	ck_assert_int_eq(mc_free(c, "small", 5, off), 0);
	ck_assert_int_eq(mc_group_free(c, "g_idx", 3, g), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", h), 0);
	ck_assert_int_eq(mc_list(c, info, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(info[i].used == 0, "%s: used %llu", info[i].name,
			      (unsigned long long) info[i].used);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_list_counts_beyond_max)
{
	struct test_daemon td;
	struct mc_info all[32], two[3];
	mc_client_t *c;
	size_t n = 0, m = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_list(c, all, 32, &n), 0);
	/* Root sees 3 regions' objects: 11 + 1 + 1 pools and heaps, 5 groups. */
	ck_assert_uint_eq(n, geteuid() == 0 ? 18 : 17);
	memset(two, 0xee, sizeof(two));
	ck_assert_int_eq(mc_list(c, two, 2, &m), 0);
	ck_assert_uint_eq(m, n);
	ck_assert_str_eq(two[0].name, all[0].name);
	ck_assert_str_eq(two[1].name, all[1].name);
	ck_assert_uint_eq(two[2].kind, 0xeeeeeeeeu); /* untouched */
	ck_assert_int_eq(mc_list(c, NULL, 0, &m), 0);
	ck_assert_uint_eq(m, n);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_stats_fields)
{
	struct test_daemon td;
	struct mc_stats st;
	mc_client_t *c;
	uint64_t off[65], h[2];
	size_t n = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 10, off), 0);
	ck_assert_int_eq(mc_free(c, "small", 10, off), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 65, off), -ENOMEM);
	ck_assert_int_eq(mc_stats(c, "small", &st, 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(st.region, "main");
	ck_assert_uint_eq(st.info.used, 0);
	ck_assert_uint_eq(st.peak, 10);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.quota, 0);

	ck_assert_int_eq(mc_stats(c, "quota", &st, 1, &n), 0);
	ck_assert_uint_eq(st.quota, 4);

	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 0, &h[0]), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 64, 0, &h[1]), 0);
	ck_assert_int_eq(mc_heap_free(c, "heap", h[0]), 0);
	ck_assert_int_eq(mc_stats(c, "heap", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.used, 64);
	ck_assert_uint_eq(st.peak, 128);
	ck_assert_uint_eq(st.live, 1);
	/* Free: the first 64 bytes, and all after the second allocation. */
	ck_assert_uint_eq(st.free_blocks, 2);
	ck_assert_uint_eq(st.largest_free, (1u << 20) - 128);
	ck_assert_int_eq(mc_stats(c, "qheap", &st, 1, &n), 0);
	ck_assert_uint_eq(st.quota, 4096);

	ck_assert_int_eq(mc_stats(c, "g_rr", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.kind, MC_GROUP);
	ck_assert_str_eq(st.choice, "round_robin");
	ck_assert_uint_eq(st.nmembers, 3);
	ck_assert_str_eq(st.region, "main");
	ck_assert_int_eq(mc_stats(c, "g_bulk", &st, 1, &n), 0);
	ck_assert_str_eq(st.choice, "by_size");
	ck_assert_uint_eq(st.nmembers, 2);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_stats_of_everything_matches_list)
{
	struct test_daemon td;
	struct mc_stats st[32];
	struct mc_info info[32];
	mc_client_t *c;
	size_t n = 0, m = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_list(c, info, 32, &n), 0);
	ck_assert_int_eq(mc_stats(c, NULL, st, 32, &m), 0);
	ck_assert_uint_eq(m, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(st[i].info.name, info[i].name);
		ck_assert_uint_eq(st[i].info.total, info[i].total);
	}
	mc_close(c);
	client_stop(&td);
}
END_TEST

static const struct mc_region_status *find_region(const struct mc_region_status *rs, size_t n,
						  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rs[i].name, name) == 0)
			return &rs[i];
	ck_abort_msg("region %s is not listed", name);
	return NULL;
}

START_TEST(test_mc_status_counts)
{
	struct test_daemon td;
	struct mc_status st, st2;
	struct mc_region_status rs[4];
	const struct mc_region_status *main_rs;
	mc_client_t *a, *b;
	uint64_t off[3], h;
	size_t n = 0;

	client_start(&td, NULL);
	a = client_connect(&td);
	ck_assert_int_eq(mc_status(a, &st, rs, 4, &n), 0);
	ck_assert_uint_eq(n, geteuid() == 0 ? 3 : 2);
	ck_assert_uint_eq(st.pid, (uint32_t) td.pid);
	ck_assert_str_eq(st.socket, td.socket);
	ck_assert_uint_eq(st.max_clients, 1024);
	ck_assert_uint_ge(strlen(st.daemon_version), 1);
	main_rs = find_region(rs, n, "main");
	ck_assert_uint_eq(main_rs->used, 0);
	ck_assert_uint_eq(main_rs->objects, 11);
	ck_assert(!main_rs->hugepages);
	ck_assert_uint_eq(find_region(rs, n, "second")->objects, 1);

	/* Every request counts, this one included. */
	ck_assert_int_eq(mc_alloc(a, "small", 2, off), 0);
	ck_assert_int_eq(mc_heap_alloc(a, "heap", 100, 0, &h), 0);
	ck_assert_int_eq(mc_status(a, &st2, rs, 4, &n), 0);
	ck_assert_uint_eq(st2.requests, st.requests + 3);
	ck_assert_uint_eq(find_region(rs, n, "main")->used, 2 * 256 + 128);
	ck_assert_uint_ge(st2.uptime_ms, st.uptime_ms);

	/* A client that goes away holding 4 allocations: 4 reclaimed. */
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(b, "small", 3, off), 0);
	ck_assert_int_eq(mc_heap_alloc(b, "heap", 64, 0, &h), 0);
	ck_assert_int_eq(mc_status(a, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.clients, 2);
	mc_close(b);
	ck_assert_uint_eq(client_wait_used(a, "small", 2, 2000), 2);
	ck_assert_int_eq(mc_status(a, &st, NULL, 0, NULL), 0);
	ck_assert_uint_eq(st.reclaimed, st2.reclaimed + 4);
	ck_assert_uint_eq(st.clients, 1);
	mc_close(a);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_group_members_in_order)
{
	struct test_daemon td;
	char names[4][64];
	mc_client_t *c;
	size_t n = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_group_members(c, "g_size", names, 4, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "g_a");
	ck_assert_str_eq(names[1], "g_b");
	ck_assert_str_eq(names[2], "g_c");
	memset(names, 0, sizeof(names));
	ck_assert_int_eq(mc_group_members(c, "g_bulk", names, 1, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "bulk_small");
	ck_assert_str_eq(names[1], "");
	mc_close(c);
	client_stop(&td);
}
END_TEST

/* This process's name as the kernel has it (under valgrind, valgrind's). */
static void own_comm(char comm[17])
{
	FILE *f = fopen("/proc/self/comm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, 17, f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
}

START_TEST(test_mc_clients_shows_holdings)
{
	struct test_daemon td;
	struct mc_client_info ci[4];
	struct mc_holding h[8];
	mc_client_t *a, *b;
	uint64_t mine, off[3], heap;
	uint64_t now_ms = (uint64_t) time(NULL) * 1000;
	size_t n = 0, hn = 0;
	char comm[17];

	own_comm(comm);
	client_start(&td, NULL);
	a = client_connect(&td);
	b = client_connect(&td);
	ck_assert_int_eq(mc_alloc(a, "small", 1, &mine), 0);
	ck_assert_int_eq(mc_alloc(b, "small", 3, off), 0);
	ck_assert_int_eq(mc_retain(b, "small", 1, &mine), 0);
	ck_assert_int_eq(mc_heap_alloc(b, "heap", 100, 0, &heap), 0);

	ck_assert_int_eq(mc_clients(a, ci, 4, &n, h, 8, &hn), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(hn, 3);
	/* In connection order (ids grow); what each holds, in object order. */
	ck_assert_uint_lt(ci[0].id, ci[1].id);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_uint_eq(ci[i].pid, (uint32_t) getpid());
		ck_assert_uint_eq(ci[i].uid, (uint32_t) getuid());
		ck_assert_str_eq(ci[i].name, program_invocation_short_name);
		ck_assert_str_eq(ci[i].comm, comm);
		ck_assert_uint_ge(ci[i].since_unix_ms + 60000, now_ms);
		ck_assert_uint_le(ci[i].since_unix_ms, now_ms + 60000);
	}
	ck_assert_uint_eq(ci[0].nholdings, 1);
	ck_assert_uint_eq(ci[1].nholdings, 2);
	ck_assert_uint_eq(h[0].client_id, ci[0].id);
	ck_assert_str_eq(h[0].name, "small");
	ck_assert_uint_eq(h[0].amount, 1);
	ck_assert_uint_eq(h[1].client_id, ci[1].id);
	ck_assert_str_eq(h[1].name, "small");
	ck_assert_uint_eq(h[1].amount, 4);
	ck_assert_uint_eq(h[1].holds, 4);
	ck_assert_uint_eq(h[2].client_id, ci[1].id);
	ck_assert_str_eq(h[2].name, "heap");
	ck_assert_uint_eq(h[2].amount, 128);
	ck_assert_uint_eq(h[2].holds, 1);

	/* Counts without room for the entries. */
	ck_assert_int_eq(mc_clients(a, NULL, 0, &n, NULL, 0, &hn), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(hn, 3);
	mc_close(a);
	mc_close(b);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_clients_paged)
{
	enum { N = 150 };
	struct test_daemon td;
	mc_client_t *obs, *c[N];
	struct mc_client_info *ci = calloc(N + 1, sizeof(*ci));
	size_t n = 0, hn = 0;
	uint64_t off;

	ck_assert_ptr_nonnull(ci);
	client_start(&td, small_frame_config);
	obs = client_connect(&td);
	for (int i = 0; i < N; i++)
		c[i] = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c[N - 1], "wide", 1, &off), 0);
	/* ~45 bytes a client: 151 of them take several 4 KiB frames. */
	ck_assert_int_eq(mc_clients(obs, ci, N + 1, &n, NULL, 0, &hn), 0);
	ck_assert_uint_eq(n, N + 1);
	ck_assert_uint_eq(hn, 1);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_gt(ci[i].id, ci[i - 1].id);
	ck_assert_uint_eq(ci[N].nholdings, 1);
	for (int i = 0; i < N; i++)
		mc_close(c[i]);
	mc_close(obs);
	client_stop(&td);
	free(ci);
}
END_TEST

START_TEST(test_mc_pool_map_bits)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[3], total = 0;
	uint8_t bits[9];

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 3, off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &off[1]), 0);
	memset(bits, 0xff, sizeof(bits));
	ck_assert_int_eq(mc_pool_map(c, "small", 0, 64, bits, &total), 0);
	ck_assert_uint_eq(total, 64);
	ck_assert_uint_eq(bits[0], 0x05);
	for (int i = 1; i < 8; i++)
		ck_assert_uint_eq(bits[i], 0);
	ck_assert_uint_eq(bits[8], 0xff); /* past (64 + 7) / 8 bytes: untouched */
	/* From block 1: bit 0 is block 1 (free), bit 1 block 2. */
	ck_assert_int_eq(mc_pool_map(c, "small", 1, 2, bits, NULL), 0);
	ck_assert_uint_eq(bits[0], 0x02);
	/* Cut at the end of the pool: blocks 60..63 only. */
	memset(bits, 0xff, sizeof(bits));
	ck_assert_int_eq(mc_pool_map(c, "small", 60, 100, bits, &total), 0);
	ck_assert_uint_eq(bits[0], 0);
	ck_assert_uint_eq(total, 64);
	ck_assert_int_eq(mc_pool_map(c, "small", 65, 1, bits, NULL), -EINVAL);
	ck_assert_int_eq(mc_pool_map(c, "heap", 0, 1, bits, NULL), -ENOENT);
	mc_close(c);
	client_stop(&td);
}
END_TEST

START_TEST(test_mc_pool_map_paged)
{
	struct test_daemon td;
	uint64_t *off = malloc(WIDE_BLOCKS * sizeof(*off));
	uint8_t *bits = malloc(WIDE_BLOCKS / 8 + 1);
	mc_client_t *c;
	uint64_t total = 0;
	size_t nfree = 0;

	ck_assert_ptr_nonnull(off);
	ck_assert_ptr_nonnull(bits);
	client_start(&td, small_frame_config);
	c = client_connect(&td);
	ck_assert_uint_lt(mc_max_batch(c), 1000);
	ck_assert_int_eq(mc_alloc(c, "wide", WIDE_BLOCKS, off), 0);
	/* Free every block whose index is a multiple of 3. */
	for (size_t i = 0; i < WIDE_BLOCKS; i += 3)
		off[nfree++] = off[i];
	ck_assert_int_eq(mc_free(c, "wide", nfree, off), 0);
	ck_assert_uint_eq(client_used(c, "wide"), WIDE_BLOCKS - nfree);
	/* 39995 bits from block 5, more than one 4 KiB frame holds. */
	ck_assert_int_eq(mc_pool_map(c, "wide", 5, WIDE_BLOCKS, bits, &total), 0);
	ck_assert_uint_eq(total, WIDE_BLOCKS);
	for (uint64_t b = 5; b < WIDE_BLOCKS; b++) {
		uint64_t i = b - 5;
		int set = (bits[i / 8] >> (i % 8)) & 1;

		ck_assert_msg(set == (b % 3 != 0), "block %llu: bit %d", (unsigned long long) b,
			      set);
	}
	mc_close(c);
	client_stop(&td);
	free(off);
	free(bits);
}
END_TEST

/* The stats of one object as an observer sees them. */
static struct mc_stats one_stats(mc_client_t *c, const char *name)
{
	struct mc_stats st;
	size_t n = 0;

	ck_assert_int_eq(mc_stats(c, name, &st, 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	return st;
}

/* c's holding of name in an observer's listing of the clients. */
static struct mc_holding holding_of(mc_client_t *obs, uint64_t id, const char *name)
{
	struct mc_client_info ci[8];
	struct mc_holding h[32];
	size_t n = 0, hn = 0;

	ck_assert_int_eq(mc_clients(obs, ci, 8, &n, h, 32, &hn), 0);
	ck_assert_uint_le(hn, 32);
	for (size_t i = 0; i < hn; i++)
		if (h[i].client_id == id && strcmp(h[i].name, name) == 0)
			return h[i];
	ck_abort_msg("client %llu holds no %s", (unsigned long long) id, name);
	return h[0];
}

/* The id the daemon gave c: the newest client after connecting it. */
static uint64_t newest_id(mc_client_t *obs)
{
	struct mc_client_info ci[8];
	size_t n = 0;

	ck_assert_int_eq(mc_clients(obs, ci, 8, &n, NULL, 0, NULL), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, 8);
	return ci[n - 1].id;
}

/*
 * A client with caches on small (16: 8 leased at once), bulk_small (64: 32)
 * and bulk_large (16: 8): mc_stats and mc_clients count the blocks sitting
 * in its caches, and follow what mc_alloc takes out; a group sums its
 * members; heaps and blocks held outside a cache count 0.
 */
START_TEST(test_mc_stats_cached_counts)
{
	struct test_daemon td;
	mc_client_t *c, *obs;
	uint64_t off[3], id;
	struct mc_stats all[32];
	size_t n = 0;

	client_start(&td, NULL);
	obs = client_connect(&td);
	c = client_connect(&td);
	id = newest_id(obs);
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_int_eq(mc_cache(c, "bulk_small", 64), 0);
	ck_assert_int_eq(mc_cache(c, "bulk_large", 16), 0);
	ck_assert_uint_eq(one_stats(obs, "small").cached, 8);
	ck_assert_uint_eq(one_stats(obs, "small").info.used, 8);
	ck_assert_uint_eq(holding_of(obs, id, "small").amount, 8);
	ck_assert_uint_eq(holding_of(obs, id, "small").cached, 8);
	/* Three handed out: still held (used), no longer cached (5 >= 16/4:
	 * no refill). */
	ck_assert_int_eq(mc_alloc(c, "small", 3, off), 0);
	ck_assert_uint_eq(one_stats(obs, "small").cached, 5);
	ck_assert_uint_eq(one_stats(obs, "small").info.used, 8);
	ck_assert_uint_eq(holding_of(obs, id, "small").amount, 8);
	ck_assert_uint_eq(holding_of(obs, id, "small").cached, 5);
	ck_assert_uint_eq(holding_of(obs, id, "small").holds, 8);
	/* A group: its members' sum, alone and in a listing of everything. */
	ck_assert_uint_eq(one_stats(obs, "bulk_small").cached, 32);
	ck_assert_uint_eq(one_stats(obs, "bulk_large").cached, 8);
	ck_assert_uint_eq(one_stats(obs, "g_bulk").cached, 40);
	ck_assert_int_eq(mc_stats(obs, NULL, all, 32, &n), 0);
	ck_assert_uint_le(n, 32);
	for (size_t i = 0; i < n; i++) {
		const char *name = all[i].info.name;
		uint64_t want = strcmp(name, "small") == 0        ? 5
				: strcmp(name, "bulk_small") == 0 ? 32
				: strcmp(name, "bulk_large") == 0 ? 8
				: strcmp(name, "g_bulk") == 0     ? 40
								  : 0;

		ck_assert_msg(all[i].cached == want, "%s: cached %llu, want %llu", name,
			      (unsigned long long) all[i].cached, (unsigned long long) want);
	}
	/* The library's own view agrees. */
	{
		struct mc_cache_stats cs;

		ck_assert_int_eq(mc_cache_stats(c, "small", &cs), 0);
		ck_assert_uint_eq(cs.cached, 5);
	}
	/* Off: nothing cached, the handed-out blocks still held. */
	ck_assert_int_eq(mc_cache(c, "small", 0), 0);
	ck_assert_uint_eq(one_stats(obs, "small").cached, 0);
	ck_assert_uint_eq(one_stats(obs, "small").info.used, 3);
	ck_assert_uint_eq(holding_of(obs, id, "small").cached, 0);
	ck_assert_uint_eq(one_stats(obs, "heap").cached, 0);
	mc_close(c);
	ck_assert_uint_eq(one_stats(obs, "g_bulk").cached, 0);
	mc_close(obs);
	client_stop(&td);
}
END_TEST

/* Bit b of a bitmap. */
static bool bit(const uint8_t *bits, uint64_t b)
{
	return (bits[b / 8] >> (b % 8)) & 1;
}

/* With only c allocating from small: the leased blocks are the used ones,
 * and the cached bitmap is them less what mc_alloc handed out. */
START_TEST(test_mc_pool_cache_map_bits)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t off[3], base = UINT64_MAX, total = 0;
	uint8_t used[9], cached[9];
	unsigned nused = 0, ncached = 0;

	client_start(&td, NULL);
	c = client_connect(&td);
	/* small's block 0: the lowest of a full allocation. */
	{
		uint64_t all[64];

		ck_assert_int_eq(mc_alloc(c, "small", 64, all), 0);
		for (int i = 0; i < 64; i++)
			base = all[i] < base ? all[i] : base;
		ck_assert_int_eq(mc_free(c, "small", 64, all), 0);
	}
	ck_assert_int_eq(mc_cache(c, "small", 16), 0);
	ck_assert_int_eq(mc_alloc(c, "small", 3, off), 0);
	ck_assert_int_eq(mc_pool_map(c, "small", 0, 64, used, NULL), 0);
	memset(cached, 0xff, sizeof(cached));
	ck_assert_int_eq(mc_pool_cache_map(c, "small", 0, 64, cached, &total), 0);
	ck_assert_uint_eq(total, 64);
	ck_assert_uint_eq(cached[8], 0xff); /* past (64 + 7) / 8 bytes: untouched */
	for (uint64_t b = 0; b < 64; b++) {
		bool out = false;

		for (int i = 0; i < 3; i++)
			out = out || (off[i] - base) / 256 == b;
		ck_assert_msg(bit(cached, b) == (bit(used, b) && !out), "block %llu",
			      (unsigned long long) b);
		nused += bit(used, b);
		ncached += bit(cached, b);
	}
	ck_assert_uint_eq(nused, 8);
	ck_assert_uint_eq(ncached, 5);
	/* A window: bit 0 is block first. */
	for (uint64_t first = 0; first < 64; first += 7) {
		uint8_t win[1];

		ck_assert_int_eq(mc_pool_cache_map(c, "small", first, 5, win, NULL), 0);
		for (uint64_t i = 0; i < 5 && first + i < 64; i++)
			ck_assert_uint_eq(bit(win, i), bit(cached, first + i));
	}
	/* The same contract as mc_pool_map. */
	ck_assert_int_eq(mc_pool_cache_map(c, "small", 65, 1, cached, NULL), -EINVAL);
	ck_assert_int_eq(mc_pool_cache_map(c, "heap", 0, 1, cached, NULL), -ENOENT);
	ck_assert_int_eq(mc_pool_cache_map(c, "small", 0, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mc_pool_cache_map(NULL, "small", 0, 1, cached, NULL), -EINVAL);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = client_tcase("stats");

	tcase_add_test(tc, test_mc_list_follows_allocations);
	tcase_add_test(tc, test_mc_list_counts_beyond_max);
	tcase_add_test(tc, test_mc_stats_fields);
	tcase_add_test(tc, test_mc_stats_of_everything_matches_list);
	tcase_add_test(tc, test_mc_status_counts);
	tcase_add_test(tc, test_mc_group_members_in_order);
	tcase_add_test(tc, test_mc_clients_shows_holdings);
	tcase_add_test(tc, test_mc_clients_paged);
	tcase_add_test(tc, test_mc_pool_map_bits);
	tcase_add_test(tc, test_mc_pool_map_paged);
	tcase_add_test(tc, test_mc_stats_cached_counts);
	tcase_add_test(tc, test_mc_pool_cache_map_bits);
	suite_add_tcase(s, tc);
	return s;
}
