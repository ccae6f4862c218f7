/*
 * memctl with leased caches: this process turns caches on (mc_cache) and
 * takes some blocks out of them; the built memctl/memctl, run against the
 * real daemon, must show exactly how many blocks sit in the caches -- the
 * pools and clients tables and their --json, the map's glyphs, the
 * Prometheus gauges, watch -- and must lease nothing itself.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/memctl/memctl_fixture.h"

/* This process's cached blocks of pool, as the library counts them. */
static uint64_t cached_here(mc_client_t *c, const char *pool)
{
	struct mc_cache_stats st;

	ck_assert_int_eq(mc_cache_stats(c, pool, &st), 0);
	return st.cached;
}

/*
 * The known allocations (5 small, 3 packets, heap), then caches on small
 * (32: 16 leased) and packets (8: 4 leased), and 2 blocks of small taken
 * from the cache. small: 21 used, 14 cached; packets: 7 used, 4 cached;
 * group buffers (small + packets): 18 cached.
 */
static mc_client_t *start_cached(struct test_daemon *td)
{
	mc_client_t *c = mt_start_known(td);
	uint64_t off[2];

	ck_assert_int_eq(mc_cache(c, "small", 32), 0);
	ck_assert_int_eq(mc_cache(c, "packets", 8), 0);
	ck_assert_uint_eq(cached_here(c, "small"), 16);
	ck_assert_uint_eq(cached_here(c, "packets"), 4);
	ck_assert_int_eq(mc_alloc(c, "small", 2, off), 0);
	ck_assert_uint_eq(cached_here(c, "small"), 14);
	return c;
}

START_TEST(test_memctl_cache_pools_table)
{
	static const char *const small[] = {"small", "main", "256", "1024", "21",           "14",
					    "1003",  "21",   "-",   "0",    "[#.........]", "2%"};
	static const char *const packets[] = {
	    "packets", "main", "1536", "64", "7", "4", "57", "7", "32", "0", "[##........]", "10%"};
	static const char *const bits[] = {"bits", "main", "64", "64",           "0", "0", "64",
					   "0",    "-",    "0",  "[..........]", "0%"};
	struct test_daemon td;
	mc_client_t *c = start_cached(&td);
	char words[16][64];
	struct run r;

	mt_memctl(&r, td.socket, "pools", NULL);
	mt_ok(&r);
	ck_assert_uint_eq(mt_line_words(r.out, 0, words, 16), 11);
	ck_assert_str_eq(words[4], "USED");
	ck_assert_str_eq(words[5], "CACHED");
	ck_assert_str_eq(words[6], "FREE");
	mt_assert_row(r.out, small, 12);
	mt_assert_row(r.out, packets, 12);
	mt_assert_row(r.out, bits, 12);
	/* watch shows the same table. */
	mt_memctl(&r, td.socket, "watch", "--count", "1", "pools", NULL);
	mt_ok(&r);
	mt_assert_row(r.out, small, 12);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_cache_pools_json)
{
	struct test_daemon td;
	mc_client_t *c = start_cached(&td);
	json_t *doc, *pools, *p, *groups;
	struct run r;
	size_t i;

	mt_memctl(&r, td.socket, "pools", "--json", NULL);
	doc = mt_parse(&r);
	pools = json_object_get(doc, "pools");
	ck_assert_uint_eq(json_array_size(pools), 5);
	/* Every pool object carries the number (0 without a cache). */
	json_array_foreach(pools, i, p)
	{
		const char *name = mt_jstr(p, "name");
		long long want = strcmp(name, "small") == 0     ? 14
				 : strcmp(name, "packets") == 0 ? 4
								: 0;

		ck_assert_msg(mt_jint(p, "cached") == want, "%s: cached %lld, want %lld", name,
			      mt_jint(p, "cached"), want);
	}
	ck_assert_int_eq(mt_jint(mt_named(pools, "small"), "used"), 21);
	ck_assert_int_eq(mt_jint(mt_named(pools, "small"), "free"), 1003);
	ck_assert_int_eq(mt_jint(mt_named(pools, "packets"), "used"), 7);
	json_decref(doc);
	/* stats --json: the same pools, and the group's sum. */
	mt_memctl(&r, td.socket, "stats", "--json", NULL);
	doc = mt_parse(&r);
	ck_assert_int_eq(mt_jint(mt_named(json_object_get(doc, "pools"), "small"), "cached"), 14);
	groups = json_object_get(doc, "groups");
	ck_assert_int_eq(mt_jint(mt_named(groups, "buffers"), "cached"), 18);
	ck_assert_int_eq(mt_jint(mt_named(groups, "buffers"), "used"), 28);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_cache_clients_json)
{
	struct test_daemon td;
	mc_client_t *c = start_cached(&td);
	json_t *doc, *clients, *me, *cl, *h;
	struct run r;
	size_t i, j;

	mt_memctl(&r, td.socket, "clients", "--json", NULL);
	doc = mt_parse(&r);
	clients = json_object_get(doc, "clients");
	ck_assert_uint_eq(json_array_size(clients), 2); /* us, memctl */
	/* Every holding carries the number. */
	json_array_foreach(clients, i, cl)
	{
		json_array_foreach(json_object_get(cl, "holdings"), j, h)
		{
			ck_assert_int_ge(mt_jint(h, "cached"), 0);
		}
	}
	me = mt_client_with_pid(clients, getpid());
	h = mt_named(json_object_get(me, "holdings"), "small");
	ck_assert_int_eq(mt_jint(h, "amount"), 21);
	ck_assert_int_eq(mt_jint(h, "bytes"), 21 * 256);
	ck_assert_int_eq(mt_jint(h, "cached"), 14);
	h = mt_named(json_object_get(me, "holdings"), "packets");
	ck_assert_int_eq(mt_jint(h, "amount"), 7);
	ck_assert_int_eq(mt_jint(h, "cached"), 4);
	h = mt_named(json_object_get(me, "holdings"), "heap");
	ck_assert_int_eq(mt_jint(h, "cached"), 0);
	/* memctl holds nothing: it turns caches off for itself. */
	json_array_foreach(clients, i, cl)
	{
		if (mt_jint(cl, "pid") != getpid())
			ck_assert_uint_eq(json_array_size(json_object_get(cl, "holdings")), 0);
	}
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* The words of the line of out whose words k1 and k2 are w1 and w2. */
static size_t find_line(const char *out, int k1, const char *w1, int k2, const char *w2,
			char words[][64])
{
	for (const char *line = out; *line != '\0';) {
		size_t n = mt_split(line, words, 16);

		if (n > (size_t) k1 && n > (size_t) k2 && strcmp(words[k1], w1) == 0 &&
		    strcmp(words[k2], w2) == 0)
			return n;
		line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "";
	}
	ck_abort_msg("no line with '%s' and '%s' in:\n%s", w1, w2, out);
	return 0;
}

START_TEST(test_memctl_cache_clients_table)
{
	struct test_daemon td;
	mc_client_t *c = start_cached(&td);
	char words[16][64], pid[16];
	struct run r;

	snprintf(pid, sizeof(pid), "%d", (int) getpid());
	/* The holdings table: CLIENT PID OBJECT KIND BLOCKS BYTES ALLOCATIONS
	 * CACHED. */
	mt_memctl(&r, td.socket, "clients", "--bytes", NULL);
	mt_ok(&r);
	ck_assert_uint_eq(find_line(r.out, 0, "CLIENT", 7, "CACHED", words), 8);
	ck_assert_uint_eq(find_line(r.out, 1, pid, 2, "small", words), 8);
	ck_assert_str_eq(words[4], "21");
	ck_assert_str_eq(words[7], "14");
	ck_assert_uint_eq(find_line(r.out, 1, pid, 2, "packets", words), 8);
	ck_assert_str_eq(words[4], "7");
	ck_assert_str_eq(words[7], "4");
	ck_assert_uint_eq(find_line(r.out, 1, pid, 2, "heap", words), 8);
	ck_assert_str_eq(words[7], "-");
	/* The holders of small: ID PID USER COMM NAME BLOCKS BYTES
	 * ALLOCATIONS CACHED CONNECTED FOR. */
	mt_memctl(&r, td.socket, "clients", "--pool", "small", "--bytes", NULL);
	mt_ok(&r);
	ck_assert_int_eq(mt_count_of(r.out, "\n"), 2);
	mt_line_words(r.out, 0, words, 16);
	ck_assert_str_eq(words[5], "BLOCKS");
	ck_assert_str_eq(words[8], "CACHED");
	ck_assert_uint_ge(mt_line_words(r.out, 1, words, 16), 11);
	ck_assert_str_eq(words[1], pid);
	ck_assert_str_eq(words[5], "21");
	ck_assert_str_eq(words[6], "5376");
	ck_assert_str_eq(words[8], "14");
	mt_finish(&td, c);
}
END_TEST

/* Bit b of a bitmap. */
static bool bit(const uint8_t *bits, uint64_t b)
{
	return (bits[b / 8] >> (b % 8)) & 1;
}

/*
 * Pool bits (64 blocks): 4 blocks allocated outside a cache, then a cache
 * of 16 (8 leased) of which 3 are taken out: 12 used, 5 of them cached.
 * Fills the maps as this process reads them.
 */
static mc_client_t *start_bits(struct test_daemon *td, uint8_t used[8], uint8_t cached[8])
{
	mc_client_t *c;
	uint64_t off[4];

	client_start(td, mt_config());
	c = client_connect(td);
	ck_assert_int_eq(mc_alloc(c, "bits", 4, off), 0);
	ck_assert_int_eq(mc_cache(c, "bits", 16), 0);
	ck_assert_int_eq(mc_alloc(c, "bits", 3, off), 0);
	ck_assert_uint_eq(cached_here(c, "bits"), 5);
	ck_assert_int_eq(mc_pool_map(c, "bits", 0, 64, used, NULL), 0);
	ck_assert_int_eq(mc_pool_cache_map(c, "bits", 0, 64, cached, NULL), 0);
	return c;
}

START_TEST(test_memctl_cache_map_glyphs)
{
	struct test_daemon td;
	uint8_t used[8], cached[8];
	mc_client_t *c = start_bits(&td, used, cached);
	char want[80] = "\n 0 ";
	int nc = 0, nu = 0;
	struct run r;

	for (uint64_t b = 0; b < 64; b++) {
		char g = bit(cached, b) ? 'c' : bit(used, b) ? '#' : '.';

		ck_assert(!bit(cached, b) || bit(used, b));
		nc += g == 'c';
		nu += g == '#';
		want[4 + b] = g;
	}
	ck_assert_int_eq(nc, 5);
	ck_assert_int_eq(nu, 7);
	strcat(want, "\n");
	setenv("COLUMNS", "80", 1);
	mt_memctl(&r, td.socket, "map", "bits", "--rows", "1", NULL);
	unsetenv("COLUMNS");
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "64 blocks of 64 B, 12 used (5 of them cached), 52 free\n"),
		      "%s", r.out);
	ck_assert_msg(strstr(r.out, "'c' cached (leased to a client, not in use)\n"), "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_cache_map_json)
{
	struct test_daemon td;
	uint8_t used[8], cached[8];
	mc_client_t *c = start_bits(&td, used, cached);
	json_t *doc, *map, *cells, *ccells;
	struct run r;

	setenv("COLUMNS", "80", 1);
	mt_memctl(&r, td.socket, "map", "bits", "--rows", "1", "--json", NULL);
	unsetenv("COLUMNS");
	doc = mt_parse(&r);
	map = json_object_get(doc, "map");
	ck_assert_int_eq(mt_jint(map, "used"), 12);
	ck_assert_int_eq(mt_jint(map, "cached"), 5);
	ck_assert_int_eq(mt_jint(map, "free"), 52);
	ck_assert_int_eq(mt_jint(map, "blocks_per_cell"), 1);
	cells = json_object_get(map, "cells");
	ccells = json_object_get(map, "cached_cells");
	ck_assert_uint_eq(json_array_size(cells), 64);
	ck_assert_uint_eq(json_array_size(ccells), 64);
	for (size_t b = 0; b < 64; b++) {
		ck_assert_int_eq(json_integer_value(json_array_get(cells, b)), bit(used, b));
		ck_assert_int_eq(json_integer_value(json_array_get(ccells, b)), bit(cached, b));
	}
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* Pool wide (4096 blocks): in one row of 80 columns, 1 cell = 64 blocks. A
 * cache of 256 leases 128 blocks and nothing else is allocated: the cells
 * of cached blocks are 'c' (none is in use), every other cell '.'. */
START_TEST(test_memctl_cache_map_scaled)
{
	struct test_daemon td;
	uint8_t cached[512];
	char want[80] = "\n   0 ";
	mc_client_t *c;
	struct run r;

	client_start(&td, mt_config());
	c = client_connect(&td);
	ck_assert_int_eq(mc_cache(c, "wide", 256), 0);
	ck_assert_uint_eq(cached_here(c, "wide"), 128);
	ck_assert_int_eq(mc_pool_cache_map(c, "wide", 0, 4096, cached, NULL), 0);
	for (size_t cell = 0; cell < 64; cell++) {
		bool any = false;

		for (uint64_t b = cell * 64; b < cell * 64 + 64; b++)
			any = any || bit(cached, b);
		want[6 + cell] = any ? 'c' : '.';
	}
	strcat(want, "\n");
	ck_assert_ptr_nonnull(strchr(want + 6, 'c'));
	setenv("COLUMNS", "80", 1);
	mt_memctl(&r, td.socket, "map", "--rows", "1", "wide", NULL);
	unsetenv("COLUMNS");
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "1 cell = 64 blocks;") != NULL, "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_cache_prometheus)
{
	static const char *const want[] = {
	    "# HELP allocatord_pool_blocks_cached ",
	    "# TYPE allocatord_pool_blocks_cached gauge\n",
	    "allocatord_pool_blocks_cached{pool=\"small\",region=\"main\"} 14\n",
	    "allocatord_pool_blocks_cached{pool=\"packets\",region=\"main\"} 4\n",
	    "allocatord_pool_blocks_cached{pool=\"bits\",region=\"main\"} 0\n",
	    "allocatord_pool_blocks_used{pool=\"small\",region=\"main\"} 21\n",
	    "# TYPE allocatord_group_blocks_cached gauge\n",
	    "allocatord_group_blocks_cached{group=\"buffers\",region=\"main\"} 18\n",
	};
	struct test_daemon td;
	mc_client_t *c = start_cached(&td);
	struct run r;

	mt_memctl(&r, td.socket, "stats", "--prometheus", NULL);
	mt_ok(&r);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(r.out, want[i]) != NULL, "no %s in:\n%s", want[i], r.out);
	mt_finish(&td, c);
}
END_TEST

/* memctl only looks: with every cache asked for in the environment, it
 * still leases nothing (it would show blocks held and cached by itself). */
START_TEST(test_memctl_cache_none_for_memctl)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	json_t *doc, *small;
	struct run r;

	setenv("ALLOCATORD_CLIENT_CACHE", "64", 1);
	mt_memctl(&r, td.socket, "pools", "--json", NULL);
	unsetenv("ALLOCATORD_CLIENT_CACHE");
	doc = mt_parse(&r);
	small = mt_named(json_object_get(doc, "pools"), "small");
	ck_assert_int_eq(mt_jint(small, "used"), 5);
	ck_assert_int_eq(mt_jint(small, "cached"), 0);
	json_decref(doc);
	/* Without caches the tables have no CACHED column. */
	mt_memctl(&r, td.socket, "pools", NULL);
	mt_ok(&r);
	ck_assert_ptr_null(strstr(r.out, "CACHED"));
	mt_memctl(&r, td.socket, "clients", NULL);
	mt_ok(&r);
	ck_assert_ptr_null(strstr(r.out, "CACHED"));
	mt_finish(&td, c);
}
END_TEST

Suite *memctl_cache_suite(void)
{
	Suite *s = suite_create("memctl_cache");
	TCase *tc = client_tcase("memctl_cache");

	tcase_add_test(tc, test_memctl_cache_pools_table);
	tcase_add_test(tc, test_memctl_cache_pools_json);
	tcase_add_test(tc, test_memctl_cache_clients_json);
	tcase_add_test(tc, test_memctl_cache_clients_table);
	tcase_add_test(tc, test_memctl_cache_map_glyphs);
	tcase_add_test(tc, test_memctl_cache_map_json);
	tcase_add_test(tc, test_memctl_cache_map_scaled);
	tcase_add_test(tc, test_memctl_cache_prometheus);
	tcase_add_test(tc, test_memctl_cache_none_for_memctl);
	suite_add_tcase(s, tc);
	return s;
}
