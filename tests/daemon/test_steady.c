/*
 * Steady state: after warm-up, requests do not call malloc in the daemon.
 * An LD_PRELOAD shim (plugins/malloc_count.c) counts the daemon's malloc,
 * calloc and realloc calls and reports them on SIGUSR2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	kill(td->pid, SIGUSR2);
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

START_TEST(test_steady_no_malloc_per_request)
{
	char shim[512], file[128];
	struct test_daemon td;
	long before, after;
	int fd;

#if defined(ALLOCATORD_SANITIZERS)
	fprintf(stderr, "skipped: the sanitizers own malloc in this build\n");
	return;
#endif
	if (getenv("ALLOCATORD_VALGRIND") != NULL &&
	    strcmp(getenv("ALLOCATORD_VALGRIND"), "1") == 0) {
		fprintf(stderr, "skipped: valgrind owns malloc\n");
		return;
	}
	snprintf(file, sizeof(file), "/tmp/allocatord-mallocs-%d", (int) getpid());
	setenv("LD_PRELOAD",
	       test_build_path("tests/daemon/plugins/.libs/malloc_count.so", shim, sizeof(shim)),
	       1);
	setenv("ALLOCATORD_MALLOC_COUNT_FILE", file, 1);
	ck_assert_int_eq(test_daemon_start(&td, config, NULL), 0);
	unsetenv("LD_PRELOAD");
	unsetenv("ALLOCATORD_MALLOC_COUNT_FILE");

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

Suite *steady_suite(void)
{
	Suite *s = suite_create("steady");
	TCase *tc = tcase_create("steady");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_steady_no_malloc_per_request);
	suite_add_tcase(s, tc);
	return s;
}
