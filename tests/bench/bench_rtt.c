/*
 * bench_rtt: request round trips through a real allocatord, next to a raw
 * Unix-socket ping-pong of the same frame sizes measured in the same run.
 * Prints ratios; never passes or fails on time.
 *
 *   make bench           (or: tests/bench/bench_rtt [-q], from the build tree)
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/bench/bench_util.h"
#include "tests/common/daemon_proc.h"

static const char bench_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"bench\";\n"
    "  pools = ({ name = \"blocks\"; block_size = 256; blocks = 65536; }); });\n";

/* Frame sizes of an alloc-1 request and its reply, as the client sends and
 * the daemon answers them (4-byte header included). */
#define REQ_BYTES   20
#define REPLY_BYTES 24

static int quick;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

struct dist {
	double p50, p99;
};

static struct dist summarise(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct dist){v[n / 2], v[n * 99 / 100]};
}

static int full_io(int fd, void *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = writing ? write(fd, (char *) buf + done, len - done)
				    : read(fd, (char *) buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t) r;
	}
	return 0;
}

/* The baseline: a child that answers every REQ_BYTES frame with a
 * REPLY_BYTES frame, blocking reads and writes, nothing else. */
static struct dist raw_pingpong(size_t n)
{
	double *t = malloc(n * sizeof(*t));
	char req[REQ_BYTES] = {0}, rep[REPLY_BYTES] = {0};
	int sv[2];
	pid_t pid;
	struct dist d;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (full_io(sv[1], req, sizeof(req), 0) == 0 &&
		       full_io(sv[1], rep, sizeof(rep), 1) == 0)
			;
		_exit(0);
	}
	close(sv[1]);
	for (size_t i = 0; i < n; i++) {
		double t0 = bench_now_ns();

		full_io(sv[0], req, sizeof(req), 1);
		full_io(sv[0], rep, sizeof(rep), 0);
		t[i] = bench_now_ns() - t0;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	d = summarise(t, n);
	free(t);
	return d;
}

/* alloc and free of `count` blocks: each call is one round trip. */
static void daemon_rtt(mc_client_t *c, size_t count, size_t n, struct dist *alloc,
		       struct dist *pair)
{
	double *ta = malloc(n * sizeof(*ta)), *tp = malloc(n * sizeof(*tp));
	uint64_t off[64];

	for (size_t i = 0; i < n; i++) {
		double t0 = bench_now_ns(), t1;

		if (mc_alloc(c, "blocks", count, off) < 0)
			exit(2);
		t1 = bench_now_ns();
		if (mc_free(c, "blocks", count, off) < 0)
			exit(2);
		ta[i] = t1 - t0;
		tp[i] = bench_now_ns() - t0;
	}
	*alloc = summarise(ta, n);
	*pair = summarise(tp, n);
	free(ta);
	free(tp);
}

/* One client process of the aggregate: alloc+free pairs until end. */
static uint64_t hammer(void *socket, double end)
{
	mc_client_t *c;
	uint64_t off, n = 0;

	if (mc_connect(socket, &c) < 0)
		_exit(3);
	while (bench_now_ns() < end) {
		mc_alloc(c, "blocks", 1, &off);
		mc_free(c, "blocks", 1, &off);
		n += 2;
	}
	mc_close(c);
	return n;
}

int main(int argc, char **argv)
{
	size_t n = 20000;
	struct dist raw, a1, p1, a64, p64;
	double one, four;
	struct test_daemon td;
	mc_client_t *c;

	quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	if (quick)
		n = 2000;
	bench_find_build_tree("bench_rtt");
	if (test_daemon_start(&td, bench_config, NULL) < 0)
		return 1;
	if (mc_connect(td.socket, &c) < 0) {
		fprintf(stderr, "bench_rtt: cannot connect\n");
		test_daemon_stop(&td);
		return 1;
	}
	/* warm up both paths, then measure them back to back */
	daemon_rtt(c, 1, n / 10, &a1, &p1);
	raw = raw_pingpong(n / 10);
	raw = raw_pingpong(n);
	daemon_rtt(c, 1, n, &a1, &p1);
	daemon_rtt(c, 64, n, &a64, &p64);
	mc_close(c);

	printf("request round trip through allocatord, one client, %zu samples each\n", n);
	printf("  raw unix-socket ping-pong (%d B / %d B)  p50 %7.1f us  p99 %7.1f us\n", REQ_BYTES,
	       REPLY_BYTES, raw.p50 / 1e3, raw.p99 / 1e3);
	printf("  alloc 1 block                      p50 %7.1f us  p99 %7.1f us   p50 ratio %.2fx  "
	       "(target <= 1.5x)\n",
	       a1.p50 / 1e3, a1.p99 / 1e3, a1.p50 / raw.p50);
	printf("  alloc+free 1 block (2 requests)    p50 %7.1f us  p99 %7.1f us   vs 2 ping-pongs "
	       "%.2fx\n",
	       p1.p50 / 1e3, p1.p99 / 1e3, p1.p50 / (2 * raw.p50));
	printf("  alloc 64 blocks                    p50 %7.1f us  p99 %7.1f us   vs 1 block %.2fx "
	       " (target <= 1.5x)\n",
	       a64.p50 / 1e3, a64.p99 / 1e3, a64.p50 / a1.p50);
	printf(
	    "  alloc+free 64 blocks               p50 %7.1f us                  vs 1 block %.2fx\n",
	    p64.p50 / 1e3, p64.p50 / p1.p50);
	one = bench_procs_rate(1, quick ? 0.5 : 3.0, hammer, td.socket);
	four = bench_procs_rate(4, quick ? 0.5 : 3.0, hammer, td.socket);
	printf("aggregate, 4 client processes on %ld cores: %.0f requests/s (1 process: %.0f)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), four, one);
	return test_daemon_stop(&td) == 0 ? 0 : 1;
}
