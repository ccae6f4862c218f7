/*
 * holes: a region's members can punch holes in its memfd (fallocate
 * PUNCH_HOLE, madvise MADV_REMOVE) whatever the seals; the daemon finds and
 * fills them, logs it, and the other members keep working. Real processes:
 * the punching member is a child with the region's descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

/* A member: hello, then the region's memfd (the first descriptor). */
static int member(const struct test_daemon *td, int *memfd)
{
	int fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;
	int fd = raw_connect(td->socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_hello(fd, fds, &nfds), 0);
	ck_assert_uint_ge(nfds, 1);
	for (size_t i = 1; i < nfds; i++)
		close(fds[i]);
	*memfd = fds[0];
	return fd;
}

static long blocks_of(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return (long) st.st_blocks;
}

/* Wait up to 10 s for fd to have want blocks again. */
static long wait_blocks(int fd, long want)
{
	long now = blocks_of(fd);

	for (int i = 0; i < 1000 && now < want; i++) {
		usleep(10000);
		now = blocks_of(fd);
	}
	return now;
}

/* How many times what is in the daemon's log. */
static int log_count(const struct test_daemon *td, const char *what)
{
	char log[65536];
	int n = 0;

	test_daemon_log(td, log, sizeof(log));
	for (const char *at = strstr(log, what); at != NULL; at = strstr(at + 1, what))
		n++;
	return n;
}

/* Punch [off, off + len) of the region as a member in another process:
 * with fallocate, or madvise(MADV_REMOVE) on its mapping. Returns the
 * child's exit status (0: punched). */
static int punch_in_child(const struct test_daemon *td, off_t off, off_t len, bool madv, bool stay)
{
	int sync[2], memfd, status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(sync), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int conn = member(td, &memfd), rc;
		struct stat st;
		char *p;

		fstat(memfd, &st);
		if (madv) {
			p = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 memfd, 0);
			rc = p == MAP_FAILED ? -1 : madvise(p + off, (size_t) len, MADV_REMOVE);
		} else {
			rc = fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		}
		c = rc == 0 ? 'y' : 'n';
		if (write(sync[1], &c, 1) != 1 || rc != 0)
			_exit(1);
		while (stay)
			pause();
		close(conn);
		_exit(0);
	}
	close(sync[1]);
	ck_assert_int_eq(read(sync[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	close(sync[0]);
	if (!stay) {
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return pid;
}

/* Whatever a member punches, the region is whole again soon -- while the
 * puncher stays connected (the periodic check) and when it leaves -- and
 * another member's block there is usable (zeros, no SIGBUS). */
static void punch_and_repair(const char *config, off_t len)
{
	struct test_daemon td;
	int conn, memfd;
	long whole;
	pid_t puncher;
	time_t start;
	int lines;
	char *p;

	ck_assert_int_eq(test_daemon_start(&td, config, NULL), 0);
	conn = member(&td, &memfd);
	whole = blocks_of(memfd);
	p = mmap(NULL, (size_t) len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0x5a, (size_t) len);

	/* found by the periodic check: the member is still connected */
	puncher = punch_in_child(&td, 0, len, false, true);
	ck_assert_int_eq(wait_blocks(memfd, whole), whole);
	ck_assert_int_eq(log_count(&td, "had been punched out by a member"), 1);
	kill(puncher, SIGKILL);
	waitpid(puncher, NULL, 0);
	ck_assert_int_eq(p[0], 0); /* lost, as the security model says */
	p[0] = 1;                  /* and usable: no SIGBUS */

	/* the same through a mapping, by a member that leaves at once */
	punch_in_child(&td, 0, len, true, false);
	ck_assert_int_eq(wait_blocks(memfd, whole), whole);
	p[len - 1] = 1;

	/* A member punching again and again gets its holes filled every time
	 * but does not flood the log: one line per 10 s at most. */
	start = time(NULL);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(
		    fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), 0);
		ck_assert_int_eq(wait_blocks(memfd, whole), whole);
	}
	lines = log_count(&td, "had been punched out by a member");
	ck_assert_msg(lines <= 2 + (int) ((time(NULL) - start) / 10), "%d lines", lines);

	munmap(p, (size_t) len);
	close(memfd);
	close(conn);
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}

START_TEST(test_holes_punched_out_are_reserved_again)
{
	punch_and_repair("regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 4096; "
			 "blocks = 512; }); });\n",
			 (off_t) 1 << 20);
}
END_TEST

/* On a hugepage region a hole gives huge pages back to the system's pool;
 * only where enough are free (the test never changes vm.nr_hugepages). */
START_TEST(test_holes_hugepage_region)
{
	char line[128];
	long free_pages = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		sscanf(line, "HugePages_Free: %ld", &free_pages);
	if (f != NULL)
		fclose(f);
	if (free_pages < 2) {
		fprintf(stderr, "test_holes_hugepage_region: skipped, %ld free huge pages\n",
			free_pages);
		return;
	}
	punch_and_repair("regions = ({ name = \"r\"; hugepages = true; pools = ({ name = \"p\"; "
			 "block_size = 4096; blocks = 512; }); });\n",
			 (off_t) 2 << 20);
}
END_TEST

Suite *holes_suite(void)
{
	Suite *s = suite_create("holes");
	TCase *tc = tcase_create("holes");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_holes_punched_out_are_reserved_again);
	tcase_add_test(tc, test_holes_hugepage_region);
	suite_add_tcase(s, tc);
	return s;
}
