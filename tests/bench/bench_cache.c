/*
 * bench_cache: what the leased caches and the pipelined calls buy, each
 * against its own baseline measured in the same run. Prints ratios and
 * request counts (mc_status().requests, not noisy); never fails on time.
 *
 *   make bench           (or: tests/bench/bench_cache [-q], from the build tree)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/bench/bench_util.h"
#include "tests/common/daemon_proc.h"

static const char bench_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"bench\";\n"
    "  pools = ({ name = \"blocks\"; block_size = 256; blocks = 65536; }); });\n";

#define POOL "blocks"
#define M    64 /* cache size */

static void must(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench_cache: %s: %s\n", what, strerror(-rc));
		exit(2);
	}
}

/* Requests the daemon has served, less the status request asking. */
static uint64_t requests(mc_client_t *c)
{
	struct mc_status st;
	size_t n;

	must(mc_status(c, &st, NULL, 0, &n), "status");
	return st.requests;
}

/* ns per mc_alloc + mc_free pair of one block. */
static double pair_ns(mc_client_t *c, size_t n)
{
	uint64_t off;
	double t0 = bench_now_ns();

	for (size_t i = 0; i < n; i++) {
		must(mc_alloc(c, POOL, 1, &off), "alloc");
		must(mc_free(c, POOL, 1, &off), "free");
	}
	return (bench_now_ns() - t0) / (double) n;
}

/* A producer: batches of `batch` blocks allocated, filled, freed. Daemon
 * requests per block over `blocks` blocks. */
static double producer_requests(mc_client_t *c, size_t batch, size_t blocks)
{
	uint64_t off[M];
	uint64_t r0 = requests(c), r1;

	for (size_t done = 0; done < blocks; done += batch) {
		must(mc_alloc(c, POOL, batch, off), "alloc");
		for (size_t i = 0; i < batch; i++)
			memset(mc_ptr(c, POOL, off[i]), (int) i, 256);
		must(mc_free(c, POOL, batch, off), "free");
	}
	r1 = requests(c);
	return (double) (r1 - r0 - 1) / (double) blocks;
}

/* Producer -> consumer hand-off of `blocks` blocks, the application's calls
 * the same in both runs: the producer allocates and fills one block per
 * call, the consumer retains each batch of 64 and waits for the answer, then
 * the producer frees its blocks and the consumer frees them after reading,
 * one per call. Without caches every call is a request (3 + 1/64 per
 * block); with caches and async calls the producer's blocks come from its
 * cache, the frees of shared blocks are batched, and the consumer's last
 * frees recycle into its own cache. Daemon requests per block. */
static double handoff_requests(mc_client_t *p, mc_client_t *q, size_t blocks, int async)
{
	uint64_t off[64];
	uint64_t r0 = requests(p), r1;

	for (size_t done = 0; done < blocks; done += 64) {
		for (int i = 0; i < 64; i++) {
			must(mc_alloc(p, POOL, 1, &off[i]), "producer alloc");
			memset(mc_ptr(p, POOL, off[i]), i, 256);
		}
		if (async) {
			must(mc_retain_async(q, POOL, 64, off), "retain_async");
			must(mc_flush(q), "consumer flush");
		} else {
			must(mc_retain(q, POOL, 64, off), "retain");
		}
		for (int i = 0; i < 64; i++)
			must(async ? mc_free_async(p, POOL, 1, &off[i])
				   : mc_free(p, POOL, 1, &off[i]),
			     "producer free");
		for (int i = 0; i < 64; i++)
			must(async ? mc_free_async(q, POOL, 1, &off[i])
				   : mc_free(q, POOL, 1, &off[i]),
			     "consumer free");
	}
	must(mc_flush(p), "producer flush");
	must(mc_flush(q), "consumer flush");
	r1 = requests(p);
	return (double) (r1 - r0 - 1) / (double) blocks;
}

/* Blocks retained one call each, synchronous or pipelined: ns per block. */
static double retain_ns(mc_client_t *p, mc_client_t *q, size_t blocks, int async)
{
	uint64_t *off = malloc(blocks * sizeof(*off));
	double t0, t;

	must(mc_alloc(p, POOL, blocks, off), "alloc");
	t0 = bench_now_ns();
	for (size_t i = 0; i < blocks; i++)
		must(async ? mc_retain_async(q, POOL, 1, &off[i]) : mc_retain(q, POOL, 1, &off[i]),
		     "retain");
	must(mc_flush(q), "flush");
	t = (bench_now_ns() - t0) / (double) blocks;
	must(mc_free(q, POOL, blocks, off), "consumer free");
	must(mc_free(p, POOL, blocks, off), "producer free");
	must(mc_flush(q), "flush");
	must(mc_flush(p), "flush");
	free(off);
	return t;
}

struct hammer {
	const char *socket;
	size_t cache;
};

/* One client process of the aggregate: alloc+free pairs until end, with a
 * cache of h->cache blocks (0: off). */
static uint64_t hammer(void *arg, double end)
{
	const struct hammer *h = arg;
	mc_client_t *c;
	uint64_t off, n = 0;

	if (mc_connect(h->socket, &c) < 0 || mc_cache(c, POOL, h->cache) < 0)
		_exit(3);
	while (bench_now_ns() < end) {
		for (int i = 0; i < 64; i++) {
			mc_alloc(c, POOL, 1, &off);
			mc_free(c, POOL, 1, &off);
		}
		n += 64;
	}
	mc_close(c);
	return n;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	size_t n_off = quick ? 2000 : 20000, n_on = quick ? 200000 : 5000000;
	double off_ns, on_ns, prod16, prod64, h_sync, h_async, r_sync, r_async, agg_off, agg_on;
	struct test_daemon td;
	mc_client_t *c, *q;

	bench_find_build_tree("bench_cache");
	if (test_daemon_start(&td, bench_config, NULL) < 0)
		return 1;
	if (mc_connect(td.socket, &c) < 0 || mc_connect(td.socket, &q) < 0) {
		fprintf(stderr, "bench_cache: cannot connect\n");
		test_daemon_stop(&td);
		return 1;
	}
	pair_ns(c, n_off / 10); /* warm up */
	off_ns = pair_ns(c, n_off);
	must(mc_cache(c, POOL, M), "cache");
	pair_ns(c, n_on / 10);
	on_ns = pair_ns(c, n_on);
	prod16 = producer_requests(c, 16, quick ? 16384 : 262144);
	prod64 = producer_requests(c, M, quick ? 16384 : 262144);
	must(mc_cache(c, POOL, 0), "cache off");
	h_sync = handoff_requests(c, q, quick ? 4096 : 65536, 0);
	must(mc_cache(c, POOL, M), "cache");
	must(mc_cache(q, POOL, M), "cache");
	h_async = handoff_requests(c, q, quick ? 4096 : 65536, 1);
	must(mc_cache(c, POOL, 0), "cache off");
	must(mc_cache(q, POOL, 0), "cache off");
	r_sync = retain_ns(c, q, quick ? 2000 : 20000, 0);
	r_async = retain_ns(c, q, quick ? 2000 : 20000, 1);
	mc_close(q);
	mc_close(c);

	printf("leased caches and pipelined calls, one daemon, cache of %d blocks\n", M);
	printf("  mc_alloc+mc_free 1 block, cache off  %10.1f ns per pair\n", off_ns);
	printf("  mc_alloc+mc_free 1 block, cache on   %10.1f ns per pair   ratio %7.0fx  (target "
	       ">= 500x)\n",
	       on_ns, off_ns / on_ns);
	printf("  producer, batches of 16: %.4f daemon requests per block  (2/M = %.4f)\n", prod16,
	       2.0 / M);
	printf("  producer, batches of %d: %.4f daemon requests per block  (2/M = %.4f)\n", M,
	       prod64, 2.0 / M);
	printf("  hand-off, no cache, sync: %.3f requests per block; caches + async: %.4f   %.0fx "
	       "fewer  (target >= 20x)\n",
	       h_sync, h_async, h_sync / h_async);
	printf("  retain 1 block per call: sync %.0f ns, pipelined %.0f ns per block   %.1fx  "
	       "(target >= 5x)\n",
	       r_sync, r_async, r_sync / r_async);
	agg_off = bench_procs_rate(4, quick ? 0.5 : 3.0, hammer, &(struct hammer){td.socket, 0});
	agg_on = bench_procs_rate(4, quick ? 0.5 : 3.0, hammer, &(struct hammer){td.socket, M});
	printf("aggregate, 4 client processes on %ld cores: %.0f blocks/s allocated+freed with "
	       "caches, %.0f without  (target >= 1000000)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), agg_on, agg_off);
	return test_daemon_stop(&td) == 0 ? 0 : 1;
}
