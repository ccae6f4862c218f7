/*
 * bench_takeover: books_takeover alone with 1,000,000 holds -- the part of
 * "serving again within 100 ms of the kill" that grows with the books.
 * One daemon (dry-run regions: address space only) is filled with holds by
 * 16 sessions: pool blocks, a tenth of them retained by a second session,
 * and heap allocations; then a second daemon takes its books over, five
 * times, and the best and the median are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/books.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/ops.h"
#include "tests/bench/bench_util.h"

#define SESSIONS 16u
#define BLOCKS   (1u << 20)

static const char config[] =
    "log_level = \"error\";\n"
    "regions = ( { name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 1048576; uid_quota = 1048576; } );\n"
    "  heaps = ( { name = \"h\"; size = \"64M\"; granule = 64; max_allocs = 65536;\n"
    "              uid_quota = \"64M\"; } ); } );\n";

static void fail(const char *what, const struct errbuf *e)
{
	fprintf(stderr, "bench_takeover: %s: %s\n", what, e->msg);
	exit(1);
}

static void build(struct daemon *d, struct dispatch *x)
{
	struct config cfg;
	struct errbuf e;

	if (config_load_string(config, "bench", &cfg, e.msg, sizeof(e.msg)) < 0)
		fail("config", &e);
	log_set_level(cfg.log_level);
	if (daemon_init(d, &cfg, true, NULL, false, &e) < 0)
		fail("daemon_init", &e);
	if (dispatch_init(x, d, &e) < 0)
		fail("dispatch_init", &e);
}

/* Fill d: every block of p held (a tenth twice), 40,000 heap holds. */
static void fill(struct daemon *d, struct dispatch *x)
{
	struct session_creds cr = {.pid = getpid(), .uid = 1000, .gid = 1000};
	struct object *p = object_table_find(&d->table, "p");
	struct object *h = object_table_find(&d->table, "h");
	struct session *s[SESSIONS];
	uint64_t *off = malloc(4096 * sizeof(*off));
	struct errbuf e;

	for (unsigned i = 0; i < SESSIONS; i++) {
		cr.uid = cr.gid = 1000 + i; /* a uid each: retains count to quotas */
		if (daemon_session_start(d, &cr, &s[i], &e) < 0)
			fail("session", &e);
		s[i]->hello_done = true;
	}
	for (unsigned b = 0; b < BLOCKS / 4096; b++) {
		struct session *a = s[b % SESSIONS], *r = s[(b + 1) % SESSIONS];

		if (ops_pool_alloc(&x->ops, a, p, 4096, false, off, &e) < 0)
			fail("alloc", &e);
		if (b % 10 == 0 && ops_retain(&x->ops, r, p, off, 4096, 0, &e) < 0)
			fail("retain", &e);
	}
	for (unsigned i = 0; i < 40000; i++) {
		uint64_t usable;

		if (ops_heap_alloc(&x->ops, s[i % SESSIONS], h, 64 + (i % 16) * 64, 0, off, &usable,
				   &e) < 0)
			fail("heap", &e);
	}
	free(off);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static struct daemon d, d2;
	static struct dispatch x, x2;
	double t[5];
	struct errbuf e;
	uint32_t holds;

	build(&d, &x);
	fill(&d, &x);
	holds = holds_count(&d.holds);
	for (int i = 0; i < 5; i++) {
		double t0;

		build(&d2, &x2);
		t0 = bench_now_ns();
		if (books_takeover(&d2, dup(d.books.fd), &e) < 0)
			fail("books_takeover", &e);
		t[i] = (bench_now_ns() - t0) / 1e6;
		if (holds_count(&d2.holds) != holds) {
			fprintf(stderr, "bench_takeover: %u holds taken over of %u\n",
				holds_count(&d2.holds), holds);
			return 1;
		}
		dispatch_fini(&x2);
		daemon_fini(&d2);
	}
	qsort(t, 5, sizeof(t[0]), cmp_double);
	printf("takeover of the books: %u holds, %u sessions: best %.1f ms, median %.1f ms "
	       "(target: serving again <= 100 ms)\n",
	       holds, SESSIONS, t[0], t[2]);
	dispatch_fini(&x);
	daemon_fini(&d);
	return 0;
}
