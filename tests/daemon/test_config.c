/*
 * config: the file's schema, its defaults, the layout of regions, and the
 * message of every kind of mistake (file, line, setting path, reason).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tests/daemon/check_daemon.h"

#define NAME "test.conf"

/* One pool, one region: the least a config may hold. */
#define POOL_P   "{ name = \"p\"; block_size = 64; blocks = 4; }"
#define REGION_R "regions = ( { name = \"r\"; pools = ( " POOL_P " ); } );\n"

static char err[CONFIG_ERR_MAX];

static int load(const char *text, struct config *c)
{
	/* Garbage first: on error *c must come back empty whatever it held. */
	memset(c, 0xa5, sizeof(*c));
	return config_load_string(text, NAME, c, err, sizeof(err));
}

static void assert_empty(const struct config *c)
{
	static const struct config zero;

	ck_assert_msg(memcmp(c, &zero, sizeof(zero)) == 0, "config not left empty");
}

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(strstr(haystack, needle) != NULL, "\"%s\" does not contain \"%s\"", haystack,
		      needle);
}

/* The file at $top_srcdir/rel, loaded into *c; also its text when text != NULL. */
static int load_src_file(const char *rel, struct config *c, char **text)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	FILE *f;
	long len;

	ck_assert_msg(top != NULL, "top_srcdir is not set: run through `make check`, or export "
				   "top_srcdir=/path/to/source");
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if (text != NULL) {
		f = fopen(path, "r");
		ck_assert_msg(f != NULL, "cannot open %s", path);
		ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
		len = ftell(f);
		rewind(f);
		*text = calloc(1, (size_t) len + 1);
		ck_assert_ptr_nonnull(*text);
		ck_assert_uint_eq(fread(*text, 1, (size_t) len, f), (size_t) len);
		fclose(f);
	}
	return config_load_file(path, c, err, sizeof(err));
}

START_TEST(test_config_default_meets_requirements)
{
	struct config c;
	bool pool64 = false, heap1m = false;

	ck_assert_msg(
	    config_load_string(config_default_text, CONFIG_DEFAULT_FILE, &c, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(c.file, CONFIG_DEFAULT_FILE);
	for (size_t r = 0; r < c.nregions; r++) {
		const struct cfg_region *reg = &c.regions[r];

		ck_assert_uint_eq(reg->n_allow_uids + reg->n_allow_gids, 0);
		for (size_t i = 0; i < reg->npools; i++) {
			pool64 |= reg->pools[i].blocks >= 64;
			ck_assert_uint_eq(reg->pools[i].quota, 0);
		}
		for (size_t i = 0; i < reg->nheaps; i++) {
			heap1m |= reg->heaps[i].size >= (1u << 20);
			ck_assert_uint_eq(reg->heaps[i].quota, 0);
		}
	}
	ck_assert_msg(pool64, "no pool of >= 64 blocks");
	ck_assert_msg(heap1m, "no heap of >= 1 MiB");
	ck_assert_uint_ge(c.ngroups, 1);
	ck_assert_ptr_null(c.socket_path);
	config_free(&c);
}
END_TEST

START_TEST(test_config_example_loads_and_shows_every_setting)
{
	static const char *const keys[] = {
	    "socket",
	    "path",
	    "mode",
	    "group",
	    "log_level",
	    "max_frame",
	    "max_clients",
	    "hello_timeout_ms",
	    "max_output",
	    "regions",
	    "name",
	    "size",
	    "hugepages",
	    "allow_uids",
	    "allow_gids",
	    "pools",
	    "block_size",
	    "blocks",
	    "align",
	    "client_quota",
	    "cache_max",
	    "client_cache",
	    "heaps",
	    "granule",
	    "max_allocs",
	    "groups",
	    "choice",
	    "plugin",
	    "plugin_arg",
	    "admin_slots",
	    "max_clients_per_uid",
	    "admin_gids",
	    "max_holds",
	    "uid_holds",
	    "uid_quota",
	    "max_output_total",
	    "max_bad_frames",
	    "max_unread_hellos",
	};
	struct config c;
	char *text, key[64];

	ck_assert_msg(load_src_file("examples/allocatord.conf", &c, &text) == 0, "%s", err);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "%s = ", keys[i]);
		assert_contains(text, key);
	}
	ck_assert_ptr_nonnull(c.socket_path);
	ck_assert(c.socket_group_set);
	ck_assert_uint_ge(c.nregions, 2);
	ck_assert_uint_ge(c.ngroups, 1);
	free(text);
	config_free(&c);
}
END_TEST

START_TEST(test_config_by_uid_example_names_the_plugin)
{
	struct config c;

	ck_assert_msg(load_src_file("examples/by_uid.conf", &c, NULL) == 0, "%s", err);
	ck_assert_uint_eq(c.ngroups, 1);
	ck_assert_ptr_null(c.groups[0].choice);
	/* a bare name: the installed plug-in, or $ALLOCATORD_PLUGIN_DIR's */
	ck_assert_str_eq(c.groups[0].plugin, "by_uid.so");
	ck_assert_str_eq(c.groups[0].plugin_arg, "fallback=no");
	config_free(&c);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct config c;
	const struct cfg_region *r;

	ck_assert_msg(load("regions = ( { name = \"r\";\n"
			   "  pools = ( " POOL_P " );\n"
			   "  heaps = ( { name = \"h\"; size = \"1M\"; } ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(c.file, NAME);
	ck_assert_ptr_null(c.socket_path);
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert(!c.socket_group_set);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_uint_eq(c.max_frame, 65536);
	ck_assert_uint_eq(c.max_clients, 1024);
	ck_assert_uint_eq(c.hello_timeout_ms, 10000);
	ck_assert_uint_eq(c.max_output, 1u << 20);
	ck_assert_uint_eq(c.max_output_total, 64u << 20);
	ck_assert_uint_eq(c.max_bad_frames, 16);
	ck_assert_uint_eq(c.max_unread_hellos, 16);
	ck_assert_uint_eq(c.ngroups, 0);
	ck_assert_uint_eq(c.nregions, 1);
	r = &c.regions[0];
	ck_assert_str_eq(r->name, "r");
	ck_assert_int_eq(r->line, 1);
	ck_assert(!r->hugepages);
	ck_assert_uint_eq(r->n_allow_uids, 0);
	ck_assert_uint_eq(r->n_allow_gids, 0);
	ck_assert_uint_eq(r->pools[0].align, 64);
	ck_assert_uint_eq(r->pools[0].quota, 0);
	ck_assert_int_eq(r->pools[0].line, 2);
	ck_assert_uint_eq(r->heaps[0].granule, 64);
	/* 1 MiB / 64 / 4 */
	ck_assert_uint_eq(r->heaps[0].max_allocs, 4096);
	ck_assert_uint_eq(r->heaps[0].quota, 0);
	ck_assert_int_eq(r->heaps[0].line, 3);
	config_free(&c);
}
END_TEST

START_TEST(test_config_every_setting_read)
{
	struct config c;
	const struct cfg_region *r;
	const struct cfg_pool *p;
	const struct cfg_heap *h;

	ck_assert_msg(
	    load("socket = { path = \"/tmp/a.sock\"; mode = \"0600\"; group = \"123\"; };\n"
		 "log_level = \"debug\";\n"
		 "max_frame = \"128K\";\n"
		 "max_clients = 7;\n"
		 "hello_timeout_ms = 0;\n"
		 "max_output = 2097152;\n"
		 "regions = ( { name = \"r-1.x\"; size = \"16M\"; hugepages = false;\n"
		 "  allow_uids = ( 0, \"root\", \"1000\" ); allow_gids = [ \"root\" ];\n"
		 "  pools = ( { name = \"p\"; block_size = \"1K\"; blocks = 100L;\n"
		 "              align = \"1K\"; client_quota = 10; } );\n"
		 "  heaps = ( { name = \"h\"; size = \"2M\"; granule = 256;\n"
		 "              max_allocs = 99; client_quota = \"64K\"; } ); } );\n"
		 "groups = ( { name = \"g\"; pools = ( \"p\" ); choice = \"round_robin\"; },\n"
		 "  { name = \"g2\"; pools = [ \"p\" ]; plugin = \"/x.so\"; plugin_arg = \"a=b\"; "
		 "} );\n",
		 &c) == 0,
	    "%s", err);
	ck_assert_str_eq(c.socket_path, "/tmp/a.sock");
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert(c.socket_group_set);
	ck_assert_uint_eq(c.socket_group, 123);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_uint_eq(c.max_frame, 128 * 1024);
	ck_assert_uint_eq(c.max_clients, 7);
	ck_assert_uint_eq(c.hello_timeout_ms, 0);
	ck_assert_uint_eq(c.max_output, 2u << 20);
	r = &c.regions[0];
	ck_assert_str_eq(r->name, "r-1.x");
	ck_assert_uint_eq(r->size, 16u << 20);
	ck_assert_uint_eq(r->n_allow_uids, 3);
	ck_assert_uint_eq(r->allow_uids[0], 0);
	ck_assert_uint_eq(r->allow_uids[1], 0);
	ck_assert_uint_eq(r->allow_uids[2], 1000);
	ck_assert_uint_eq(r->n_allow_gids, 1);
	ck_assert_uint_eq(r->allow_gids[0], 0);
	p = &r->pools[0];
	ck_assert_uint_eq(p->block_size, 1024);
	ck_assert_uint_eq(p->blocks, 100);
	ck_assert_uint_eq(p->align, 1024);
	ck_assert_uint_eq(p->quota, 10);
	h = &r->heaps[0];
	ck_assert_uint_eq(h->size, 2u << 20);
	ck_assert_uint_eq(h->granule, 256);
	ck_assert_uint_eq(h->max_allocs, 99);
	ck_assert_uint_eq(h->quota, 65536);
	ck_assert_uint_eq(c.ngroups, 2);
	ck_assert_uint_eq(c.groups[0].nmembers, 1);
	ck_assert_str_eq(c.groups[0].members[0], "p");
	ck_assert_str_eq(c.groups[0].choice, "round_robin");
	ck_assert_ptr_null(c.groups[0].plugin);
	ck_assert_ptr_null(c.groups[0].plugin_arg);
	ck_assert_int_eq(c.groups[0].line, 13);
	ck_assert_ptr_null(c.groups[1].choice);
	ck_assert_str_eq(c.groups[1].plugin, "/x.so");
	ck_assert_str_eq(c.groups[1].plugin_arg, "a=b");
	config_free(&c);
}
END_TEST

START_TEST(test_config_log_levels)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char text[256];
	struct config c;

	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "log_level = \"%s\";\n" REGION_R, names[i]);
		ck_assert_msg(load(text, &c) == 0, "%s", err);
		ck_assert_int_eq(c.log_level, i);
		config_free(&c);
	}
}
END_TEST

/* libconfig has no octal literals: an integer mode is read digit by digit. */
START_TEST(test_config_mode_integer_is_octal)
{
	struct config c;

	ck_assert_msg(load("socket = { mode = 0640; };\n" REGION_R, &c) == 0, "%s", err);
	ck_assert_uint_eq(c.socket_mode, 0640);
	config_free(&c);
	ck_assert_msg(load("socket = { mode = 600; };\n" REGION_R, &c) == 0, "%s", err);
	ck_assert_uint_eq(c.socket_mode, 0600);
	config_free(&c);
	ck_assert_int_eq(load("socket = { mode = 0x1b0; };\n" REGION_R, &c), -EINVAL);
	assert_contains(err, "test.conf:1: socket.mode: expected an octal mode");
	assert_empty(&c);
}
END_TEST

START_TEST(test_config_parse_size_suffixes)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"123", 123},
	    {"007", 7},
	    {"64K", 64 << 10},
	    {"64k", 64 << 10},
	    {"3M", UINT64_C(3) << 20},
	    {"1G", UINT64_C(1) << 30},
	    {"2T", UINT64_C(2) << 40},
	    {"16777215T", UINT64_C(16777215) << 40},
	    {"18446744073709551615", UINT64_MAX},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		ck_assert_msg(config_parse_size(ok[i].s, &v) == 0, "%s refused", ok[i].s);
		ck_assert_uint_eq(v, ok[i].v);
	}
}
END_TEST

START_TEST(test_config_parse_size_rejects)
{
	static const char *const bad[] = {
	    "17179869184T",
	    "16777216T",
	    "18446744073709551616",
	    "",
	    "-1",
	    "+1",
	    "12Q",
	    "0x10",
	    "12KB",
	    "1 K",
	    " 1",
	    "K",
	    "1.5M",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		ck_assert_msg(config_parse_size(bad[i], &v) == -EINVAL, "\"%s\" accepted", bad[i]);
		ck_assert_uint_eq(v, 42);
	}
	ck_assert_int_eq(config_parse_size(NULL, &v), -EINVAL);
}
END_TEST

/* Sizes past 32 bits need the L suffix or a string; without, libconfig 1.5
 * would wrap them, and the loader refuses the literal instead. */
START_TEST(test_config_large_integers)
{
	struct config c;

	ck_assert_msg(load("regions = ( { name = \"r\"; heaps = ( { name = \"h\";\n"
			   "  size = 8589934592L; granule = 4096; } ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.regions[0].heaps[0].size, UINT64_C(8) << 30);
	ck_assert_uint_eq(c.regions[0].size, UINT64_C(8) << 30);
	config_free(&c);
	ck_assert_msg(load("regions = ( { name = \"r\"; pools = ( { name = \"p\";\n"
			   "  block_size = 4; align = 4; blocks = 4294967296L; } ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.regions[0].pools[0].blocks, UINT64_C(1) << 32);
	config_free(&c);
}
END_TEST

static void check_layout(const struct cfg_region *r)
{
	uint64_t end = 0;

	for (size_t i = 0; i < r->npools + r->nheaps; i++) {
		uint64_t off, size, align;

		if (i < r->npools) {
			off = r->pools[i].offset;
			size = r->pools[i].block_size * r->pools[i].blocks;
			align = r->pools[i].align;
		} else {
			off = r->heaps[i - r->npools].offset;
			size = r->heaps[i - r->npools].size;
			align = r->heaps[i - r->npools].granule;
			if (align < wire_heap_align(size))
				align = wire_heap_align(size);
		}
		ck_assert_uint_eq(off % 4096, 0);
		ck_assert_uint_eq(off % align, 0);
		/* In order, not overlapping, and not sharing a page. */
		ck_assert_uint_ge(off, (end + 4095) / 4096 * 4096);
		end = off + size;
	}
	ck_assert_uint_ge(r->size, end);
}

START_TEST(test_config_layout)
{
	struct config c;
	const struct cfg_region *r;

	ck_assert_msg(
	    load("regions = ( { name = \"r\";\n"
		 "  pools = ( { name = \"a\"; block_size = 256; blocks = 1024; },\n"
		 "    { name = \"b\"; block_size = 1536; blocks = 3; align = 512; },\n"
		 "    { name = \"c\"; block_size = \"64K\"; blocks = 2; align = \"64K\"; } );\n"
		 "  heaps = ( { name = \"h\"; size = 1024; granule = 8; },\n"
		 "    { name = \"i\"; size = \"1M\"; granule = \"8K\"; } ); } );\n",
		 &c) == 0,
	    "%s", err);
	r = &c.regions[0];
	check_layout(r);
	ck_assert_uint_eq(r->pools[0].offset, 0);
	ck_assert_uint_eq(r->pools[1].offset, 0x40000);
	/* b ends at 0x41200; c wants 64 KiB alignment. */
	ck_assert_uint_eq(r->pools[2].offset, 0x50000);
	ck_assert_uint_eq(r->heaps[0].offset, 0x70000);
	/* h ends at 0x70400; i, of 1 MiB, starts at a multiple of 1 MiB so
	 * that it can give 1 MiB alignment in region terms. */
	ck_assert_uint_eq(r->heaps[1].offset, 0x100000);
	ck_assert_uint_eq(r->size, 0x200000);
	config_free(&c);
}
END_TEST

START_TEST(test_config_layout_hugepages)
{
	struct config c;

	ck_assert_msg(load("regions = ( { name = \"r\"; hugepages = true; pools = ( " POOL_P
			   " ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert(c.regions[0].hugepages);
	ck_assert_uint_eq(c.regions[0].size, 2u << 20);
	config_free(&c);
	ck_assert_int_eq(load("regions = ( { name = \"r\"; hugepages = true;\n"
			      "  size = \"3M\"; pools = ( " POOL_P " ); } );\n",
			      &c),
			 -EINVAL);
	ck_assert_str_eq(err, "test.conf:2: regions.[0].size: must be a multiple of 2 MiB "
			      "(hugepages: yes), got 3 MiB");
	assert_empty(&c);
}
END_TEST

START_TEST(test_config_explicit_size)
{
	struct config c;

	ck_assert_msg(
	    load("regions = ( { name = \"r\"; size = \"1M\"; pools = ( " POOL_P " ); } );\n", &c) ==
		0,
	    "%s", err);
	ck_assert_uint_eq(c.regions[0].size, 1u << 20);
	config_free(&c);
	/* 256 KiB + a page-aligned 1000-byte heap need 266240 bytes. */
	ck_assert_int_eq(load("regions = ( { name = \"r\";\n"
			      "  size = \"256K\";\n"
			      "  pools = ( { name = \"p\"; block_size = 256; blocks = 1024; } );\n"
			      "  heaps = ( { name = \"h\"; size = 1000; granule = 8; } ); } );\n",
			      &c),
			 -EINVAL);
	ck_assert_str_eq(err, "test.conf:2: regions.[0].size: is 262144 bytes, but its pools "
			      "and heaps need 266240 bytes (260 KiB)");
	assert_empty(&c);
}
END_TEST

/*
 * Broken configs: each message must start with "test.conf:LINE: PATH: " (or
 * "test.conf:LINE: " when no setting is at fault) and name the reason.
 */
static const struct broken {
	const char *text;
	const char *prefix;
	const char *reason;
} broken[] = {
    {"sockets = { };\n" REGION_R, "test.conf:1: ", "unknown setting 'sockets'"},
    {"regions = ( { name = \"r\";\n"
     "  pools = ( { name = \"p\"; blok_size = 64; blocks = 4; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0]: ", "unknown setting 'blok_size'"},
    {"log_level = 3;\n" REGION_R,
     "test.conf:1: log_level: ", "expected a string, got an integer (3)"},
    {"log_level = \"verbose\";\n" REGION_R,
     "test.conf:1: log_level: ", "must be one of error, warn, info, debug, got \"verbose\""},
    {"regions = ( { name = \"r\";\n hugepages = \"yes\";\n pools = ( " POOL_P " ); } );\n",
     "test.conf:2: regions.[0].hugepages: ", "expected a boolean (true or false), got a string"},
    {"max_frame = \"1K\";\n" REGION_R,
     "test.conf:1: max_frame: ", "must be in [4 KiB, 16 MiB], got 1 KiB"},
    {REGION_R "max_frame = \"64K\";\nmax_output = \"100K\";\n",
     "test.conf:3: max_output: ", "must be at least 2 * max_frame = 131072"},
    {REGION_R "\nmax_frame = \"16M\";\n", "test.conf:3: max_frame: ", "max_output is the default"},
    {REGION_R "max_output_total = \"512K\";\n",
     "test.conf:2: max_output_total: ", "must be at least max_output (1048576)"},
    {REGION_R "max_output = \"128M\";\n",
     "test.conf:2: max_output: ", "max_output_total is the default"},
    {"max_bad_frames = -1;\n" REGION_R, "test.conf:1: max_bad_frames: ", "must be in"},
    {"max_unread_hellos = 0;\n" REGION_R,
     "test.conf:1: max_unread_hellos: ", "must be in [1, 65536], got 0"},
    {"max_clients = 0;\n" REGION_R, "test.conf:1: max_clients: ", "must be in [1, 65536], got 0"},
    {"hello_timeout_ms = -1;\n" REGION_R, "test.conf:1: hello_timeout_ms: ", "got -1"},
    {"socket = {\n path = \"/tmp/0123456789012345678901234567890123456789012345678901234567890"
     "123456789012345678901234567890123456789.sock\"; };\n" REGION_R,
     "test.conf:2: socket.path: ", "is 110 bytes, longer than the 107"},
    {"socket = 5;\n" REGION_R,
     "test.conf:1: socket: ", "expected a group { ... }, got an integer (5)"},
    {"socket = { mode = \"0999\"; };\n" REGION_R,
     "test.conf:1: socket.mode: ", "expected an octal mode such as \"0660\", got \"0999\""},
    {"socket = { mode = \"01777\"; };\n" REGION_R,
     "test.conf:1: socket.mode: ", "must be at most 0777"},
    {"socket = { group = \"no-such-group-xyz\"; };\n" REGION_R,
     "test.conf:1: socket.group: ", "unknown group \"no-such-group-xyz\""},
    {"regions = ( { name = \"r\";\n allow_uids = ( 0,\n \"no-such-user-xyz\" );\n"
     " pools = ( " POOL_P " ); } );\n",
     "test.conf:3: regions.[0].allow_uids.[1]: ", "unknown user \"no-such-user-xyz\""},
    {"regions = ( { name = \"r\"; allow_gids = ( true ); pools = ( " POOL_P " ); } );\n",
     "test.conf:1: regions.[0].allow_gids.[0]: ", "expected a group name or id, got a boolean"},
    {"allow_uids = [ 0, \"root\" ];\n" REGION_R, "test.conf:1: ",
     "syntax error: mismatched element type in array (an array [ ... ] holds one type"},
    {"log_level = \"info\";\n", "test.conf: regions: ", "required setting is missing"},
    {"regions = ( );\n", "test.conf:1: regions: ", "must hold 1 to 64 regions, got 0"},
    {"regions = { };\n", "test.conf:1: regions: ", "expected a list ( ... ), got a group"},
    {"regions = ( 5 );\n",
     "test.conf:1: regions.[0]: ", "expected a group { ... }, got an integer"},
    {"regions = ( { name = \"r\"; },\n { name = \"s\"; pools = ( " POOL_P " ); } );\n",
     "test.conf:1: regions.[0]: ", "has no pools and no heaps"},
    {"regions = (\n { pools = ( " POOL_P " ); } );\n",
     "test.conf:2: regions.[0].name: ", "required setting is missing"},
    {"regions = ( { name = \"a b\"; pools = ( " POOL_P " ); } );\n",
     "test.conf:1: regions.[0].name: ", "must be 1 to 63 characters of A-Z a-z 0-9 _ . -"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"0123456789012345678901234567890123456789"
     "012345678901234567890123\"; block_size = 64; blocks = 4; } ); } );\n",
     "test.conf:1: regions.[0].pools.[0].name: ", "must be 1 to 63 characters"},
    {"regions = ( { name = \"r\"; pools = ( " POOL_P " ); },\n"
     " { name = \"r\"; heaps = ( { name = \"h\"; size = 64; } ); } );\n",
     "test.conf:2: regions.[1].name: ", "\"r\" is already the name of the region at line 1"},
    {"regions = ( { name = \"r\";\n pools = ( " POOL_P " ); },\n"
     " { name = \"s\";\n heaps = ( { name = \"p\"; size = 64; } ); } );\n",
     "test.conf:4: regions.[1].heaps.[0].name: ",
     "\"p\" is already the name of the pool at line 2 (pools, heaps and groups share one"},
    {REGION_R "groups = ( { name = \"p\"; pools = ( \"p\" ); choice = \"by_size\"; } );\n",
     "test.conf:2: groups.[0].name: ", "\"p\" is already the name of the pool at line 1"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 96;\n"
     " blocks = 4;\n align = 48; } ); } );\n",
     "test.conf:3: regions.[0].pools.[0].align: ", "must be a power of two, got 48"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64;\n"
     " blocks = 4; align = 2; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].align: ", "must be in [4 B, 1 GiB], got 2 B"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\";\n block_size = 1000;\n"
     " blocks = 4; align = 512; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].block_size: ",
     "must be a multiple of align (512), got 1000"},
    {"regions = ( { name = \"r\";\n pools = (\n { name = \"p\"; blocks = 4; } ); } );\n",
     "test.conf:3: regions.[0].pools.[0].block_size: ", "required setting is missing"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64;\n blocks = 0; } ); } "
     ");\n",
     "test.conf:2: regions.[0].pools.[0].blocks: ", "must be in [1, 4294967296], got 0"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64;\n blocks = 4.0; } ); "
     "} );\n",
     "test.conf:2: regions.[0].pools.[0].blocks: ", "expected an integer, got a float (4)"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = \"4T\";\n"
     " blocks = 4294967296L; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].blocks: ", "make more than 2^63 bytes"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64; blocks = 4;\n"
     " client_cache = 5; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].client_cache: ",
     "is more than cache_max (4, at most blocks and client_quota), got 5"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64; blocks = 64;\n"
     " client_quota = 8; cache_max = 16;\n client_cache = 9; } ); } );\n",
     "test.conf:3: regions.[0].pools.[0].client_cache: ",
     "is more than cache_max (8, at most blocks and client_quota), got 9"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64; blocks = 4;\n"
     " cache_max = 2000000; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].cache_max: ", "must be in [0, 1048576], got 2000000"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64; blocks = 4;\n"
     " client_cache = -1; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].client_cache: ", "got -1"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 64; blocks = 4;\n"
     " client_quota = 5; } ); } );\n",
     "test.conf:2: regions.[0].pools.[0].client_quota: ",
     "is more than the pool's 4 blocks, got 5"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\";\n block_size = true; blocks = 4; } ); "
     "} );\n",
     "test.conf:2: regions.[0].pools.[0].block_size: ",
     "expected a size (an integer or a string such as \"64K\"), got a boolean"},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\";\n block_size = \"12Q\"; blocks = 4; } "
     "); } );\n",
     "test.conf:2: regions.[0].pools.[0].block_size: ",
     "expected a size such as 65536, \"64K\" or \"16M\""},
    {"regions = ( { name = \"r\"; pools = ( { name = \"p\";\n block_size = -64; blocks = 4; } ); } "
     ");\n",
     "test.conf:2: regions.[0].pools.[0].block_size: ", "must not be negative, got -64"},
    {"regions = ( { name = \"r\"; heaps = ( { name = \"h\";\n size = 1000; } ); } );\n",
     "test.conf:2: regions.[0].heaps.[0].size: ", "must be a multiple of granule (64), got 1000"},
    {"regions = ( { name = \"r\"; heaps = ( { name = \"h\"; size = 1024;\n granule = 96; } ); } "
     ");\n",
     "test.conf:2: regions.[0].heaps.[0].granule: ", "must be a power of two, got 96"},
    {"regions = ( { name = \"r\"; heaps = ( { name = \"h\";\n size = \"512G\"; granule = 8; } ); } "
     ");\n",
     "test.conf:2: regions.[0].heaps.[0].size: ",
     "is 68719476736 granules of 8 bytes, more than 4294967295"},
    {"regions = ( { name = \"r\"; heaps = ( { name = \"h\"; size = 1024;\n max_allocs = 17; } ); } "
     ");\n",
     "test.conf:2: regions.[0].heaps.[0].max_allocs: ",
     "is more than the 16 granules the heap holds, got 17"},
    {"regions = ( { name = \"r\"; heaps = ( { name = \"h\"; size = \"1M\";\n"
     " client_quota = \"2M\"; } ); } );\n",
     "test.conf:2: regions.[0].heaps.[0].client_quota: ",
     "is more than the heap's size (1 MiB), got 2 MiB"},
    {"regions = ( { name = \"r\"; size = 0; pools = ( " POOL_P " ); } );\n",
     "test.conf:1: regions.[0].size: ", "is 0 bytes, but its pools and heaps need 4096 bytes"},
    {"regions = ( { name = \"r\"; size = 6000; pools = ( " POOL_P " ); } );\n",
     "test.conf:1: regions.[0].size: ", "must be a multiple of 4 KiB (hugepages: no)"},
    {"regions = ( { name = \"r\"; pools = [ \"p\" ]; } );\n",
     "test.conf:1: regions.[0].pools: ", "expected a list ( ... ), got an array"},
    {REGION_R
     "groups = ( { name = \"g\";\n pools = [ \"p\", \"nope\" ]; choice = \"by_size\"; } );\n",
     "test.conf:3: groups.[0].pools.[1]: ", "no pool named \"nope\""},
    {"regions = ( { name = \"r\"; pools = ( " POOL_P " );\n"
     " heaps = ( { name = \"h\"; size = 64; } ); } );\n"
     "groups = ( { name = \"g\"; pools = [ \"p\", \"h\" ]; choice = \"by_size\"; } );\n",
     "test.conf:3: groups.[0].pools.[1]: ", "\"h\" is a heap (line 2), not a pool"},
    {"regions = ( { name = \"r1\"; pools = ( " POOL_P " ); },\n"
     " { name = \"r2\"; pools = ( { name = \"q\"; block_size = 64; blocks = 4; } ); } );\n"
     "groups = ( { name = \"g\"; pools = [ \"p\",\n \"q\" ]; choice = \"by_size\"; } );\n",
     "test.conf:4: groups.[0].pools.[1]: ",
     "pool \"q\" is in region \"r2\", but \"p\" is in region \"r1\""},
    {REGION_R "groups = ( { name = \"g\"; pools = [ \"p\", \"p\" ]; choice = \"by_size\"; } );\n",
     "test.conf:2: groups.[0].pools.[1]: ", "pool \"p\" is listed twice"},
    {REGION_R "groups = (\n { name = \"g\"; pools = [ \"p\" ];\n"
	      " choice = \"by_size\"; plugin = \"/x.so\"; } );\n",
     "test.conf:3: groups.[0]: ", "sets both choice and plugin"},
    {REGION_R "groups = (\n { name = \"g\"; pools = [ \"p\" ]; } );\n",
     "test.conf:3: groups.[0]: ", "sets neither choice nor plugin"},
    {REGION_R "groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"by_size\";\n"
	      " plugin_arg = \"x\"; } );\n",
     "test.conf:3: groups.[0].plugin_arg: ", "is for plugin only"},
    {REGION_R "groups = ( { name = \"g\"; pools = [ ]; choice = \"by_size\"; } );\n",
     "test.conf:2: groups.[0].pools: ", "must name at least one pool"},
    {REGION_R "groups = (\n { name = \"g\"; choice = \"by_size\"; } );\n",
     "test.conf:3: groups.[0].pools: ", "required setting is missing"},
    {REGION_R "groups = ( { name = \"g\"; pools = [ \"p\" ]; choice = \"\"; } );\n",
     "test.conf:2: groups.[0].choice: ", "must not be empty"},
    {REGION_R "\nmax_clients = ;\n", "test.conf:3: ", "syntax error"},
    {REGION_R "max_clients = 1;\nmax_clients = 2;\n",
     "test.conf:3: ", "syntax error: duplicate setting name"},
    {REGION_R "# 5000000000 in a comment is fine\nmax_output = 5000000000;\n", "test.conf:3: ",
     "integer 5000000000 does not fit in 32 bits (libconfig would wrap it): write 5000000000L"},
    {REGION_R "max_output = 0xFFFFFFFF;\n", "test.conf:2: ", "integer 0xFFFFFFFF does not fit"},
    {REGION_R "max_output = 99999999999999999999L;\n",
     "test.conf:2: ", "integer 99999999999999999999L does not fit in 64 bits"},
    {REGION_R "@include \"/dev/null\"\n", "test.conf:2: ", "@include is not supported"},
};

START_TEST(test_config_broken)
{
	const struct broken *b = &broken[_i];
	struct config c;

	ck_assert_int_eq(load(b->text, &c), -EINVAL);
	ck_assert_msg(strncmp(err, b->prefix, strlen(b->prefix)) == 0,
		      "row %d: \"%s\" does not start with \"%s\"", _i, err, b->prefix);
	assert_contains(err, b->reason);
	assert_empty(&c);
}
END_TEST

START_TEST(test_config_too_many_regions)
{
	char *text = malloc(200 * 70), *p = text;
	struct config c;

	ck_assert_ptr_nonnull(text);
	p += sprintf(p, "regions = (\n");
	for (int i = 0; i < WIRE_MAX_REGIONS + 1; i++)
		p += sprintf(p,
			     "{ name = \"r%d\"; pools = ( { name = \"p%d\"; block_size = 64; "
			     "blocks = 1; } ); }%s\n",
			     i, i, i < WIRE_MAX_REGIONS ? "," : "");
	sprintf(p, ");\n");
	ck_assert_int_eq(load(text, &c), -EINVAL);
	ck_assert_str_eq(err, "test.conf:1: regions: must hold 1 to 64 regions, got 65");
	assert_empty(&c);
	/* Exactly 64: drop the last region. */
	strcpy(strstr(text, "},\n{ name = \"r64\""), "} );\n");
	ck_assert_msg(load(text, &c) == 0, "%s", err);
	ck_assert_uint_eq(c.nregions, WIRE_MAX_REGIONS);
	config_free(&c);
	free(text);
}
END_TEST

START_TEST(test_config_mixed_ids_need_a_list)
{
	struct config c;

	ck_assert_msg(load("regions = ( { name = \"r\"; allow_uids = ( 0, \"root\" );\n"
			   "  allow_gids = [ 0, 5 ]; pools = ( " POOL_P " ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.regions[0].n_allow_uids, 2);
	ck_assert_uint_eq(c.regions[0].n_allow_gids, 2);
	ck_assert_uint_eq(c.regions[0].allow_gids[1], 5);
	config_free(&c);
}
END_TEST

START_TEST(test_config_name_of_63_characters)
{
	struct config c;

	ck_assert_msg(load("regions = ( { name = \"r\"; pools = ( { name = \"012345678901234567"
			   "890123456789012345678901234567890123456789012\"; block_size = 64; "
			   "blocks = 4; } ); } );\n",
			   &c) == 0,
		      "%s", err);
	ck_assert_uint_eq(strlen(c.regions[0].pools[0].name), WIRE_NAME_MAX);
	config_free(&c);
}
END_TEST

START_TEST(test_config_missing_file)
{
	struct config c;

	memset(&c, 0xa5, sizeof(c));
	ck_assert_int_eq(config_load_file("/nonexistent/allocatord.conf", &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "/nonexistent/allocatord.conf: No such file or directory");
	assert_empty(&c);
	ck_assert_int_eq(config_load_file("/", &c, err, sizeof(err)), -EISDIR);
	ck_assert_str_eq(err, "/: Is a directory");
}
END_TEST

/* Writes text (len bytes) to a fresh temporary file; returns its path. */
static char *temp_file(const void *text, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
	close(fd);
	return path;
}

START_TEST(test_config_file_messages_name_the_file)
{
	static const char text[] = REGION_R "max_clients = \"many\";\n";
	char *path = temp_file(text, sizeof(text) - 1), want[128];
	struct config c;

	ck_assert_int_eq(config_load_file(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: max_clients: expected an integer, got a string "
		 "(\"many\")",
		 path);
	ck_assert_str_eq(err, want);
	assert_empty(&c);
	unlink(path);
	path = temp_file(REGION_R, strlen(REGION_R));
	ck_assert_msg(config_load_file(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.file, path);
	config_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_config_file_not_text)
{
	static const char text[] = "max_clients = 1;\0" REGION_R;
	char *path = temp_file(text, sizeof(text) - 1), *big;
	struct config c;

	ck_assert_int_eq(config_load_file(path, &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "contains a NUL byte");
	unlink(path);
	big = malloc(1u << 20);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', 1u << 20);
	path = temp_file(big, 1u << 20);
	free(big);
	ck_assert_int_eq(config_load_file(path, &c, err, sizeof(err)), -EFBIG);
	assert_contains(err, "is 1048576 bytes or larger");
	assert_empty(&c);
	unlink(path);
}
END_TEST

START_TEST(test_config_short_error_buffer)
{
	char small[12];
	struct config c;

	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(
	    config_load_string("max_clients = 0;\n" REGION_R, NAME, &c, small, sizeof(small)),
	    -EINVAL);
	ck_assert_str_eq(small, "test.conf:1");
	ck_assert_int_eq(config_load_string("max_clients = 0;\n" REGION_R, NAME, &c, NULL, 0),
			 -EINVAL);
	assert_empty(&c);
}
END_TEST

START_TEST(test_config_free_is_safe)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	config_free(&c);
	assert_empty(&c);
	ck_assert_msg(load(REGION_R, &c) == 0, "%s", err);
	config_free(&c);
	assert_empty(&c);
	config_free(&c);
}
END_TEST

START_TEST(test_config_print_shows_every_object)
{
	struct config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	ck_assert_msg(
	    config_load_string(config_default_text, CONFIG_DEFAULT_FILE, &c, err, sizeof(err)) == 0,
	    "%s", err);
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	config_print(&c, out);
	fclose(out);
	assert_contains(buf, "config <built-in default>: OK\n");
	assert_contains(buf, "socket: default (mode 0660)\n");
	for (size_t r = 0; r < c.nregions; r++) {
		char line[128];

		snprintf(line, sizeof(line), "region %s: ", c.regions[r].name);
		assert_contains(buf, line);
		for (size_t i = 0; i < c.regions[r].npools; i++) {
			snprintf(line, sizeof(line), " %s ", c.regions[r].pools[i].name);
			assert_contains(buf, line);
			snprintf(line, sizeof(line), "offset 0x%" PRIx64 " ",
				 c.regions[r].pools[i].offset);
			assert_contains(buf, line);
		}
		for (size_t i = 0; i < c.regions[r].nheaps; i++) {
			snprintf(line, sizeof(line), "offset 0x%" PRIx64 " ",
				 c.regions[r].heaps[i].offset);
			assert_contains(buf, line);
		}
	}
	assert_contains(buf, "  heap  heap  ");
	assert_contains(buf, "group buffers: small, medium, large (choice by_size)\n");
	free(buf);
	config_free(&c);
}
END_TEST

START_TEST(test_config_print_socket_and_allow_lists)
{
	struct config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	ck_assert_msg(
	    load("socket = { path = \"/tmp/x.sock\"; mode = \"0600\"; group = 7; };\n"
		 "regions = ( { name = \"r\"; hugepages = true; allow_uids = ( 0, 4000000, "
		 "\"root\" );\n"
		 "  allow_gids = [ 4000000 ];\n"
		 "  pools = ( { name = \"p\"; block_size = 1536; blocks = 2; align = 512;"
		 " client_quota = 1; } );\n"
		 "  heaps = ( { name = \"h\"; size = \"1M\"; client_quota = \"4K\"; } ); } );\n"
		 "groups = ( { name = \"g\"; pools = [ \"p\" ]; plugin = \"/x.so\"; "
		 "plugin_arg = \"y\"; } );\n",
		 &c) == 0,
	    "%s", err);
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	config_print(&c, out);
	fclose(out);
	assert_contains(buf, "socket /tmp/x.sock (mode 0600, group 7)\n");
	assert_contains(buf, "region r: 2 MiB (hugepages: yes), allowed: uids 0 (root), 4000000; "
			     "gids 4000000; max_holds 32776, uid_holds 16388\n");
	assert_contains(buf,
			"  pool  p     offset 0x0          1536 B x 2 blocks (align 512) = 3 KiB, "
			"quota 1 blocks, uid_quota 1 blocks\n");
	assert_contains(buf, "  heap  h     offset 0x100000     1 MiB (granule 64, max 4096 "
			     "allocations), quota 4 KiB, uid_quota 512 KiB\n");
	assert_contains(buf, "group g: p (plugin /x.so, arg \"y\")\n");
	free(buf);
	config_free(&c);
}
END_TEST

/* Sizes that are no whole number of a large unit read rounded first, the
 * exact count after: not "35433480196 KiB" alone. */
START_TEST(test_config_print_sizes_readable)
{
	struct config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	ck_assert_msg(load("regions = ( { name = \"r\"; heaps = ( { name = \"h\"; size = 1048640; "
			   "} ); } );\n",
			   &c) == 0,
		      "%s", err);
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	config_print(&c, out);
	fclose(out);
	assert_contains(buf, "  heap  h     offset 0x0          1.0 MiB (1048640 B) (granule 64");
	free(buf);
	config_free(&c);
}
END_TEST

/* cache_max: 1024 by default, lowered to blocks and quota; client_cache 0;
 * the shared bits: whole words per pool. --check-config shows both. */
START_TEST(test_config_cache_settings)
{
	const struct cfg_region *r;
	char *buf = NULL;
	size_t len = 0;
	struct config c;
	FILE *out;

	ck_assert_msg(
	    load("regions = ( { name = \"r\"; pools = (\n"
		 "  { name = \"big\"; block_size = 64; blocks = 5000; },\n"
		 "  { name = \"few\"; block_size = 64; blocks = 100; },\n"
		 "  { name = \"quota\"; block_size = 64; blocks = 100; client_quota = 10; },\n"
		 "  { name = \"set\"; block_size = 64; blocks = 100; cache_max = 50;\n"
		 "    client_cache = 50; },\n"
		 "  { name = \"off\"; block_size = 64; blocks = 1; cache_max = 0; } );\n"
		 "  heaps = ( { name = \"h\"; size = \"64K\"; } ); } );\n",
		 &c) == 0,
	    "%s", err);
	r = &c.regions[0];
	ck_assert_uint_eq(r->pools[0].cache_max, 1024);
	ck_assert_uint_eq(r->pools[0].client_cache, 0);
	ck_assert_uint_eq(r->pools[1].cache_max, 100);
	ck_assert_uint_eq(r->pools[2].cache_max, 10);
	ck_assert_uint_eq(r->pools[3].cache_max, 50);
	ck_assert_uint_eq(r->pools[3].client_cache, 50);
	ck_assert_uint_eq(r->pools[4].cache_max, 0);
	/* 5000 blocks: 79 words; 100: 2 words; 1: 1 word. */
	ck_assert_uint_eq(r->pools[0].bits_offset, 0);
	ck_assert_uint_eq(r->pools[1].bits_offset, 79 * 8);
	ck_assert_uint_eq(r->pools[2].bits_offset, 81 * 8);
	ck_assert_uint_eq(r->pools[4].bits_offset, 85 * 8);
	ck_assert_uint_eq(r->bits_size, 86 * 8);
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	config_print(&c, out);
	fclose(out);
	assert_contains(buf, "cache_max 1024, client_cache 0\n");
	assert_contains(buf, "cache_max 50, client_cache 50\n");
	assert_contains(buf, "cache_max 0, client_cache 0\n");
	free(buf);
	config_free(&c);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, test_config_default_meets_requirements);
	tcase_add_test(tc, test_config_example_loads_and_shows_every_setting);
	tcase_add_test(tc, test_config_by_uid_example_names_the_plugin);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_every_setting_read);
	tcase_add_test(tc, test_config_cache_settings);
	tcase_add_test(tc, test_config_log_levels);
	tcase_add_test(tc, test_config_mode_integer_is_octal);
	tcase_add_test(tc, test_config_parse_size_suffixes);
	tcase_add_test(tc, test_config_parse_size_rejects);
	tcase_add_test(tc, test_config_large_integers);
	tcase_add_test(tc, test_config_mixed_ids_need_a_list);
	tcase_add_test(tc, test_config_name_of_63_characters);
	suite_add_tcase(s, tc);

	tc = tcase_create("layout");
	tcase_add_test(tc, test_config_layout);
	tcase_add_test(tc, test_config_layout_hugepages);
	tcase_add_test(tc, test_config_explicit_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_config_broken, 0, (int) (sizeof(broken) / sizeof(broken[0])));
	tcase_add_test(tc, test_config_too_many_regions);
	tcase_add_test(tc, test_config_missing_file);
	tcase_add_test(tc, test_config_file_messages_name_the_file);
	tcase_add_test(tc, test_config_file_not_text);
	tcase_add_test(tc, test_config_short_error_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("free_print");
	tcase_add_test(tc, test_config_free_is_safe);
	tcase_add_test(tc, test_config_print_shows_every_object);
	tcase_add_test(tc, test_config_print_socket_and_allow_lists);
	tcase_add_test(tc, test_config_print_sizes_readable);
	suite_add_tcase(s, tc);
	return s;
}
