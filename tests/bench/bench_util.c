/*
 * bench_util: the pieces the client benchmarks share (see bench_util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench_util.h"

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

void bench_find_build_tree(const char *prog)
{
	char self[512];
	ssize_t len;
	char *cut;

	if (getenv("top_builddir") != NULL)
		return;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[len > 0 ? len : 0] = '\0';
	cut = strstr(self, "/tests/bench/");
	if (cut == NULL) {
		fprintf(stderr, "%s: set top_builddir to the build tree\n", prog);
		exit(1);
	}
	*cut = '\0';
	setenv("top_builddir", self, 1);
}

double bench_procs_rate(int procs, double seconds, uint64_t (*work)(void *arg, double end),
			void *arg)
{
	double end = bench_now_ns() + seconds * 1e9, total = 0;
	int pipes[2];

	if (pipe(pipes) < 0)
		exit(1);
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			uint64_t n;

			close(pipes[0]);
			n = work(arg, end);
			if (write(pipes[1], &n, sizeof(n)) != sizeof(n))
				_exit(4);
			_exit(0);
		}
	}
	close(pipes[1]);
	for (int p = 0; p < procs; p++) {
		uint64_t n;

		if (read(pipes[0], &n, sizeof(n)) == sizeof(n))
			total += (double) n;
		wait(NULL);
	}
	close(pipes[0]);
	return total / seconds;
}
