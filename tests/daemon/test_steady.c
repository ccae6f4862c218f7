/*
 * Steady state: after warm-up, requests do not call malloc in the daemon.
 * An LD_PRELOAD shim (plugins/malloc_count.c) counts the daemon's malloc,
 * calloc and realloc calls and reports them on SIGUSR1.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

static const char config[] =
    "regions = ({ name = \"r\";\n"
    "  pools = ({ name = \"p\"; block_size = 64; blocks = 4096; });\n"
    "  heaps = ({ name = \"h\"; size = \"1M\"; }); });\n"
    "groups = ({ name = \"g\"; pools = [ \"p\" ]; choice = \"round_robin\"; });\n";

static long read_count(struct test_daemon *td, const char *file)
{
	long v = -1;

	unlink(file);
	kill(td->pid, SIGUSR1);
	for (int i = 0; i < 500 && v < 0; i++) {
		FILE *f = fopen(file, "r");

		if (f != NULL) {
			if (fscanf(f, "%ld", &v) != 1)
				v = -1;
			fclose(f);
		}
		if (v < 0)
			usleep(10000);
	}
	return v;
}

/* A mix of requests: batches, a contiguous run, list and status. */
static void traffic(int fd, int rounds)
{
	uint64_t off[64];

	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(raw_alloc(fd, 10, "p", 1 + (uint64_t) (i % 64), off), 0);
		ck_assert_int_eq(raw_free(fd, 11, "p", 1 + (uint64_t) (i % 64), off), 0);
		ck_assert_int_eq(raw_alloc(fd, 12, "p", 8, off), 0);
		ck_assert_int_eq(raw_free(fd, 13, "g", 8, off), 0);
	}
}

/* Start a daemon on config that counts its mallocs into file (the
 * malloc_count shim); false, with a line saying why, in a build whose
 * malloc is not the shim's to count (sanitizers, valgrind). */
static bool start_counted(struct test_daemon *td, const char *config_text, char *file, size_t len)
{
	char shim[512];

#if defined(ALLOCATORD_SANITIZERS)
	fprintf(stderr, "skipped: the sanitizers own malloc in this build\n");
	return false;
#endif
	if (test_under_valgrind()) {
		fprintf(stderr, "skipped: valgrind owns malloc\n");
		return false;
	}
	snprintf(file, len, "/tmp/allocatord-mallocs-%d", (int) getpid());
	setenv("LD_PRELOAD",
	       test_build_path("tests/daemon/plugins/.libs/malloc_count.so", shim, sizeof(shim)),
	       1);
	setenv("ALLOCATORD_MALLOC_COUNT_FILE", file, 1);
	ck_assert_int_eq(test_daemon_start(td, config_text, NULL), 0);
	unsetenv("LD_PRELOAD");
	unsetenv("ALLOCATORD_MALLOC_COUNT_FILE");
	return true;
}

START_TEST(test_steady_no_malloc_per_request)
{
	char file[128];
	struct test_daemon td;
	long before, after;
	int fd;

	if (!start_counted(&td, config, file, sizeof(file)))
		return;

	fd = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(fd, NULL, NULL), 0);
	traffic(fd, 500);
	before = read_count(&td, file);
	ck_assert_int_ge(before, 1);
	traffic(fd, 5000);
	after = read_count(&td, file);
	ck_assert_msg(after == before, "%ld mallocs during 20000 requests", after - before);
	close(fd);
	unlink(file);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

/* Leased caches: p has 256 blocks; b leases 32 and lists them in its lease
 * page, a then allocates 240, which takes 16 of them back. */
static const char lease_config[] =
    "regions = ({ name = \"r\";\n"
    "  pools = ({ name = \"p\"; block_size = 64; blocks = 256; }); });\n";

static void lease_traffic(int a, int b, uint32_t *slot, int rounds)
{
	uint64_t off[256], rest[32];
	size_t n, k;

	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(raw_alloc_lease(b, 20, "p", 0, 32, 32, off, 256, &n), 0);
		ck_assert_uint_eq(n, 32);
		for (k = 0; k < 32; k++)
			slot[k] = (uint32_t) (off[k] / 64) + 1; /* p starts the region */
		ck_assert_int_eq(raw_alloc_lease(a, 21, "p", 240, 0, 0, off, 256, &n), 0);
		ck_assert_int_eq(raw_free(a, 22, "p", 240, off), 0);
		for (k = n = 0; k < 32; k++)
			if (slot[k] != 0)
				rest[n++] =
				    (uint64_t) (__atomic_exchange_n(&slot[k], 0, __ATOMIC_ACQ_REL) -
						1) *
				    64;
		ck_assert_uint_eq(n, 16);
		ck_assert_int_eq(raw_free(b, 23, "p", n, rest), 0);
	}
}

START_TEST(test_steady_no_malloc_for_leases)
{
	char file[128];
	int fds[RAW_MAX_FDS], a, b;
	size_t nfds = RAW_MAX_FDS;
	struct test_daemon td;
	long before, after;
	uint32_t *slot;

	if (!start_counted(&td, lease_config, file, sizeof(file)))
		return;

	a = raw_connect(td.socket);
	b = raw_connect(td.socket);
	ck_assert_int_eq(raw_hello(a, NULL, NULL), 0);
	ck_assert_int_eq(raw_hello_leases(b, true, fds, &nfds), 0);
	ck_assert_uint_eq(nfds, 3);
	/* p's slots are the whole page: it is the only pool. */
	slot = mmap(NULL, 1024, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
	ck_assert_ptr_ne(slot, MAP_FAILED);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	lease_traffic(a, b, slot, 200);
	before = read_count(&td, file);
	ck_assert_int_ge(before, 1);
	lease_traffic(a, b, slot, 1000);
	after = read_count(&td, file);
	ck_assert_msg(after == before, "%ld mallocs during 4000 requests", after - before);
	munmap(slot, 1024);
	close(a);
	close(b);
	unlink(file);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}
END_TEST

Suite *steady_suite(void)
{
	Suite *s = suite_create("steady");
	TCase *tc = tcase_create("steady");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_steady_no_malloc_per_request);
	tcase_add_test(tc, test_steady_no_malloc_for_leases);
	suite_add_tcase(s, tc);
	return s;
}
