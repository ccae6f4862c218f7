/*
 * memcheck: the readers of /proc/meminfo, /proc/self/cgroup and the cgroup
 * v1 and v2 limit files on fake trees (memcheck_set_root), the comparison
 * with every limit, and region.c's stepwise reservation stopping when the
 * room runs out. Nothing here allocates more than a few KiB.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/memcheck.h"
#include "daemon/region.h"
#include "tests/daemon/check_daemon.h"

static char root[64];

/* Write text to root/rel, creating the folders on the way. */
static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = strchr(path + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static const char meminfo[] = "MemTotal:        6400000 kB\n"
			      "MemFree:         1000000 kB\n"
			      "MemAvailable:    3200000 kB\n"
			      "HugePages_Total:      16\n"
			      "HugePages_Free:       10\n"
			      "HugePages_Rsvd:        3\n"
			      "Hugepagesize:       2048 kB\n";

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/allocatord-memcheck.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	put("/proc/meminfo", meminfo);
	memcheck_set_root(root);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st, (void) flag, (void) ftw;
	return remove(path);
}

static void teardown(void)
{
	memcheck_set_root("");
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

START_TEST(test_memcheck_reads_meminfo_and_huge_pages)
{
	struct memcheck_budget b;

	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(b.mem_total, UINT64_C(6400000) * 1024);
	ck_assert_uint_eq(b.mem_available, UINT64_C(3200000) * 1024);
	ck_assert_uint_eq(b.huge_page, 2 << 20);
	ck_assert_uint_eq(b.huge_free, 7); /* free less reserved */
	ck_assert_uint_eq(memcheck_room(&b, true), UINT64_C(7) << 21);
	/* no proc/self/cgroup: no limit */
	ck_assert_uint_eq(b.cg_limit, MEMCHECK_NONE);
	ck_assert_uint_eq(memcheck_reserve(&b), UINT64_C(6400000) * 1024 / 64);
	ck_assert_uint_eq(memcheck_room(&b, false),
			  UINT64_C(3200000) * 1024 - UINT64_C(100000) * 1024);
}
END_TEST

START_TEST(test_memcheck_no_meminfo_is_an_error)
{
	struct memcheck_budget b;

	memcheck_set_root("/nonexistent");
	ck_assert_int_eq(memcheck_read(&b), -ENOENT);
	ck_assert_uint_eq(memcheck_room(&b, false), MEMCHECK_NONE);
}
END_TEST

/* v2: the tightest level on the way up counts, "max" is no limit. */
START_TEST(test_memcheck_cgroup_v2_tightest_ancestor)
{
	struct memcheck_budget b;
	char want[256];

	put("/proc/self/cgroup", "0::/a/b\n");
	put("/sys/fs/cgroup/a/b/memory.max", "max\n");
	put("/sys/fs/cgroup/a/b/memory.current", "1000\n");
	put("/sys/fs/cgroup/a/memory.max", "1073741824\n");
	put("/sys/fs/cgroup/a/memory.current", "268435456\n");
	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(b.cg_limit, 1 << 30);
	ck_assert_uint_eq(b.cg_usage, 256 << 20);
	snprintf(want, sizeof(want), "/sys/fs/cgroup/a/memory.max");
	ck_assert_str_eq(b.cg_file, want);
	ck_assert_uint_eq(memcheck_room(&b, false), 768 << 20);
	/* a tighter one below wins */
	put("/sys/fs/cgroup/a/b/memory.max", "536870912\n");
	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(memcheck_room(&b, false), (512 << 20) - 1000);
	ck_assert_str_eq(b.cg_file, "/sys/fs/cgroup/a/b/memory.max");
}
END_TEST

/* v1 (or hybrid): the memory line wins over "0::", its unlimited value is
 * no limit, and a path that is not there (no cgroup namespace) falls back
 * to the levels that are. */
START_TEST(test_memcheck_cgroup_v1_and_hybrid)
{
	struct memcheck_budget b;

	put("/proc/self/cgroup", "0::/\n5:cpu,cpuacct:/c\n4:memory:/x/y\n");
	put("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
	put("/sys/fs/cgroup/memory/x/memory.usage_in_bytes", "5\n");
	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(b.cg_limit, MEMCHECK_NONE);
	put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "2097152\n");
	put("/sys/fs/cgroup/memory/memory.usage_in_bytes", "1048576\n");
	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(b.cg_limit, 2 << 20);
	ck_assert_str_eq(b.cg_file, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
	ck_assert_uint_eq(memcheck_room(&b, false), 1 << 20);
	/* usage over the limit: no room, not a wrap-around */
	put("/sys/fs/cgroup/memory/memory.usage_in_bytes", "3145728\n");
	ck_assert_int_eq(memcheck_read(&b), 0);
	ck_assert_uint_eq(memcheck_room(&b, false), 0);
}
END_TEST

static void load(const char *text, struct config *c)
{
	char err[CONFIG_ERR_MAX];

	ck_assert_msg(config_load_string(text, "test.conf", c, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_memcheck_need_adds_up_regions_bits_and_leases)
{
	struct memcheck_need n;
	struct config c;

	load("max_clients = 10;\n"
	     "regions = ( { name = \"a\"; pools = ( { name = \"p\"; block_size = 4096; blocks = "
	     "100; cache_max = 20; } ); },\n"
	     "  { name = \"h\"; hugepages = true; size = \"4M\"; pools = ( { name = \"q\"; "
	     "block_size = \"1M\"; blocks = 4; cache_max = 0; } ); } );\n",
	     &c);
	memcheck_need(&c, &n);
	ck_assert_uint_eq(n.huge, 4 << 20);
	/* a's size, plus the shared bits of both: 100 blocks in two 8-byte
	 * words, 4 blocks in one */
	ck_assert_uint_eq(n.shared, c.regions[0].size + 24);
	ck_assert_uint_eq(n.mapped, c.regions[0].size + (4 << 20) + 24);
	ck_assert_uint_eq(n.largest, 4 << 20);
	ck_assert_str_eq(n.largest_name, "h");
	ck_assert_uint_eq(n.leases, 10 * 128); /* 20 slots of 4 bytes on 64 */
	config_free(&c);
}
END_TEST

static void budget(struct memcheck_budget *b)
{
	memset(b, 0, sizeof(*b));
	b->mem_total = UINT64_C(64) << 30;
	b->mem_available = UINT64_C(32) << 30;
	b->cg_limit = b->huge_page = b->huge_free = MEMCHECK_NONE;
	b->fsize_limit = b->as_limit = MEMCHECK_NONE;
}

static void assert_refused(int rc, int want, const struct errbuf *e, const char *what)
{
	ck_assert_int_eq(rc, want);
	ck_assert_msg(strncmp(e->msg, "f.conf: ", 8) == 0, "%s", e->msg);
	ck_assert_msg(strstr(e->msg, what) != NULL, "want '%s' in: %s", what, e->msg);
}

START_TEST(test_memcheck_fits_names_every_limit)
{
	struct memcheck_need n = {.shared = UINT64_C(40) << 30,
				  .mapped = UINT64_C(40) << 30,
				  .largest = UINT64_C(40) << 30,
				  .largest_name = "big"};
	struct memcheck_budget b;
	struct errbuf e;

	budget(&b);
	assert_refused(
	    memcheck_fits("f.conf", &n, &b, &e), -ENOMEM, &e,
	    "the regions need 40.0 GiB of shared memory, more than the 31.0 GiB that "
	    "may be used (MemAvailable 32.0 GiB less 1.0 GiB, 1/64 of MemTotal 64.0 GiB");
	n.shared = n.mapped = n.largest = UINT64_C(31) << 30; /* exactly the room */
	ck_assert_int_eq(memcheck_fits("f.conf", &n, &b, &e), 0);

	b.cg_limit = UINT64_C(8) << 30;
	b.cg_usage = UINT64_C(1) << 30;
	snprintf(b.cg_file, sizeof(b.cg_file), "/sys/fs/cgroup/s/memory.max");
	assert_refused(memcheck_fits("f.conf", &n, &b, &e), -ENOMEM, &e,
		       "more than the 7.0 GiB the daemon's cgroup may still use "
		       "(/sys/fs/cgroup/s/memory.max: 8.0 GiB, 1.0 GiB in use)");
	b.cg_limit = MEMCHECK_NONE;

	b.as_limit = UINT64_C(16) << 30;
	b.as_used = UINT64_C(1) << 30;
	assert_refused(memcheck_fits("f.conf", &n, &b, &e), -ENOMEM, &e,
		       "the regions map 31.0 GiB, more than the 15.0 GiB of address space left "
		       "under RLIMIT_AS");
	b.as_limit = MEMCHECK_NONE;

	b.fsize_limit = UINT64_C(1) << 30;
	assert_refused(
	    memcheck_fits("f.conf", &n, &b, &e), -EFBIG, &e,
	    "region 'big' is 31.0 GiB, over the file size limit RLIMIT_FSIZE of 1.0 GiB");
	b.fsize_limit = MEMCHECK_NONE;

	n.huge = UINT64_C(16) << 20;
	b.huge_page = 2 << 20;
	b.huge_free = 7;
	assert_refused(memcheck_fits("f.conf", &n, &b, &e), -ENOMEM, &e,
		       "hugepage regions need 16.0 MiB, 8 huge pages of 2.0 MiB, and 7 are free");
	b.huge_free = 8;
	ck_assert_int_eq(memcheck_fits("f.conf", &n, &b, &e), 0);
}
END_TEST

/* region.c reserves in steps and looks at the room before each: with less
 * room than the region it stops before reserving anything. */
START_TEST(test_memcheck_region_reserve_stops_when_room_runs_out)
{
	struct region r;
	struct errbuf e;
	struct config c;

	load("regions = ( { name = \"r\"; pools = ( { name = \"p\"; block_size = 4096; blocks = "
	     "256; } ); } );\n",
	     &c);
	/* 1 MiB region; 1/64 of 64 MiB = 1 MiB reserve; 1.5 MiB available */
	put("/proc/meminfo", "MemTotal: 65536 kB\nMemAvailable: 1536 kB\n");
	ck_assert_int_eq(region_create(&r, &c.regions[0], 0, false, NULL, &e), -ENOMEM);
	ck_assert_msg(strstr(e.msg, "region 'r': stopped reserving at 0 B of 1.0 MiB: only 512.0 "
				    "KiB of memory left") != NULL,
		      "%s", e.msg);
	put("/proc/meminfo", "MemTotal: 65536 kB\nMemAvailable: 4096 kB\n");
	ck_assert_int_eq(region_create(&r, &c.regions[0], 0, false, NULL, &e), 0);
	region_destroy(&r);
	config_free(&c);
}
END_TEST

Suite *memcheck_suite(void)
{
	Suite *s = suite_create("memcheck");
	TCase *tc = tcase_create("memcheck");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_memcheck_reads_meminfo_and_huge_pages);
	tcase_add_test(tc, test_memcheck_no_meminfo_is_an_error);
	tcase_add_test(tc, test_memcheck_cgroup_v2_tightest_ancestor);
	tcase_add_test(tc, test_memcheck_cgroup_v1_and_hybrid);
	tcase_add_test(tc, test_memcheck_need_adds_up_regions_bits_and_leases);
	tcase_add_test(tc, test_memcheck_fits_names_every_limit);
	tcase_add_test(tc, test_memcheck_region_reserve_stops_when_room_runs_out);
	suite_add_tcase(s, tc);
	return s;
}
