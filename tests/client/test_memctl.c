/*
 * memctl: the built client/memctl run against a real allocatord, after
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

#include "tests/client/check_client.h"

/*
 * Region main: small 256 B x 1024, packets 1536 B x 64 (quota 32), bits
 * 64 B x 64 (for exact maps), wide 64 B x 4096 (for scaled maps), heap
 * 1 MiB; group buffers = small + packets. Region private: root only.
 */
static const char memctl_config[] =
    "log_level = \"warn\";\n"
    "socket = { mode = \"0666\"; };\n"
    "regions = (\n"
    "  { name = \"main\";\n"
    "    pools = (\n"
    "      { name = \"small\"; block_size = 256; blocks = 1024; },\n"
    "      { name = \"packets\"; block_size = 1536; blocks = 64; align = 512;"
    " client_quota = 32; },\n"
    "      { name = \"bits\"; block_size = 64; blocks = 64; },\n"
    "      { name = \"wide\"; block_size = 64; blocks = 4096; }\n"
    "    );\n"
    "    heaps = ( { name = \"heap\"; size = \"1M\"; granule = 64; } );\n"
    "  },\n"
    "  { name = \"private\"; allow_uids = ( 0 );\n"
    "    pools = ( { name = \"secret\"; block_size = 256; blocks = 4; } ); }\n"
    ");\n"
    "groups = ( { name = \"buffers\"; pools = [ \"small\", \"packets\" ];"
    " choice = \"by_size\"; } );\n";

/* What known_allocations() leaves in use. */
#define HEAP_USED (4096 + 1024) /* 4096 and 1000 rounded up to 64 */
#define MAIN_USED (5 * 256 + 3 * 1536 + HEAP_USED)

#define OUT_MAX (64 * 1024)

struct run {
	int status;
	char out[OUT_MAX];
	char err[8192];
};

/* Run memctl [-s socket] args... (NULL-terminated); socket NULL: no -s. */
static void memctl(struct run *r, const char *socket, ...)
{
	const char *argv[32];
	char bin[512];
	size_t argc = 0;
	const char *arg;
	va_list ap;

	argv[argc++] = test_build_path("client/memctl", bin, sizeof(bin));
	if (socket != NULL) {
		argv[argc++] = "-s";
		argv[argc++] = socket;
	}
	va_start(ap, socket);
	while ((arg = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = arg;
	va_end(ap);
	argv[argc] = NULL;
	r->status = test_run(argv, r->out, sizeof(r->out), r->err, sizeof(r->err));
}

/* Assert a clean run: exit 0, nothing on stderr. */
static void ok(const struct run *r)
{
	ck_assert_msg(r->status == 0, "memctl exited %d: %s", r->status, r->err);
	ck_assert_msg(r->err[0] == '\0', "memctl said on stderr: %s", r->err);
}

/* 5 blocks of small, 3 of packets, 4096 + 1000 bytes of heap. */
static void known_allocations(mc_client_t *c)
{
	uint64_t off[5], h;

	ck_assert_int_eq(mc_alloc(c, "small", 5, off), 0);
	ck_assert_int_eq(mc_alloc(c, "packets", 3, off), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 4096, 0, &h), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 1000, 0, &h), 0);
}

static mc_client_t *start_known(struct test_daemon *td)
{
	mc_client_t *c;

	client_start(td, memctl_config);
	c = client_connect(td);
	known_allocations(c);
	return c;
}

static void finish(struct test_daemon *td, mc_client_t *c)
{
	mc_close(c);
	client_stop(td);
}

/* The whitespace-separated words of line (up to its newline) into words
 * (at most max); how many. */
static size_t split(const char *line, char words[][64], size_t max)
{
	size_t n = 0, len = strcspn(line, "\n");
	char buf[1024], *save;

	ck_assert_uint_lt(len, sizeof(buf));
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *w = strtok_r(buf, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
		snprintf(words[n++], 64, "%s", w);
	return n;
}

/* The words of line number k (0: the first) of out. */
static size_t line_words(const char *out, int k, char words[][64], size_t max)
{
	for (; k > 0 && strchr(out, '\n') != NULL; k--)
		out = strchr(out, '\n') + 1;
	ck_assert_int_eq(k, 0);
	return split(out, words, max);
}

/* The words of the line of out whose first word is first; 0 if none. */
static size_t row(const char *out, const char *first, char words[][64], size_t max)
{
	for (const char *line = out; *line != '\0';) {
		size_t n = split(line, words, max);

		if (n > 0 && strcmp(words[0], first) == 0)
			return n;
		line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "";
	}
	return 0;
}

/* Assert the row of first reads exactly want[0..n). */
static void assert_row(const char *out, const char *const *want, size_t n)
{
	char words[16][64];
	size_t got = row(out, want[0], words, 16);

	ck_assert_msg(got == n, "row '%s': %zu words, want %zu, in:\n%s", want[0], got, n, out);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(words[i], want[i]) == 0, "row '%s' word %zu: '%s', want '%s'",
			      want[0], i, words[i], want[i]);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Parse r's output as a version-1 document; the caller decrefs. */
static json_t *parse(const struct run *r)
{
	json_error_t e;
	json_t *doc;

	ok(r);
	doc = json_loads(r->out, 0, &e);
	ck_assert_msg(doc != NULL, "bad JSON at line %d: %s\n%s", e.line, e.text, r->out);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
	return doc;
}

/* The member of array whose "name" is name. */
static json_t *named(json_t *array, const char *name)
{
	size_t i;
	json_t *v;

	ck_assert_msg(json_is_array(array), "not an array");
	json_array_foreach(array, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return v;
	}
	ck_abort_msg("no '%s' in the array", name);
	return NULL;
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "'%s' is not an integer", key);
	return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "'%s' is not a string", key);
	return json_string_value(v);
}

START_TEST(test_memctl_pools_table)
{
	static const char *const small[] = {"small", "main", "256", "1024",         "5", "1019",
					    "5",     "-",    "0",   "[#.........]", "0%"};
	static const char *const packets[] = {"packets", "main", "1536", "64",           "3", "61",
					      "3",       "32",   "0",    "[#.........]", "4%"};
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "pools", NULL);
	ok(&r);
	ck_assert_msg(strncmp(r.out, "NAME ", 5) == 0, "no header:\n%s", r.out);
	assert_row(r.out, small, 11);
	assert_row(r.out, packets, 11);
	ck_assert_int_eq(count_of(r.out, "heap"), 0);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_pools_json)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	json_t *doc, *small, *packets;
	struct run r;

	memctl(&r, td.socket, "pools", "--json", NULL);
	doc = parse(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pools")), 5);
	small = named(json_object_get(doc, "pools"), "small");
	ck_assert_str_eq(jstr(small, "region"), "main");
	ck_assert_int_eq(jint(small, "block_size"), 256);
	ck_assert_int_eq(jint(small, "total"), 1024);
	ck_assert_int_eq(jint(small, "used"), 5);
	ck_assert_int_eq(jint(small, "free"), 1019);
	ck_assert_int_eq(jint(small, "peak"), 5);
	ck_assert_int_eq(jint(small, "quota"), 0);
	ck_assert_int_eq(jint(small, "failed"), 0);
	packets = named(json_object_get(doc, "pools"), "packets");
	ck_assert_int_eq(jint(packets, "block_size"), 1536);
	ck_assert_int_eq(jint(packets, "used"), 3);
	ck_assert_int_eq(jint(packets, "quota"), 32);
	json_decref(doc);
	finish(&td, c);
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
	mc_client_t *c = start_known(&td);
	struct mc_stats st = heap_stats(c);
	uint64_t free_bytes = (1u << 20) - HEAP_USED;
	char largest[32], frag[32], freeb[32];
	struct run r;

	snprintf(largest, sizeof(largest), "%llu", (unsigned long long) st.largest_free);
	snprintf(freeb, sizeof(freeb), "%llu", (unsigned long long) free_bytes);
	snprintf(frag, sizeof(frag), "%llu%%",
		 (unsigned long long) ((free_bytes - st.largest_free) * 100 / free_bytes));
	memctl(&r, td.socket, "heaps", "--bytes", NULL);
	ok(&r);
	{
		const char *const want[] = {"heap", "main", "1048576", "5120", freeb, largest,
					    frag,   "2",    "5120",    "-",    "0"};

		assert_row(r.out, want, 11);
	}
	/* Without --bytes, sizes for people. */
	memctl(&r, td.socket, "heaps", NULL);
	ok(&r);
	ck_assert_msg(strstr(r.out, "1 MiB") && strstr(r.out, "5 KiB"), "%s", r.out);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_heaps_json)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct mc_stats st = heap_stats(c);
	json_t *doc, *h;
	struct run r;

	memctl(&r, td.socket, "heaps", "--json", NULL);
	doc = parse(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "heaps")), 1);
	h = named(json_object_get(doc, "heaps"), "heap");
	ck_assert_str_eq(jstr(h, "region"), "main");
	ck_assert_int_eq(jint(h, "size"), 1 << 20);
	ck_assert_int_eq(jint(h, "used"), HEAP_USED);
	ck_assert_int_eq(jint(h, "free"), (1 << 20) - HEAP_USED);
	ck_assert_int_eq(jint(h, "largest_free"), (long long) st.largest_free);
	ck_assert_int_eq(jint(h, "fragmentation_percent"),
			 (long long) (((1 << 20) - HEAP_USED - st.largest_free) * 100 /
				      ((1 << 20) - HEAP_USED)));
	ck_assert_int_eq(jint(h, "live"), 2);
	ck_assert_int_eq(jint(h, "free_blocks"), (long long) st.free_blocks);
	ck_assert_int_eq(jint(h, "peak"), HEAP_USED);
	ck_assert_int_eq(jint(h, "quota"), 0);
	ck_assert_int_eq(jint(h, "failed"), 0);
	json_decref(doc);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_groups_table)
{
	static const char *const want[] = {
	    "buffers",      "main", "mixed",   "1088",         "8", "1080", "0",
	    "[#.........]", "0%",   "by_size", "small,packets"};
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "groups", NULL);
	ok(&r);
	assert_row(r.out, want, 11);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_groups_json)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	json_t *doc, *g, *members;
	struct run r;

	memctl(&r, td.socket, "--json", "groups", NULL);
	doc = parse(&r);
	g = named(json_object_get(doc, "groups"), "buffers");
	ck_assert_str_eq(jstr(g, "region"), "main");
	ck_assert_int_eq(jint(g, "block_size"), 0);
	ck_assert_int_eq(jint(g, "total"), 1024 + 64);
	ck_assert_int_eq(jint(g, "used"), 8);
	ck_assert_int_eq(jint(g, "free"), 1080);
	ck_assert_str_eq(jstr(g, "choice"), "by_size");
	members = json_object_get(g, "members");
	ck_assert_uint_eq(json_array_size(members), 2);
	ck_assert_str_eq(json_string_value(json_array_get(members, 0)), "small");
	ck_assert_str_eq(json_string_value(json_array_get(members, 1)), "packets");
	json_decref(doc);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_status_table)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	char line[256], used[32];
	struct run r;

	memctl(&r, td.socket, "status", "--bytes", NULL);
	ok(&r);
	snprintf(line, sizeof(line), ", pid %d, up ", (int) td.pid);
	ck_assert_msg(strncmp(r.out, "allocatord ", 11) == 0 && strstr(r.out, line), "%s", r.out);
	snprintf(line, sizeof(line), "socket:    %s\n", td.socket);
	ck_assert_msg(strstr(r.out, line) != NULL, "%s", r.out);
	/* This process and memctl itself. */
	ck_assert_msg(strstr(r.out, "clients:   2 of at most 1024\n") != NULL, "%s", r.out);
	snprintf(used, sizeof(used), "%d", MAIN_USED);
	{
		char words[16][64];

		ck_assert_uint_eq(row(r.out, "main", words, 16), 7);
		ck_assert_str_eq(words[2], used);
		ck_assert_str_eq(words[5], "4K");
		ck_assert_str_eq(words[6], "5");
		ck_assert_uint_eq(row(r.out, "total", words, 16), 6);
		ck_assert_str_eq(words[2], used);
		ck_assert_str_eq(words[5], "6");
	}
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_status_json)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	json_t *doc, *st, *main_region;
	struct run r;

	memctl(&r, td.socket, "status", "--json", NULL);
	doc = parse(&r);
	st = json_object_get(doc, "status");
	ck_assert_int_eq(jint(st, "pid"), td.pid);
	ck_assert_str_eq(jstr(st, "socket"), td.socket);
	ck_assert_str_eq(jstr(st, "daemon_version"), PACKAGE_VERSION);
	ck_assert_int_eq(jint(st, "clients"), 2);
	ck_assert_int_eq(jint(st, "max_clients"), 1024);
	ck_assert_int_ge(jint(st, "requests"), 4); /* our four allocations */
	ck_assert_int_eq(jint(st, "reclaimed"), 0);
	ck_assert_int_ge(jint(st, "uptime_ms"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "regions")), 2);
	main_region = named(json_object_get(doc, "regions"), "main");
	ck_assert_int_eq(jint(main_region, "used"), MAIN_USED);
	ck_assert_int_eq(jint(main_region, "objects"), 5);
	ck_assert(json_is_false(json_object_get(main_region, "hugepages")));
	ck_assert_int_eq(jint(named(json_object_get(doc, "regions"), "private"), "used"), 0);
	ck_assert_int_eq(jint(json_object_get(doc, "totals"), "used"), MAIN_USED);
	json_decref(doc);
	finish(&td, c);
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

static json_t *client_with_pid(json_t *clients, pid_t pid)
{
	size_t i;
	json_t *v;

	json_array_foreach(clients, i, v)
	{
		if (jint(v, "pid") == pid)
			return v;
	}
	ck_abort_msg("no client with pid %d", (int) pid);
	return NULL;
}

static void assert_holding(json_t *client, const char *name, const char *kind, long long amount,
			   long long bytes, long long allocations)
{
	json_t *h = named(json_object_get(client, "holdings"), name);

	ck_assert_str_eq(jstr(h, "kind"), kind);
	ck_assert_int_eq(jint(h, "amount"), amount);
	ck_assert_int_eq(jint(h, "bytes"), bytes);
	ck_assert_int_eq(jint(h, "allocations"), allocations);
}

START_TEST(test_memctl_clients_json)
{
	struct test_daemon td;
	json_t *doc, *clients, *child, *me;
	mc_client_t *c;
	struct run r;
	pid_t pid;
	int go;

	client_start(&td, memctl_config);
	pid = holder(&td, &go);
	c = client_connect(&td);
	known_allocations(c);
	memctl(&r, td.socket, "clients", "--json", NULL);
	doc = parse(&r);
	clients = json_object_get(doc, "clients");
	ck_assert_uint_eq(json_array_size(clients), 3); /* child, us, memctl */
	child = client_with_pid(clients, pid);
	ck_assert_int_eq(jint(child, "uid"), getuid());
	ck_assert_uint_eq(json_array_size(json_object_get(child, "holdings")), 3);
	assert_holding(child, "small", "pool", 7, 7 * 256, 7);
	assert_holding(child, "packets", "pool", 3, 3 * 1536, 3);
	assert_holding(child, "heap", "heap", 2048, 2048, 1);
	me = client_with_pid(clients, getpid());
	ck_assert_uint_eq(json_array_size(json_object_get(me, "holdings")), 3);
	assert_holding(me, "small", "pool", 5, 5 * 256, 5);
	assert_holding(me, "heap", "heap", HEAP_USED, HEAP_USED, 2);
	ck_assert_int_le(jint(me, "since_unix_ms"), (long long) time(NULL) * 1000 + 1000);
	json_decref(doc);
	release(pid, go);
	finish(&td, c);
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

	client_start(&td, memctl_config);
	pid = holder(&td, &go);
	c = client_connect(&td);
	known_allocations(c);
	memctl(&r, td.socket, "clients", "--pool", "small", "--bytes", NULL);
	ok(&r);
	/* A header and two holders (memctl holds nothing): the child with 7
	 * blocks before this process with 5. Columns: ID PID USER COMM NAME
	 * BLOCKS BYTES ALLOCATIONS CONNECTED FOR. */
	ck_assert_int_eq(count_of(r.out, "\n"), 3);
	line_words(r.out, 0, words, 16);
	ck_assert_str_eq(words[5], "BLOCKS");
	ck_assert_uint_ge(line_words(r.out, 1, words, 16), 10);
	snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);
	ck_assert_str_eq(words[1], pidstr);
	ck_assert_str_eq(words[5], "7");
	ck_assert_str_eq(words[6], "1792");
	ck_assert_str_eq(words[7], "7");
	ck_assert_uint_ge(line_words(r.out, 2, words, 16), 10);
	snprintf(pidstr, sizeof(pidstr), "%d", (int) getpid());
	ck_assert_str_eq(words[1], pidstr);
	ck_assert_str_eq(words[5], "5");
	ck_assert_str_eq(words[6], "1280");
	ck_assert_str_eq(words[7], "5");
	/* The positional form is the same listing. */
	memctl(&r, td.socket, "who", "small", NULL);
	ok(&r);
	ck_assert_int_eq(count_of(r.out, "\n"), 3);
	release(pid, go);
	finish(&td, c);
}
END_TEST

/* Blocks 0-9 and 20-29 of pool bits used, the rest free. */
static mc_client_t *start_bitmap(struct test_daemon *td)
{
	mc_client_t *c;
	uint64_t off[30];

	client_start(td, memctl_config);
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
	memctl(&r, td.socket, "map", "bits", "--rows", "1", NULL);
	unsetenv("COLUMNS");
	ok(&r);
	snprintf(want, sizeof(want), "\n 0 ##########..........##########%.*s\n", 34,
		 "..................................................");
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "64 blocks of 64 B, 20 used, 44 free\n") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "1 cell = 1 block;") != NULL, "%s", r.out);
	ck_assert_int_eq(count_of(r.out, "\n"), 3);
	finish(&td, c);
}
END_TEST

/* 100 blocks of the 4096 of wide used: in one row of 75 cells (80 columns
 * less "   0 "), 1 cell = 64 blocks: one full cell, one partly used. */
static mc_client_t *start_wide(struct test_daemon *td)
{
	mc_client_t *c;
	uint64_t off[100];

	client_start(td, memctl_config);
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

	memctl(&r, td.socket, "map", "--rows", "1", "wide", NULL);
	unsetenv("COLUMNS");
	ok(&r);
	snprintf(want, sizeof(want), "\n   0 #+%.*s\n", 62,
		 "................................................................");
	ck_assert_msg(strstr(r.out, want) != NULL, "want%s in:\n%s", want, r.out);
	ck_assert_msg(strstr(r.out, "1 cell = 64 blocks;") != NULL, "%s", r.out);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_map_json)
{
	struct test_daemon td;
	mc_client_t *c = start_wide(&td);
	json_t *doc, *map, *cells;
	struct run r;

	memctl(&r, td.socket, "map", "--rows", "1", "wide", "--json", NULL);
	unsetenv("COLUMNS");
	doc = parse(&r);
	map = json_object_get(doc, "map");
	ck_assert_str_eq(jstr(map, "pool"), "wide");
	ck_assert_str_eq(jstr(map, "region"), "main");
	ck_assert_int_eq(jint(map, "block_size"), 64);
	ck_assert_int_eq(jint(map, "total"), 4096);
	ck_assert_int_eq(jint(map, "used"), 100);
	ck_assert_int_eq(jint(map, "free"), 3996);
	ck_assert_int_eq(jint(map, "blocks_per_cell"), 64);
	cells = json_object_get(map, "cells");
	ck_assert_uint_eq(json_array_size(cells), 64);
	for (size_t i = 0; i < 64; i++)
		ck_assert_int_eq(json_integer_value(json_array_get(cells, i)), i == 0   ? 64
									       : i == 1 ? 36
											: 0);
	json_decref(doc);
	finish(&td, c);
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
	mc_client_t *c = start_known(&td);
	char helped[128] = "", typed[128] = "", type[16] = "";
	int samples = 0, families = 0;
	regex_t re;
	struct run r;

	ck_assert_int_eq(regcomp(&re, "^allocatord_[a-z_]+$", REG_EXTENDED | REG_NOSUB), 0);
	memctl(&r, td.socket, "stats", "--prometheus", NULL);
	ok(&r);
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
			/* Counters end in _total (some gauges too: capacities). */
			if (strcmp(type, "counter") == 0)
				ck_assert_msg(strlen(name) > 6 &&
						  strcmp(name + strlen(name) - 6, "_total") == 0,
					      "counter %s", name);
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
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_prometheus_values)
{
	static const char *const want[] = {
	    "allocatord_up 1\n",
	    "allocatord_clients 2\n",
	    "allocatord_reclaimed_holds_total 0\n",
	    "allocatord_pool_blocks_total{pool=\"small\",region=\"main\"} 1024\n",
	    "allocatord_pool_blocks_used{pool=\"small\",region=\"main\"} 5\n",
	    "allocatord_pool_blocks_used{pool=\"packets\",region=\"main\"} 3\n",
	    "allocatord_pool_blocks_peak{pool=\"small\",region=\"main\"} 5\n",
	    "allocatord_pool_block_size_bytes{pool=\"packets\",region=\"main\"} 1536\n",
	    "allocatord_pool_alloc_failures_total{pool=\"small\",region=\"main\"} 0\n",
	    "allocatord_heap_bytes_total{heap=\"heap\",region=\"main\"} 1048576\n",
	    "allocatord_heap_used_bytes{heap=\"heap\",region=\"main\"} 5120\n",
	    "allocatord_heap_free_bytes{heap=\"heap\",region=\"main\"} 1043456\n",
	    "allocatord_heap_live_allocations{heap=\"heap\",region=\"main\"} 2\n",
	    "allocatord_group_blocks_total{group=\"buffers\",region=\"main\"} 1088\n",
	    "allocatord_group_blocks_used{group=\"buffers\",region=\"main\"} 8\n",
	    "allocatord_region_used_bytes{region=\"main\"} 11008\n",
	    "allocatord_region_used_bytes{region=\"private\"} 0\n",
	};
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "stats", "--prometheus", NULL);
	ok(&r);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(r.out, want[i]) != NULL, "no %s in:\n%s", want[i], r.out);
	ck_assert_msg(strstr(r.out, "# TYPE allocatord_requests_total counter\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "# TYPE allocatord_pool_blocks_used gauge\n"), "%s", r.out);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_plain)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "stats", NULL);
	ok(&r);
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
	ck_assert_msg(strncmp(r.out, "daemon version=" PACKAGE_VERSION " pid=", 20) == 0, "%s",
		      r.out);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_stats_json)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	json_t *doc;
	struct run r;

	memctl(&r, td.socket, "stats", "--json", NULL);
	doc = parse(&r);
	ck_assert_int_eq(jint(json_object_get(doc, "status"), "pid"), td.pid);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "regions")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "pools")), 5);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "heaps")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "groups")), 1);
	ck_assert_int_eq(jint(named(json_object_get(doc, "pools"), "small"), "used"), 5);
	ck_assert_int_eq(jint(named(json_object_get(doc, "heaps"), "heap"), "used"), HEAP_USED);
	ck_assert_int_eq(jint(named(json_object_get(doc, "groups"), "buffers"), "used"), 8);
	json_decref(doc);
	finish(&td, c);
}
END_TEST

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

START_TEST(test_memctl_watch_count)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	uint64_t t0 = now_ms();
	struct run r;

	memctl(&r, td.socket, "watch", "--count", "2", "--interval", "0.1", "pools", NULL);
	ok(&r);
	ck_assert_uint_ge(now_ms() - t0, 100); /* one interval between the two */
	ck_assert_int_eq(count_of(r.out, "Every 0.1s: memctl pools "), 2);
	ck_assert_int_eq(count_of(r.out, "\nsmall "), 2);
	/* Not a terminal: no escape sequences. */
	ck_assert_ptr_null(strchr(r.out, '\033'));
	finish(&td, c);
}
END_TEST

/* Start memctl args... with stdout on out_fd and stderr on err_fd, as uid
 * (and gid) 65534 when nobody is true. */
static pid_t spawn_memctl(int out_fd, int err_fd, bool nobody, const char *const *args)
{
	const char *argv[16];
	char bin[512];
	size_t argc = 0;
	pid_t pid;

	argv[argc++] = test_build_path("client/memctl", bin, sizeof(bin));
	for (size_t i = 0; args[i] != NULL && argc < 15; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (nobody && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(126);
		dup2(out_fd, STDOUT_FILENO);
		dup2(err_fd, STDERR_FILENO);
		execv(argv[0], (char *const *) argv);
		_exit(127);
	}
	return pid;
}

/* Wait up to ms for pid to exit: its exit status, or -1 (then killed). */
static int wait_exit(pid_t pid, int ms)
{
	int status;

	for (int waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Read what is in fd now (non-blocking) and append it to buf. */
static void gather(int fd, char *buf, size_t len)
{
	size_t have = strlen(buf);
	ssize_t n;

	while (have + 1 < len && (n = read(fd, buf + have, len - 1 - have)) > 0)
		have += (size_t) n;
	buf[have] = '\0';
}

START_TEST(test_memctl_watch_terminal_restored_on_sigterm)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	const char *args[] = {"-s", td.socket, "watch", "-i", "0.05", "pools", NULL};
	static const char restore[] = "\033[0m\033[?25h";
	static char out[OUT_MAX];
	int master, slave, status;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	fcntl(master, F_SETFL, O_NONBLOCK);
	out[0] = '\0';
	pid = spawn_memctl(slave, slave, false, args);
	close(slave);
	/* Two refreshes drawn, then SIGTERM. */
	for (int i = 0; i < 500 && count_of(out, "\033[H\033[2J") < 2; i++) {
		usleep(10000);
		gather(master, out, sizeof(out));
	}
	ck_assert_msg(count_of(out, "\033[H\033[2J") >= 2, "no refreshes: %s", out);
	kill(pid, SIGTERM);
	status = wait_exit(pid, 5000);
	gather(master, out, sizeof(out));
	close(master);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strncmp(out, "\033[?25l", 6) == 0, "cursor not hidden first");
	ck_assert_msg(strlen(out) >= strlen(restore) &&
			  strcmp(out + strlen(out) - strlen(restore), restore) == 0,
		      "terminal not restored at the end: ...%s", out + strlen(out) - 20);
	ck_assert_msg(strstr(out, "small ") != NULL, "%s", out);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_watch_daemon_gone)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	const char *args[] = {"-s", td.socket, "watch", "--interval", "0.05", "pools", NULL};
	char efile[] = "/tmp/memctl-test-err.XXXXXX", out[OUT_MAX] = "", err[4096] = "";
	int efd = mkstemp(efile), po[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_ge(efd, 0);
	unlink(efile);
	ck_assert_int_eq(pipe(po), 0);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	pid = spawn_memctl(po[1], efd, false, args);
	close(po[1]);
	for (int i = 0; i < 500 && count_of(out, "Every ") < 1; i++) {
		usleep(10000);
		gather(po[0], out, sizeof(out));
	}
	ck_assert_msg(count_of(out, "Every ") >= 1, "no refresh: %s", out);
	mc_close(c);
	client_kill(&td);
	status = wait_exit(pid, 5000);
	gather(po[0], out, sizeof(out));
	close(po[0]);
	lseek(efd, 0, SEEK_SET);
	n = read(efd, err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	ck_assert_int_eq(status, 1);
	ck_assert_msg(strstr(err, "lost the connection to allocatord at ") != NULL, "%s", err);
	ck_assert_msg(strstr(err, td.socket) != NULL, "%s", err);
}
END_TEST

START_TEST(test_memctl_no_daemon)
{
	struct run r;

	memctl(&r, "/nonexistent/allocatord.sock", "pools", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "memctl: cannot connect to /nonexistent/allocatord.sock: ") ==
			  r.err,
		      "%s", r.err);
	ck_assert_msg(strstr(r.err, "-s PATH") && strstr(r.err, "ALLOCATORD_SOCKET"), "%s", r.err);
}
END_TEST

START_TEST(test_memctl_env_socket_tried)
{
	struct run r;

	setenv("ALLOCATORD_SOCKET", "/nonexistent/from-env.sock", 1);
	memctl(&r, NULL, "status", NULL);
	unsetenv("ALLOCATORD_SOCKET");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "cannot connect to /nonexistent/from-env.sock: ") != NULL, "%s",
		      r.err);
}
END_TEST

START_TEST(test_memctl_env_socket_used)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	json_t *doc;
	struct run r;

	setenv("ALLOCATORD_SOCKET", td.socket, 1);
	memctl(&r, NULL, "status", "--json", NULL);
	unsetenv("ALLOCATORD_SOCKET");
	doc = parse(&r);
	ck_assert_int_eq(jint(json_object_get(doc, "status"), "pid"), td.pid);
	json_decref(doc);
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_unknown_pool)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "map", "nope", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool named 'nope'\n");
	ck_assert_str_eq(r.out, "");
	/* A heap is not a pool. */
	memctl(&r, td.socket, "map", "heap", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool named 'heap'\n");
	memctl(&r, td.socket, "heaps", "small", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no heap named 'small'\n");
	memctl(&r, td.socket, "clients", "--pool", "nope", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "memctl: no pool or heap named 'nope'\n");
	finish(&td, c);
}
END_TEST

/* As uid 65534, which region private does not admit. */
START_TEST(test_memctl_permission_denied)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	char efile[] = "/tmp/memctl-test-err.XXXXXX", err[4096];
	const char *args[] = {"-s", td.socket, "map", "secret", NULL};
	int efd = mkstemp(efile), status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_ge(efd, 0);
	unlink(efile);
	pid = spawn_memctl(efd, efd, true, args);
	status = wait_exit(pid, 5000);
	lseek(efd, 0, SEEK_SET);
	n = read(efd, err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	ck_assert_msg(status == 1, "status %d: %s", status, err);
	ck_assert_str_eq(err, "memctl: pool 'secret': permission denied: its region does not"
			      " admit uid 65534\n");
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_unknown_command)
{
	struct run r;

	memctl(&r, "/nonexistent/allocatord.sock", "pols", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "memctl: unknown command: 'pols'\n") == r.err, "%s", r.err);
	ck_assert_msg(strstr(r.err, "did you mean 'pools'?") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "");
}
END_TEST

START_TEST(test_memctl_ambiguous_prefix)
{
	struct run r;

	memctl(&r, "/nonexistent/allocatord.sock", "stat", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "memctl: ambiguous command: stat, could be: status, stats\n");
}
END_TEST

START_TEST(test_memctl_unique_prefix_and_alias)
{
	struct test_daemon td;
	mc_client_t *c = start_known(&td);
	struct run r;

	memctl(&r, td.socket, "po", NULL);
	ok(&r);
	ck_assert_msg(strncmp(r.out, "NAME ", 5) == 0 && strstr(r.out, "\nsmall "), "%s", r.out);
	memctl(&r, td.socket, "who", NULL);
	ok(&r);
	ck_assert_msg(strstr(r.out, "CONNECTED") && strstr(r.out, "ALLOCATIONS"), "%s", r.out);
	memctl(&r, td.socket, "metrics", "--prom", NULL); /* a long option's prefix */
	ok(&r);
	ck_assert_msg(strstr(r.out, "allocatord_up 1\n") != NULL, "%s", r.out);
	finish(&td, c);
}
END_TEST

/* Each command and the options its --help must mention. */
static const struct {
	const char *cmd;
	const char *options[4];
} command_options[] = {
    {"status", {"--bytes", "--json", "--help"}},
    {"pools", {"--json", "--help"}},
    {"heaps", {"--bytes", "--json", "--help"}},
    {"groups", {"--json", "--help"}},
    {"clients", {"--pool NAME", "--bytes", "--json", "--help"}},
    {"map", {"--rows N", "--json", "--help"}},
    {"watch", {"--interval SECONDS", "--count N", "--json", "--help"}},
    {"stats", {"--prometheus", "--json", "--help"}},
};

#define NCOMMANDS (sizeof(command_options) / sizeof(command_options[0]))

START_TEST(test_memctl_help)
{
	static const char *const global[] = {"--socket PATH", "--json", "--help", "--version",
					     "ALLOCATORD_SOCKET"};
	struct run r;

	/* No daemon needed: help never connects. */
	memctl(&r, "/nonexistent/allocatord.sock", "--help", NULL);
	ok(&r);
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		ck_assert_msg(strstr(r.out, global[i]) != NULL, "no %s in:\n%s", global[i], r.out);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "\n  %s ", command_options[i].cmd);
		ck_assert_msg(strstr(r.out, name) != NULL, "no %s in:\n%s", name, r.out);
	}
}
END_TEST

START_TEST(test_memctl_command_help)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char usage[64];
		struct run r;

		memctl(&r, "/nonexistent/allocatord.sock", command_options[i].cmd, "--help", NULL);
		ok(&r);
		snprintf(usage, sizeof(usage), "usage: memctl %s [OPTIONS]",
			 command_options[i].cmd);
		ck_assert_msg(strncmp(r.out, usage, strlen(usage)) == 0, "%s", r.out);
		for (size_t j = 0; j < 4 && command_options[i].options[j]; j++)
			ck_assert_msg(strstr(r.out, command_options[i].options[j]) != NULL,
				      "%s --help lacks %s:\n%s", command_options[i].cmd,
				      command_options[i].options[j], r.out);
		/* -h too. */
		memctl(&r, NULL, command_options[i].cmd, "-h", NULL);
		ok(&r);
		ck_assert_msg(strncmp(r.out, usage, strlen(usage)) == 0, "%s", r.out);
	}
}
END_TEST

START_TEST(test_memctl_usage_errors)
{
	static const char *const cases[][5] = {
	    {"map", NULL},                             /* missing POOL */
	    {"map", "a", "b", NULL},                   /* extra argument */
	    {"map", "--rows", "0", "small", NULL},     /* out of range */
	    {"map", "--rows", "x", "small", NULL},     /* not a number */
	    {"pools", "--bogus", NULL},                /* unknown option */
	    {"watch", "--interval", "0", NULL},        /* not over 0 */
	    {"watch", "watch", NULL},                  /* not a listing */
	    {"stats", "--prometheus", "--json", NULL}, /* exclusive */
	    {"--socket", NULL},                        /* missing PATH */
	};
	struct test_daemon td;
	mc_client_t *c = start_known(&td);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		memctl(&r, td.socket, cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
		ck_assert_msg(r.status == 2, "case %zu (%s %s): status %d", i, cases[i][0],
			      cases[i][1] ? cases[i][1] : "", r.status);
		ck_assert_msg(strstr(r.err, "usage: memctl") != NULL, "case %zu: %s", i, r.err);
		ck_assert_str_eq(r.out, "");
	}
	finish(&td, c);
}
END_TEST

START_TEST(test_memctl_version)
{
	struct run r;

	memctl(&r, NULL, "--version", NULL);
	ok(&r);
	ck_assert_str_eq(r.out, "memctl (allocatord) " PACKAGE_VERSION "\n");
}
END_TEST

Suite *memctl_suite(void)
{
	Suite *s = suite_create("memctl");
	TCase *tc = client_tcase("memctl");

	tcase_add_test(tc, test_memctl_pools_table);
	tcase_add_test(tc, test_memctl_pools_json);
	tcase_add_test(tc, test_memctl_heaps_table);
	tcase_add_test(tc, test_memctl_heaps_json);
	tcase_add_test(tc, test_memctl_groups_table);
	tcase_add_test(tc, test_memctl_groups_json);
	tcase_add_test(tc, test_memctl_status_table);
	tcase_add_test(tc, test_memctl_status_json);
	tcase_add_test(tc, test_memctl_clients_json);
	tcase_add_test(tc, test_memctl_clients_pool_sorted);
	tcase_add_test(tc, test_memctl_map_one_block_per_cell);
	tcase_add_test(tc, test_memctl_map_scaled);
	tcase_add_test(tc, test_memctl_map_json);
	tcase_add_test(tc, test_memctl_stats_prometheus);
	tcase_add_test(tc, test_memctl_stats_prometheus_values);
	tcase_add_test(tc, test_memctl_stats_plain);
	tcase_add_test(tc, test_memctl_stats_json);
	tcase_add_test(tc, test_memctl_watch_count);
	tcase_add_test(tc, test_memctl_watch_terminal_restored_on_sigterm);
	tcase_add_test(tc, test_memctl_watch_daemon_gone);
	tcase_add_test(tc, test_memctl_no_daemon);
	tcase_add_test(tc, test_memctl_env_socket_tried);
	tcase_add_test(tc, test_memctl_env_socket_used);
	tcase_add_test(tc, test_memctl_unknown_pool);
	/* Dropping to another uid takes root. */
	if (geteuid() == 0)
		tcase_add_test(tc, test_memctl_permission_denied);
	tcase_add_test(tc, test_memctl_unknown_command);
	tcase_add_test(tc, test_memctl_ambiguous_prefix);
	tcase_add_test(tc, test_memctl_unique_prefix_and_alias);
	tcase_add_test(tc, test_memctl_help);
	tcase_add_test(tc, test_memctl_command_help);
	tcase_add_test(tc, test_memctl_usage_errors);
	tcase_add_test(tc, test_memctl_version);
	suite_add_tcase(s, tc);
	return s;
}
