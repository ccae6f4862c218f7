/*
 * bench_restart: issue 10's two numbers, each against its target; prints,
 * never fails on time.
 *
 *   make bench          (or: tests/bench/bench_restart [-q], from the build tree)
 *
 * 1. Takeover: one client holds 1,000,000 blocks (a pool of 1 Mi blocks of
 *    64 B: a 64 MiB region), and the serving process is SIGKILLed. From
 *    the kill: (i) a new client's hello answered (the listening socket
 *    lives in the keeper, so its connect waits in the backlog: this is
 *    "serving again"), (ii) the first request of the client that holds the
 *    million blocks, which notices the hang-up, dials again with its
 *    backoff and resumes its session. Also the new serving process's own
 *    figure from its log ("rebuilt in X ms"). Target: serving again within
 *    100 ms.
 * 2. Round trip: alloc + free of one block, one client, against this tree
 *    and against the tree before issue 10 in the same run (alternating
 *    batches; ALLOCATORD_BASELINE = that tree's allocatord, which `make
 *    bench-baseline` builds in build-old/), p50 ratio. Target: <= 1.1x.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/bench/bench_util.h"
#include "tests/common/daemon_proc.h"

#define HOLDS 1000000u

static const char takeover_config[] =
    "log_level = \"info\";\n"
    "regions = ({ name = \"bench\"; max_holds = 1100000;\n"
    "  pools = ({ name = \"p\"; block_size = 64; blocks = 1048576; }); });\n";

static const char rtt_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"bench\";\n"
    "  pools = ({ name = \"blocks\"; block_size = 256; blocks = 65536; }); });\n";

static void must(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench_restart: %s: %s\n", what, strerror(-rc));
		exit(2);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* --- 1. takeover ---------------------------------------------------------- */

struct probe {
	const char *socket;
	mc_client_t *held; /* the client with the million holds; NULL: a new one */
	double done_ns;
};

static void *probe_run(void *arg)
{
	struct probe *p = arg;
	mc_client_t *c;
	uint64_t off;

	if (p->held == NULL) {
		must(mc_connect(p->socket, &c), "connect after the kill");
		p->done_ns = bench_now_ns();
		mc_close(c);
	} else {
		must(mc_alloc(p->held, "p", 1, &off), "alloc after the kill");
		p->done_ns = bench_now_ns();
		must(mc_free(p->held, "p", 1, &off), "free");
	}
	return NULL;
}

/* The last "rebuilt in X ms" of the daemon's log, or -1. */
static double rebuilt_ms(const struct test_daemon *td)
{
	static char log[1 << 16];
	const char *at, *last = NULL;
	double ms = -1;

	test_daemon_log(td, log, sizeof(log));
	for (at = strstr(log, "rebuilt in "); at != NULL; at = strstr(at + 1, "rebuilt in "))
		last = at;
	if (last != NULL)
		sscanf(last, "rebuilt in %lf", &ms);
	return ms;
}

static void takeover(int rounds)
{
	double serving[16], resumed[16], rebuilt[16];
	struct test_daemon td;
	mc_client_t *c;
	uint64_t *off = malloc(HOLDS * sizeof(*off));

	if (off == NULL || test_daemon_start_keeper(&td, NULL, takeover_config, NULL) < 0)
		exit(1);
	must(mc_connect(td.socket, &c), "connect");
	must(mc_alloc(c, "p", HOLDS, off), "alloc 1,000,000 blocks");
	for (int r = 0; r < rounds; r++) {
		struct probe fresh = {td.socket, NULL, 0}, held = {td.socket, c, 0};
		pid_t pid = test_daemon_serving_pid(&td);
		pthread_t a, b;
		double t0;

		/* The keeper delays restarts after serving processes that die
		 * within a second of their start (keeper.h): each kill here is
		 * of a process older than that, as a crash in service is. */
		usleep(1100 * 1000);
		t0 = bench_now_ns();
		kill(pid, SIGKILL);
		pthread_create(&a, NULL, probe_run, &fresh);
		pthread_create(&b, NULL, probe_run, &held);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		serving[r] = (fresh.done_ns - t0) / 1e6;
		resumed[r] = (held.done_ns - t0) / 1e6;
		rebuilt[r] = rebuilt_ms(&td);
	}
	must(mc_free(c, "p", HOLDS, off), "free");
	mc_close(c);
	free(off);
	test_daemon_stop(&td);
	qsort(serving, (size_t) rounds, sizeof(double), cmp_double);
	qsort(resumed, (size_t) rounds, sizeof(double), cmp_double);
	qsort(rebuilt, (size_t) rounds, sizeof(double), cmp_double);
	printf("takeover with %u holds, SIGKILL of the serving process, %d rounds (min / median / "
	       "max)\n",
	       HOLDS, rounds);
	printf("  kill -> a new client served      %7.1f / %7.1f / %7.1f ms   (target <= 100 ms)\n",
	       serving[0], serving[rounds / 2], serving[rounds - 1]);
	printf("  kill -> the holder's next call   %7.1f / %7.1f / %7.1f ms   (its backoff "
	       "included)\n",
	       resumed[0], resumed[rounds / 2], resumed[rounds - 1]);
	printf("  books rebuilt (daemon's log)     %7.1f / %7.1f / %7.1f ms\n", rebuilt[0],
	       rebuilt[rounds / 2], rebuilt[rounds - 1]);
}

/* --- 2. round trip against the tree before issue 10 ------------------------ */

/* n alloc+free pairs of one block, each pair's ns into t. */
static void pairs(mc_client_t *c, double *t, size_t n)
{
	uint64_t off;

	for (size_t i = 0; i < n; i++) {
		double t0 = bench_now_ns();

		must(mc_alloc(c, "blocks", 1, &off), "alloc");
		must(mc_free(c, "blocks", 1, &off), "free");
		t[i] = bench_now_ns() - t0;
	}
}

static void round_trip(const char *baseline, int quick)
{
	size_t batch = quick ? 1000 : 5000, batches = quick ? 4 : 10, n = batch * batches;
	double *tn = malloc(n * sizeof(double)), *to = malloc(n * sizeof(double));
	struct test_daemon now, old;
	mc_client_t *cn, *co;

	/* Both without a keeper: the baseline has none, and takes the
	 * keeper's start (no --no-keeper, which it would refuse). */
	if (tn == NULL || to == NULL || test_daemon_start(&now, rtt_config, NULL) < 0 ||
	    test_daemon_start_keeper(&old, baseline, rtt_config, NULL) < 0)
		exit(1);
	must(mc_connect(now.socket, &cn), "connect");
	must(mc_connect(old.socket, &co), "connect to the baseline");
	pairs(cn, tn, batch); /* warm up both */
	pairs(co, to, batch);
	for (size_t b = 0; b < batches; b++) {
		pairs(cn, tn + b * batch, batch);
		pairs(co, to + b * batch, batch);
	}
	mc_close(cn);
	mc_close(co);
	test_daemon_stop(&now);
	test_daemon_stop(&old);
	qsort(tn, n, sizeof(double), cmp_double);
	qsort(to, n, sizeof(double), cmp_double);
	printf("request round trip, alloc+free of 1 block, one client, %zu pairs each, "
	       "alternating\n",
	       n);
	printf("  this tree (books kept takeover-safe)  p50 %7.1f us  p99 %7.1f us\n",
	       tn[n / 2] / 1e3, tn[n * 99 / 100] / 1e3);
	printf("  the tree before issue 10              p50 %7.1f us  p99 %7.1f us\n",
	       to[n / 2] / 1e3, to[n * 99 / 100] / 1e3);
	printf("  p50 ratio %.3fx  (target <= 1.1x)\n", tn[n / 2] / to[n / 2]);
	free(tn);
	free(to);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	const char *baseline = getenv("ALLOCATORD_BASELINE");

	bench_find_build_tree("bench_restart");
	takeover(quick ? 3 : 7);
	if (baseline == NULL || access(baseline, X_OK) != 0)
		printf(
		    "round trip vs the tree before issue 10: skipped (ALLOCATORD_BASELINE is not "
		    "an allocatord; `make bench-baseline` builds one in build-old/)\n");
	else
		round_trip(baseline, quick);
	return 0;
}
