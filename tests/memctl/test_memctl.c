/*
 * memctl: the built memctl/memctl run against a real allocatord, after
 * known allocations made through libmemclient by this process (and by a
 * forked child, for the clients listing). Text listings are checked row by
 * row, --json parsed back with jansson field by field, the Prometheus
 * output line by line.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/memctl/memctl_fixture.h"
START_TEST(test_memctl_pools_table)
{
	static const char *const small[] = {"small", "main", "256", "1024",         "5", "1019",
					    "5",     "-",    "0",   "[#.........]", "0%"};
	static const char *const packets[] = {"packets", "main", "1536", "64",           "3", "61",
					      "3",       "32",   "0",    "[#.........]", "4%"};
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "pools", NULL);
	mt_ok(&r);
	ck_assert_msg(strncmp(r.out, "NAME ", 5) == 0, "no header:\n%s", r.out);
	mt_assert_row(r.out, small, 11);
	mt_assert_row(r.out, packets, 11);
	ck_assert_int_eq(mt_count_of(r.out, "heap"), 0);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_pools_json)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	json_t *doc, *small, *packets;
	struct run r;

	mt_memctl(&r, td.socket, "pools", "--json", NULL);
	doc = mt_parse(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pools")), 5);
	small = mt_named(json_object_get(doc, "pools"), "small");
	ck_assert_str_eq(mt_jstr(small, "region"), "main");
	ck_assert_int_eq(mt_jint(small, "block_size"), 256);
	ck_assert_int_eq(mt_jint(small, "total"), 1024);
	ck_assert_int_eq(mt_jint(small, "used"), 5);
	ck_assert_int_eq(mt_jint(small, "free"), 1019);
	ck_assert_int_eq(mt_jint(small, "peak"), 5);
	ck_assert_int_eq(mt_jint(small, "quota"), 0);
	ck_assert_int_eq(mt_jint(small, "failed"), 0);
	packets = mt_named(json_object_get(doc, "pools"), "packets");
	ck_assert_int_eq(mt_jint(packets, "block_size"), 1536);
	ck_assert_int_eq(mt_jint(packets, "used"), 3);
	ck_assert_int_eq(mt_jint(packets, "quota"), 32);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* The heap's stats as the library reports them. */
static struct mc_stats heap_stats(mc_client_t *c)
{
	struct mc_stats st;
	size_t n;

	ck_assert_int_eq(mc_stats(c, "heap", &st, 1, &n), 0);
	ck_assert_uint_eq(st.info.used, HEAP_USED);
	ck_assert_uint_eq(st.live, 2);
	return st;
}

START_TEST(test_memctl_heaps_table)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct mc_stats st = heap_stats(c);
	uint64_t free_bytes = (1u << 20) - HEAP_USED;
	char largest[32], frag[32], freeb[32];
	struct run r;

	snprintf(largest, sizeof(largest), "%llu", (unsigned long long) st.largest_free);
	snprintf(freeb, sizeof(freeb), "%llu", (unsigned long long) free_bytes);
	snprintf(frag, sizeof(frag), "%llu%%",
		 (unsigned long long) ((free_bytes - st.largest_free) * 100 / free_bytes));
	mt_memctl(&r, td.socket, "heaps", "--bytes", NULL);
	mt_ok(&r);
	{
		const char *const want[] = {"heap", "main", "1048576", "5120", freeb, largest,
					    frag,   "2",    "5120",    "-",    "0"};

		mt_assert_row(r.out, want, 11);
	}
	/* Without --bytes, sizes for people. */
	mt_memctl(&r, td.socket, "heaps", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "1 MiB") && strstr(r.out, "5 KiB"), "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

/* A size that is no whole number of units keeps one decimal: main holds
 * MAIN_USED = 11008 bytes, 10.75 KiB. */
START_TEST(test_memctl_sizes_not_whole_units)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	ck_assert_uint_eq(MAIN_USED, 11008);
	mt_memctl(&r, td.socket, "status", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, " 10.8 KiB ") != NULL, "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_heaps_json)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct mc_stats st = heap_stats(c);
	json_t *doc, *h;
	struct run r;

	mt_memctl(&r, td.socket, "heaps", "--json", NULL);
	doc = mt_parse(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "heaps")), 1);
	h = mt_named(json_object_get(doc, "heaps"), "heap");
	ck_assert_str_eq(mt_jstr(h, "region"), "main");
	ck_assert_int_eq(mt_jint(h, "size"), 1 << 20);
	ck_assert_int_eq(mt_jint(h, "used"), HEAP_USED);
	ck_assert_int_eq(mt_jint(h, "free"), (1 << 20) - HEAP_USED);
	ck_assert_int_eq(mt_jint(h, "largest_free"), (long long) st.largest_free);
	ck_assert_int_eq(mt_jint(h, "fragmentation_percent"),
			 (long long) (((1 << 20) - HEAP_USED - st.largest_free) * 100 /
				      ((1 << 20) - HEAP_USED)));
	ck_assert_int_eq(mt_jint(h, "live"), 2);
	ck_assert_int_eq(mt_jint(h, "free_blocks"), (long long) st.free_blocks);
	ck_assert_int_eq(mt_jint(h, "peak"), HEAP_USED);
	ck_assert_int_eq(mt_jint(h, "quota"), 0);
	ck_assert_int_eq(mt_jint(h, "failed"), 0);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_groups_table)
{
	static const char *const want[] = {
	    "buffers",      "main", "mixed",   "1088",         "8", "1080", "0",
	    "[#.........]", "0%",   "by_size", "small,packets"};
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "groups", NULL);
	mt_ok(&r);
	mt_assert_row(r.out, want, 11);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_groups_json)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	json_t *doc, *g, *members;
	struct run r;

	mt_memctl(&r, td.socket, "--json", "groups", NULL);
	doc = mt_parse(&r);
	g = mt_named(json_object_get(doc, "groups"), "buffers");
	ck_assert_str_eq(mt_jstr(g, "region"), "main");
	ck_assert_int_eq(mt_jint(g, "block_size"), 0);
	ck_assert_int_eq(mt_jint(g, "total"), 1024 + 64);
	ck_assert_int_eq(mt_jint(g, "used"), 8);
	ck_assert_int_eq(mt_jint(g, "free"), 1080);
	ck_assert_str_eq(mt_jstr(g, "choice"), "by_size");
	members = json_object_get(g, "members");
	ck_assert_uint_eq(json_array_size(members), 2);
	ck_assert_str_eq(json_string_value(json_array_get(members, 0)), "small");
	ck_assert_str_eq(json_string_value(json_array_get(members, 1)), "packets");
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* A daemon told that a keeper runs it (as the keeper tells its serving
 * process): this test's own pid stands for the keeper. */
static mc_client_t *start_kept(struct test_daemon *td)
{
	char pid[16];
	mc_client_t *c;

	snprintf(pid, sizeof(pid), "%d", (int) getpid());
	ck_assert_int_eq(setenv("ALLOCATORD_KEEPER", pid, 1), 0);
	c = mt_start_known(td);
	unsetenv("ALLOCATORD_KEEPER");
	return c;
}

START_TEST(test_memctl_status_table)
{
	struct test_daemon td;
	mc_client_t *c = start_kept(&td);
	char line[256], used[32];
	struct run r;

	mt_memctl(&r, td.socket, "status", "--bytes", NULL);
	mt_ok(&r);
	/* pid is the serving process's; no takeover yet; the keeper's pid. */
	ck_assert_msg(strstr(r.out, "\ntakeovers: 0 (last: none), state since 20") != NULL, "%s",
		      r.out);
	snprintf(line, sizeof(line), "\nkeeper:    pid %d\n", (int) getpid());
	ck_assert_msg(strstr(r.out, line) != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "\ndetached:") == NULL, "%s", r.out);
	snprintf(line, sizeof(line), ", pid %d, up ", (int) td.pid);
	ck_assert_msg(strncmp(r.out, "allocatord ", 11) == 0 && strstr(r.out, line), "%s", r.out);
	snprintf(line, sizeof(line), "socket:    %s\n", td.socket);
	ck_assert_msg(strstr(r.out, line) != NULL, "%s", r.out);
	/* This process and memctl itself. */
	ck_assert_msg(strstr(r.out, "clients:   2 of at most 1024\n") != NULL, "%s", r.out);
	snprintf(used, sizeof(used), "%d", MAIN_USED);
	{
		char words[16][64];

		ck_assert_uint_eq(mt_row(r.out, "main", words, 16), 7);
		ck_assert_str_eq(words[2], used);
		ck_assert_str_eq(words[5], "4K");
		ck_assert_str_eq(words[6], "5");
		ck_assert_uint_eq(mt_row(r.out, "total", words, 16), 6);
		ck_assert_str_eq(words[2], used);
		ck_assert_str_eq(words[5], "6");
	}
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_status_json)
{
	struct test_daemon td;
	mc_client_t *c = start_kept(&td);
	json_t *doc, *st, *main_region;
	struct run r;

	mt_memctl(&r, td.socket, "status", "--json", NULL);
	doc = mt_parse(&r);
	st = json_object_get(doc, "status");
	ck_assert_int_eq(mt_jint(st, "pid"), td.pid);
	ck_assert_str_eq(mt_jstr(st, "socket"), td.socket);
	ck_assert_str_eq(mt_jstr(st, "daemon_version"), PACKAGE_VERSION);
	ck_assert_int_eq(mt_jint(st, "clients"), 2);
	ck_assert_int_eq(mt_jint(st, "max_clients"), 1024);
	ck_assert_int_ge(mt_jint(st, "requests"), 4); /* our four allocations */
	ck_assert_int_eq(mt_jint(st, "reclaimed"), 0);
	ck_assert_int_ge(mt_jint(st, "uptime_ms"), 0);
	ck_assert_int_eq(mt_jint(st, "takeovers"), 0);
	ck_assert_int_eq(mt_jint(st, "last_takeover_unix_ms"), 0);
	ck_assert_int_gt(mt_jint(st, "state_since_unix_ms"), 1700000000000LL);
	ck_assert_int_le(mt_jint(st, "state_since_unix_ms"), (long long) time(NULL) * 1000 + 1000);
	ck_assert_int_eq(mt_jint(st, "keeper_pid"), getpid());
	ck_assert_int_eq(mt_jint(st, "detached"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "regions")), 2);
	main_region = mt_named(json_object_get(doc, "regions"), "main");
	ck_assert_int_eq(mt_jint(main_region, "used"), MAIN_USED);
	ck_assert_int_eq(mt_jint(main_region, "objects"), 5);
	ck_assert(json_is_false(json_object_get(main_region, "hugepages")));
	ck_assert_int_eq(mt_jint(mt_named(json_object_get(doc, "regions"), "private"), "used"), 0);
	ck_assert_int_eq(mt_jint(json_object_get(doc, "totals"), "used"), MAIN_USED);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* Send SIGHUP after appending `tail` to td's file (NULL: after writing
 * text), and wait for the daemon to apply or refuse it. */
static void mt_reload(const struct test_daemon *td, mc_client_t *c, const char *text,
		      const char *tail)
{
	struct mc_status a, b;
	FILE *f = fopen(td->config, tail != NULL ? "a" : "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(tail != NULL ? tail : text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(mc_status(c, &a, NULL, 0, NULL), 0);
	ck_assert_int_eq(kill(td->pid, SIGHUP), 0);
	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(mc_status(c, &b, NULL, 0, NULL), 0);
		if (b.config_generation != a.config_generation ||
		    b.reloads_refused != a.reloads_refused)
			return;
		usleep(1000);
	}
	ck_abort_msg("the daemon did not act on SIGHUP");
}

/* The configuration's file, generation and load time, and why the last
 * reload was refused, in the table and in JSON. */
START_TEST(test_memctl_status_config)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	char line[512], text[4096] = "";
	json_t *doc, *cfg;
	struct run r;
	FILE *f = fopen(td.config, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	mt_reload(&td, c, NULL, "this is not libconfig\n");
	mt_memctl(&r, td.socket, "status", NULL);
	mt_ok(&r);
	snprintf(line, sizeof(line), "config:    %s, generation 1, loaded ", td.config);
	ck_assert_msg(strstr(r.out, line) != NULL, "%s", r.out);
	snprintf(line, sizeof(line), "reloads:   1 refused; the last: %s:", td.config);
	ck_assert_msg(strstr(r.out, line) != NULL && strstr(r.out, "syntax error\n") != NULL, "%s",
		      r.out);

	mt_reload(&td, c, text, NULL);
	mt_memctl(&r, td.socket, "status", "--json", NULL);
	doc = mt_parse(&r);
	cfg = json_object_get(json_object_get(doc, "status"), "config");
	ck_assert_str_eq(mt_jstr(cfg, "file"), td.config);
	ck_assert_int_eq(mt_jint(cfg, "generation"), 2);
	ck_assert_int_gt(mt_jint(cfg, "loaded_unix_ms"), 0);
	ck_assert_int_eq(mt_jint(cfg, "reloads_refused"), 1);
	ck_assert_str_eq(mt_jstr(cfg, "reload_error"), "");
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* A region and a pool a reload adds show in `memctl pools` and `status`;
 * removed again, they no longer do. */
START_TEST(test_memctl_lists_reloaded_objects)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	char text[4096] = "", more[4096];
	const char *at;
	struct run r;
	FILE *f = fopen(td.config, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	at = strstr(text, "regions = (");
	ck_assert_ptr_nonnull(at);
	at += strlen("regions = (");
	snprintf(more, sizeof(more),
		 "%.*s { name = \"extra\"; pools = ( { name = \"added\"; block_size = 64; "
		 "blocks = 4; } ); },%s",
		 (int) (at - text), text, at);
	mt_reload(&td, c, more, NULL);
	mt_memctl(&r, td.socket, "pools", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "added") != NULL, "%s", r.out);
	mt_memctl(&r, td.socket, "status", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "extra") != NULL, "%s", r.out);
	/* memctl's own connection is gone: nobody may use 'extra' now. */
	mt_reload(&td, c, text, NULL);
	mt_memctl(&r, td.socket, "pools", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "added") == NULL, "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

/*
 * A child that holds 7 blocks of small, 3 of packets and 2048 bytes of
 * heap until told to go; forked before the test connects. Returns its pid
 * and the pipe that lets it go.
 */
static pid_t holder(const struct test_daemon *td, int *go)
{
	int ready[2], wait_go[2];
	pid_t pid;
	char b;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(wait_go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mc_client_t *c = NULL;
		uint64_t off[7], h;
		int bad;

		close(ready[0]);
		close(wait_go[1]); /* so that the parent's close is an EOF here */
		bad = mc_connect(td->socket, &c) != 0 || mc_alloc(c, "small", 7, off) != 0 ||
		      mc_alloc(c, "packets", 3, off) != 0 ||
		      mc_heap_alloc(c, "heap", 2048, 0, &h) != 0;

		b = bad ? 'x' : 'r';
		if (write(ready[1], &b, 1) != 1 || read(wait_go[0], &b, 1) < 0)
			bad = 1;
		mc_close(c);
		_exit(bad);
	}
	close(ready[1]);
	close(wait_go[0]);
	ck_assert(client_read_full(ready[0], &b, 1));
	ck_assert_int_eq(b, 'r');
	close(ready[0]);
	*go = wait_go[1];
	return pid;
}

static void release(pid_t pid, int go)
{
	close(go);
	ck_assert_int_eq(client_wait_child(pid), 0);
}

static void assert_holding(json_t *client, const char *name, const char *kind, long long amount,
			   long long bytes, long long allocations)
{
	json_t *h = mt_named(json_object_get(client, "holdings"), name);

	ck_assert_str_eq(mt_jstr(h, "kind"), kind);
	ck_assert_int_eq(mt_jint(h, "amount"), amount);
	ck_assert_int_eq(mt_jint(h, "bytes"), bytes);
	ck_assert_int_eq(mt_jint(h, "allocations"), allocations);
}

START_TEST(test_memctl_clients_json)
{
	struct test_daemon td;
	json_t *doc, *clients, *child, *me;
	mc_client_t *c;
	struct run r;
	pid_t pid;
	int go;

	client_start(&td, mt_config());
	pid = holder(&td, &go);
	c = client_connect(&td);
	mt_known_allocations(c);
	mt_memctl(&r, td.socket, "clients", "--json", NULL);
	doc = mt_parse(&r);
	clients = json_object_get(doc, "clients");
	ck_assert_uint_eq(json_array_size(clients), 3); /* child, us, memctl */
	child = mt_client_with_pid(clients, pid);
	ck_assert_int_eq(mt_jint(child, "uid"), getuid());
	ck_assert_uint_eq(json_array_size(json_object_get(child, "holdings")), 3);
	assert_holding(child, "small", "pool", 7, 7 * 256, 7);
	assert_holding(child, "packets", "pool", 3, 3 * 1536, 3);
	assert_holding(child, "heap", "heap", 2048, 2048, 1);
	me = mt_client_with_pid(clients, getpid());
	ck_assert_uint_eq(json_array_size(json_object_get(me, "holdings")), 3);
	assert_holding(me, "small", "pool", 5, 5 * 256, 5);
	assert_holding(me, "heap", "heap", HEAP_USED, HEAP_USED, 2);
	ck_assert_int_le(mt_jint(me, "since_unix_ms"), (long long) time(NULL) * 1000 + 1000);
	json_decref(doc);
	release(pid, go);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_clients_pool_sorted)
{
	struct test_daemon td;
	char words[16][64], pidstr[16];
	mc_client_t *c;
	struct run r;
	pid_t pid;
	int go;

	client_start(&td, mt_config());
	pid = holder(&td, &go);
	c = client_connect(&td);
	mt_known_allocations(c);
	mt_memctl(&r, td.socket, "clients", "--pool", "small", "--bytes", NULL);
	mt_ok(&r);
	/* A header and two holders (memctl holds nothing): the child with 7
	 * blocks before this process with 5. Columns: ID PID USER COMM NAME
	 * BLOCKS BYTES ALLOCATIONS CONNECTED FOR. */
	ck_assert_int_eq(mt_count_of(r.out, "\n"), 3);
	mt_line_words(r.out, 0, words, 16);
	ck_assert_str_eq(words[5], "BLOCKS");
	ck_assert_uint_ge(mt_line_words(r.out, 1, words, 16), 10);
	snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);
	ck_assert_str_eq(words[1], pidstr);
	ck_assert_str_eq(words[5], "7");
	ck_assert_str_eq(words[6], "1792");
	ck_assert_str_eq(words[7], "7");
	ck_assert_uint_ge(mt_line_words(r.out, 2, words, 16), 10);
	snprintf(pidstr, sizeof(pidstr), "%d", (int) getpid());
	ck_assert_str_eq(words[1], pidstr);
	ck_assert_str_eq(words[5], "5");
	ck_assert_str_eq(words[6], "1280");
	ck_assert_str_eq(words[7], "5");
	/* The positional form is the same listing. */
	mt_memctl(&r, td.socket, "who", "small", NULL);
	mt_ok(&r);
	ck_assert_int_eq(mt_count_of(r.out, "\n"), 3);
	release(pid, go);
	mt_finish(&td, c);
}
END_TEST

/* Blocks 0-9 and 20-29 of pool bits used, the rest free. */
static mc_client_t *start_bitmap(struct test_daemon *td)
{
	mc_client_t *c;
	uint64_t off[30];

	client_start(td, mt_config());
	c = client_connect(td);
	ck_assert_int_eq(mc_alloc(c, "bits", 30, off), 0);
	ck_assert_int_eq(mc_free(c, "bits", 10, off + 10), 0);
	return c;
}

START_TEST(test_memctl_map_one_block_per_cell)
{
	struct test_daemon td;
	mc_client_t *c = start_bitmap(&td);
	char want[128];
	struct run r;

	/* 80 columns less the row label " 0 " hold all 64 blocks in one row. */
	setenv("COLUMNS", "80", 1);
	mt_memctl(&r, td.socket, "map", "bits", "--rows", "1", NULL);
	unsetenv("COLUMNS");
	mt_ok(&r);
	snprintf(want, sizeof(want), "\n 0 ##########..........##########%.*s\n", 34,
		 "..................................................");
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "64 blocks of 64 B, 20 used, 44 free\n") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "1 cell = 1 block;") != NULL, "%s", r.out);
	ck_assert_int_eq(mt_count_of(r.out, "\n"), 3);
	mt_finish(&td, c);
}
END_TEST

/* 100 blocks of the 4096 of wide used: in one row of 75 cells (80 columns
 * less "   0 "), 1 cell = 64 blocks: one full cell, one partly used. */
static mc_client_t *start_wide(struct test_daemon *td)
{
	mc_client_t *c;
	uint64_t off[100];

	client_start(td, mt_config());
	c = client_connect(td);
	ck_assert_int_eq(mc_alloc(c, "wide", 100, off), 0);
	setenv("COLUMNS", "80", 1);
	return c;
}

START_TEST(test_memctl_map_scaled)
{
	struct test_daemon td;
	mc_client_t *c = start_wide(&td);
	char want[128];
	struct run r;

	mt_memctl(&r, td.socket, "map", "--rows", "1", "wide", NULL);
	unsetenv("COLUMNS");
	mt_ok(&r);
	snprintf(want, sizeof(want), "\n   0 #+%.*s\n", 62,
		 "................................................................");
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "1 cell = 64 blocks;") != NULL, "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_map_json)
{
	struct test_daemon td;
	mc_client_t *c = start_wide(&td);
	json_t *doc, *map, *cells;
	struct run r;

	mt_memctl(&r, td.socket, "map", "--rows", "1", "wide", "--json", NULL);
	unsetenv("COLUMNS");
	doc = mt_parse(&r);
	map = json_object_get(doc, "map");
	ck_assert_str_eq(mt_jstr(map, "pool"), "wide");
	ck_assert_str_eq(mt_jstr(map, "region"), "main");
	ck_assert_int_eq(mt_jint(map, "block_size"), 64);
	ck_assert_int_eq(mt_jint(map, "total"), 4096);
	ck_assert_int_eq(mt_jint(map, "used"), 100);
	ck_assert_int_eq(mt_jint(map, "free"), 3996);
	ck_assert_int_eq(mt_jint(map, "blocks_per_cell"), 64);
	cells = json_object_get(map, "cells");
	ck_assert_uint_eq(json_array_size(cells), 64);
	for (size_t i = 0; i < 64; i++)
		ck_assert_int_eq(json_integer_value(json_array_get(cells, i)), i == 0   ? 64
									       : i == 1 ? 36
											: 0);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

/* A sample line: name{labels} value, the labels as written. */
struct sample {
	char name[128];
	char labels[256];
	double value;
};

static bool parse_sample(const char *line, struct sample *s)
{
	size_t n = strcspn(line, "{ ");
	const char *p = line + n;
	char *end;

	if (n == 0 || n >= sizeof(s->name))
		return false;
	memcpy(s->name, line, n);
	s->name[n] = '\0';
	s->labels[0] = '\0';
	if (*p == '{') {
		/* Label values are quoted, with \\, \" and \n escaped. */
		const char *q = p + 1;
		bool quoted = false;

		for (; *q && (quoted || *q != '}'); q++) {
			if (quoted && *q == '\\')
				q++;
			else if (*q == '"')
				quoted = !quoted;
		}
		if (*q != '}' || (size_t) (q - p - 1) >= sizeof(s->labels))
			return false;
		memcpy(s->labels, p + 1, (size_t) (q - p - 1));
		s->labels[q - p - 1] = '\0';
		p = q + 1;
	}
	if (*p != ' ')
		return false;
	s->value = strtod(p + 1, &end);
	return end != p + 1 && *end == '\0';
}

START_TEST(test_memctl_stats_prometheus)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	char helped[128] = "", typed[128] = "", type[16] = "";
	int samples = 0, families = 0;
	regex_t re;
	struct run r;

	ck_assert_int_eq(regcomp(&re, "^allocatord_[a-z_]+$", REG_EXTENDED | REG_NOSUB), 0);
	mt_memctl(&r, td.socket, "stats", "--prometheus", NULL);
	mt_ok(&r);
	for (char *save, *line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], text[128];
		struct sample s;

		if (sscanf(line, "# HELP %127s %127[^\n]", name, text) == 2) {
			ck_assert_msg(regexec(&re, name, 0, NULL, 0) == 0, "bad name %s", name);
			snprintf(helped, sizeof(helped), "%s", name);
			families++;
		} else if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
			ck_assert_msg(strcmp(name, helped) == 0, "TYPE before HELP: %s", line);
			ck_assert_msg(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0,
				      "%s", line);
			/* Counters end in _total, and only counters. */
			ck_assert_msg((strcmp(type, "counter") == 0) ==
					  (strlen(name) > 6 &&
					   strcmp(name + strlen(name) - 6, "_total") == 0),
				      "%s %s", type, name);
			snprintf(typed, sizeof(typed), "%s", name);
		} else {
			ck_assert_msg(parse_sample(line, &s), "not a sample: '%s'", line);
			ck_assert_msg(strcmp(s.name, typed) == 0, "sample of %s under %s", s.name,
				      typed);
			samples++;
		}
	}
	regfree(&re);
	ck_assert_int_ge(families, 20);
	ck_assert_int_ge(samples, families);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_prometheus_values)
{
	static const char *const want[] = {
	    "allocatord_up 1\n",
	    "allocatord_clients 2\n",
	    "allocatord_reclaimed_holds_total 0\n",
	    "allocatord_takeovers_total 0\n",
	    "allocatord_last_takeover_timestamp_seconds 0.000\n",
	    "allocatord_detached_clients 0\n",
	    "allocatord_pool_blocks{pool=\"small\",region=\"main\"} 1024\n",
	    "allocatord_pool_blocks_used{pool=\"small\",region=\"main\"} 5\n",
	    "allocatord_pool_blocks_used{pool=\"packets\",region=\"main\"} 3\n",
	    "allocatord_pool_blocks_peak{pool=\"small\",region=\"main\"} 5\n",
	    "allocatord_pool_block_size_bytes{pool=\"packets\",region=\"main\"} 1536\n",
	    "allocatord_pool_alloc_failures_total{pool=\"small\",region=\"main\"} 0\n",
	    "allocatord_heap_size_bytes{heap=\"heap\",region=\"main\"} 1048576\n",
	    "allocatord_heap_used_bytes{heap=\"heap\",region=\"main\"} 5120\n",
	    "allocatord_heap_free_bytes{heap=\"heap\",region=\"main\"} 1043456\n",
	    "allocatord_heap_live_allocations{heap=\"heap\",region=\"main\"} 2\n",
	    "allocatord_group_blocks{group=\"buffers\",region=\"main\"} 1088\n",
	    "allocatord_group_blocks_used{group=\"buffers\",region=\"main\"} 8\n",
	    "allocatord_region_used_bytes{region=\"main\"} 11008\n",
	    "allocatord_region_used_bytes{region=\"private\"} 0\n",
	};
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "stats", "--prometheus", NULL);
	mt_ok(&r);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(r.out, want[i]) != NULL, "no %s in:\n%s", want[i], r.out);
	ck_assert_msg(strstr(r.out, "# TYPE allocatord_requests_total counter\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "# TYPE allocatord_takeovers_total counter\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "# TYPE allocatord_pool_blocks_used gauge\n"), "%s", r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_plain)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	struct run r;

	mt_memctl(&r, td.socket, "stats", NULL);
	mt_ok(&r);
	ck_assert_msg(strstr(r.out, "\npool name=small region=main block_size=256 total=1024 used=5"
				    " free=1019 peak=5 quota=0 failed=0\n"),
		      "%s", r.out);
	ck_assert_msg(strstr(r.out, "\ngroup name=buffers region=main block_size=0 total=1088"
				    " used=8 free=1080 "),
		      "%s", r.out);
	ck_assert_msg(strstr(r.out, "\nheap name=heap region=main size=1048576 used=5120"
				    " free=1043456 "),
		      "%s", r.out);
	ck_assert_msg(strstr(r.out, " live=2 "), "%s", r.out);
	ck_assert_msg(strstr(r.out, " reclaimed=0 takeovers=0 last_takeover_unix_ms=0 keeper_pid="),
		      "%s", r.out);
	ck_assert_msg(strncmp(r.out, "daemon version=" PACKAGE_VERSION " pid=", 20) == 0, "%s",
		      r.out);
	mt_finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_json)
{
	struct test_daemon td;
	mc_client_t *c = mt_start_known(&td);
	json_t *doc;
	struct run r;

	mt_memctl(&r, td.socket, "stats", "--json", NULL);
	doc = mt_parse(&r);
	ck_assert_int_eq(mt_jint(json_object_get(doc, "status"), "pid"), td.pid);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "regions")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pools")), 5);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "heaps")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "groups")), 1);
	ck_assert_int_eq(mt_jint(mt_named(json_object_get(doc, "pools"), "small"), "used"), 5);
	ck_assert_int_eq(mt_jint(mt_named(json_object_get(doc, "heaps"), "heap"), "used"),
			 HEAP_USED);
	ck_assert_int_eq(mt_jint(mt_named(json_object_get(doc, "groups"), "buffers"), "used"), 8);
	json_decref(doc);
	mt_finish(&td, c);
}
END_TEST

Suite *memctl_suite(void)
{
	Suite *s = suite_create("memctl");
	TCase *tc = client_tcase("memctl");

	tcase_add_test(tc, test_memctl_pools_table);
	tcase_add_test(tc, test_memctl_pools_json);
	tcase_add_test(tc, test_memctl_heaps_table);
	tcase_add_test(tc, test_memctl_sizes_not_whole_units);
	tcase_add_test(tc, test_memctl_heaps_json);
	tcase_add_test(tc, test_memctl_groups_table);
	tcase_add_test(tc, test_memctl_groups_json);
	tcase_add_test(tc, test_memctl_status_table);
	tcase_add_test(tc, test_memctl_status_json);
	tcase_add_test(tc, test_memctl_status_config);
	tcase_add_test(tc, test_memctl_lists_reloaded_objects);
	tcase_add_test(tc, test_memctl_clients_json);
	tcase_add_test(tc, test_memctl_clients_pool_sorted);
	tcase_add_test(tc, test_memctl_map_one_block_per_cell);
	tcase_add_test(tc, test_memctl_map_scaled);
	tcase_add_test(tc, test_memctl_map_json);
	tcase_add_test(tc, test_memctl_stats_prometheus);
	tcase_add_test(tc, test_memctl_stats_prometheus_values);
	tcase_add_test(tc, test_memctl_stats_plain);
	tcase_add_test(tc, test_memctl_stats_json);
	suite_add_tcase(s, tc);
	return s;
}
