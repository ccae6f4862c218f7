/*
 * soak: random traffic from many client processes, SIGKILLed at random and
 * replaced, checked against a shadow model after every round.
 *
 *   tests/client/soak                 (make check: a bounded run)
 *   tests/client/soak --kills 1000    (the long run)
 *   tests/client/soak --cache N       (every worker caches N blocks of p;
 *                                      default: every other worker, 16)
 *
 * Workers allocate pool blocks (directly, through a group, contiguous runs)
 * and heap memory, stamp what they allocated with their pid, publish some of
 * it in a shared ring, retain what others published, and free at random.
 * A worker verifies its stamp before every free: memory handed to two owners
 * at once would be caught there. Workers with a leased cache of pool p
 * (mc_cache) allocate and free p's blocks under p's name, so that the cache
 * serves them, and async frees and retains (mc_free_async, mc_retain_async)
 * are mixed in. Each round:
 *   1. random workers are killed with SIGKILL mid-traffic; the daemon must
 *      drop their sessions at once (gone from mc_clients);
 *   2. new workers replace them;
 *   3. every worker is paused between two calls and writes what it holds;
 *      the daemon must agree exactly: per client (mc_clients; a cached
 *      block is held but not in use) and in total (pool blocks used less
 *      cached, heap allocations and bytes live), so nothing a killed client
 *      held is still allocated and nothing is held twice.
 * At the end every worker is killed, everything must be free, and the
 * daemon's clean stop checks its allocators whole (tlsf_check included).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/seed.h"

static const char soak_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 512; },\n"
    "            { name = \"q\"; block_size = 1536; blocks = 64; align = 512;\n"
    "              client_quota = 8; } );\n"
    "  heaps = ( { name = \"h\"; size = \"1M\"; granule = 64; max_allocs = 1024; } ); });\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; } );\n";

#define MAX_WORKERS 32
#define MAX_UNITS   256
#define RING        256

/* Pool blocks are named through the group g, or through their pool p
 * (those a cache serves). */
enum { POOL = 0, HEAP = 1, POOL_P = 2 };

struct unit {
	int kind;
	uint64_t off;
	uint64_t amount; /* blocks (1) or usable bytes; 0: a retained heap
			  * allocation, whose size the retainer cannot know */
	uint64_t stamp;  /* what we wrote into it; 0: retained, not ours */
};

/* Shared between the test and its workers (MAP_SHARED before fork). Each
 * ring entry is one word, written and read atomically: kind + 1 in the top
 * bits, the offset below (0: empty). */
struct shared {
	uint64_t ring[RING];
	unsigned next;
	int round; /* the snapshot the test asks for */
};

#define RING_KIND_SHIFT 62

static struct shared *shm;
static char snapdir[128];
static volatile sig_atomic_t pause_requested, resume_requested;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "soak: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* --- the worker ------------------------------------------------------- */

struct worker {
	mc_client_t *c;
	struct unit held[MAX_UNITS];
	int n;
	uint64_t seq;
	struct test_rng rng;
};

static void on_pause(int sig)
{
	(void) sig;
	pause_requested = 1;
}

static void on_resume(int sig)
{
	(void) sig;
	resume_requested = 1;
}

static const char *unit_name(int kind)
{
	return kind == POOL ? "g" : kind == POOL_P ? "p" : "h";
}

static uint64_t *stamp_at(struct worker *w, const struct unit *u)
{
	return mc_ptr(w->c, unit_name(u->kind), u->off);
}

static void take(struct worker *w, int kind, uint64_t off, uint64_t amount, bool mine)
{
	struct unit *u = &w->held[w->n++];

	*u = (struct unit){kind, off, amount, 0};
	if (mine) {
		u->stamp = ((uint64_t) getpid() << 32) | ++w->seq;
		*stamp_at(w, u) = u->stamp;
		if (test_rng_below(&w->rng, 2) == 0) {
			unsigned i = __atomic_fetch_add(&shm->next, 1, __ATOMIC_RELAXED) % RING;

			__atomic_store_n(&shm->ring[i],
					 (uint64_t) (kind + 1) << RING_KIND_SHIFT | off,
					 __ATOMIC_RELAXED);
		}
	}
}

static void expect_ok(int rc, const char *what, int allowed1, int allowed2)
{
	if (rc < 0 && rc != allowed1 && rc != allowed2)
		die("worker %d: %s: %s", (int) getpid(), what, strerror(-rc));
}

static void worker_alloc(struct worker *w)
{
	uint64_t off[8], r = test_rng_below(&w->rng, 4);
	size_t n = 1 + test_rng_below(&w->rng, 6), bs;
	int rc;

	if (w->n + 8 > MAX_UNITS)
		return;
	if (r == 0) {
		rc = mc_alloc(w->c, "p", n, off);
		expect_ok(rc, "alloc", -ENOMEM, 0);
		for (size_t i = 0; rc == 0 && i < n; i++)
			take(w, POOL_P, off[i], 1, true);
	} else if (r == 1) {
		n = 1 + test_rng_below(&w->rng, 3);
		rc = mc_group_alloc(w->c, "g", test_rng_below(&w->rng, 2) ? 32 : 1000, n, off, &bs);
		expect_ok(rc, "group alloc", -ENOMEM, -EDQUOT);
		for (size_t i = 0; rc == 0 && i < n; i++)
			take(w, POOL, off[i], 1, true);
	} else if (r == 2) {
		rc = mc_alloc_contiguous(w->c, "p", n, off);
		expect_ok(rc, "contiguous alloc", -ENOMEM, 0);
		for (size_t i = 0; rc == 0 && i < n; i++)
			take(w, POOL, off[0] + i * 64, 1, true);
	} else {
		size_t size = 16 + test_rng_below(&w->rng, 4096);

		rc = mc_heap_alloc(w->c, "h", size, test_rng_below(&w->rng, 2) ? 0 : 256, off);
		expect_ok(rc, "heap alloc", -ENOMEM, 0);
		if (rc == 0)
			take(w, HEAP, off[0], (size + 63) & ~(size_t) 63, true);
	}
}

static void worker_free(struct worker *w)
{
	int k = 1 + (int) test_rng_below(&w->rng, 4);

	while (k-- > 0 && w->n > 0) {
		int i = (int) test_rng_below(&w->rng, (uint64_t) w->n);
		struct unit u = w->held[i];
		int rc;

		if (u.stamp != 0 && *stamp_at(w, &u) != u.stamp)
			die("worker %d: %s offset 0x%llx was overwritten: handed out twice?",
			    (int) getpid(), u.kind == POOL ? "pool" : "heap",
			    (unsigned long long) u.off);
		if (u.kind == HEAP)
			rc = mc_heap_free(w->c, "h", u.off);
		else if (test_rng_below(&w->rng, 4) == 0)
			rc = mc_free_async(w->c, unit_name(u.kind), 1, &u.off);
		else
			rc = mc_free(w->c, unit_name(u.kind), 1, &u.off);
		expect_ok(rc, "free", 1, 1);
		w->held[i] = w->held[--w->n];
	}
}

static void worker_retain(struct worker *w)
{
	uint64_t e = __atomic_load_n(&shm->ring[test_rng_below(&w->rng, RING)], __ATOMIC_RELAXED);
	uint64_t off = e & ((UINT64_C(1) << RING_KIND_SHIFT) - 1);
	int kind = (int) (e >> RING_KIND_SHIFT) - 1;
	int rc;

	if (e == 0 || w->n >= MAX_UNITS)
		return;
	if (test_rng_below(&w->rng, 4) == 0) {
		/* Pipelined: wait for the answer before using the block. */
		rc = mc_retain_async(w->c, unit_name(kind), 1, &off);
		if (rc == 0)
			rc = mc_flush(w->c);
	} else {
		rc = mc_retain(w->c, unit_name(kind), 1, &off);
	}
	/* freed since it was published, already ours, or over q's quota */
	if (rc == -EFAULT || rc == -EALREADY || rc == -EDQUOT)
		return;
	expect_ok(rc, "retain", 1, 1);
	take(w, kind, off, kind == POOL ? 1 : 0, false);
}

/* Between two calls: write what we hold, then wait to be resumed. */
static void worker_snapshot(struct worker *w)
{
	int round = __atomic_load_n(&shm->round, __ATOMIC_ACQUIRE);
	char path[256], tmp[300];
	sigset_t block, old;
	FILE *f;
	int rc;

	/* With SIGUSR1/2 blocked from here to the wait, neither is lost: this
	 * pause is served (a later SIGUSR1 is the next round's), and a resume
	 * that comes before the wait ends it at once. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	pause_requested = 0;
	/* Queued frees must have reached the daemon before it is asked. */
	rc = mc_flush(w->c);
	expect_ok(rc, "flush", 1, 1);
	snprintf(path, sizeof(path), "%s/snap.%d.%d", snapdir, (int) getpid(), round);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		die("worker: %s: %s", tmp, strerror(errno));
	for (int i = 0; i < w->n; i++)
		fprintf(f, "%d %llu %llu\n", w->held[i].kind, (unsigned long long) w->held[i].off,
			(unsigned long long) w->held[i].amount);
	fclose(f);
	rename(tmp, path);
	while (!resume_requested)
		sigsuspend(&old);
	resume_requested = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void worker_main(const char *socket, uint64_t seed, size_t cache)
{
	struct sigaction sa = {.sa_flags = SA_RESTART};
	struct worker w = {.n = 0};
	sigset_t sigs;
	int rc;

	/* SIGUSR1/2 arrive blocked (see spawn): install, then unblock. */
	sa.sa_handler = on_pause;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_resume;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	test_rng_init(&w.rng, seed);
	rc = mc_connect(socket, &w.c);
	if (rc < 0)
		die("worker: connect: %s", strerror(-rc));
	rc = cache > 0 ? mc_cache(w.c, "p", cache) : 0;
	if (rc < 0)
		die("worker: cache: %s", strerror(-rc));
	for (;;) {
		uint64_t r = test_rng_below(&w.rng, 100);

		if (pause_requested) {
			worker_snapshot(&w);
			continue;
		}
		if (r < 40)
			worker_alloc(&w);
		else if (r < 80)
			worker_free(&w);
		else
			worker_retain(&w);
	}
}

/* --- the test ----------------------------------------------------------- */

struct soak {
	struct test_daemon td;
	mc_client_t *c;
	pid_t pid[MAX_WORKERS];
	int nworkers;
	struct test_rng rng;
	uint64_t seed;
	unsigned spawned;
	long cache; /* -1: every other worker caches 16 blocks */
};

/* On failure the test must not leave its workers and daemon behind. */
static struct soak *cleanup_soak;
static pid_t test_pid;

static void cleanup(void)
{
	struct soak *s = cleanup_soak;

	if (s == NULL || getpid() != test_pid)
		return;
	for (int w = 0; w < s->nworkers; w++)
		if (s->pid[w] > 0) {
			kill(s->pid[w], SIGKILL);
			waitpid(s->pid[w], NULL, 0);
		}
	if (s->td.pid > 0)
		test_daemon_kill(&s->td);
	rmdir(snapdir);
}

static void spawn(struct soak *s, int i)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		mc_close(s->c); /* the child's own connection, not ours */
		size_t cache = s->cache >= 0 ? (size_t) s->cache : s->spawned % 2 ? 16 : 0;

		worker_main(s->td.socket, s->seed * 1000003 + s->spawned, cache);
	}
	s->spawned++;
	s->pid[i] = pid;
}

/* Any worker that ended by itself failed (it printed why). */
static void assert_workers_alive(void)
{
	int status;
	pid_t pid = waitpid(-1, &status, WNOHANG);

	if (pid > 0)
		die("worker %d ended on its own (status %d): see above", (int) pid, status);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int client_of(const struct mc_client_info *ci, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (ci[i].pid == (uint32_t) pid)
			return (int) i;
	return -1;
}

/* The killed workers' sessions must be gone at once (the kill is already
 * reaped, so the daemon has seen the socket close or will in its next pass). */
static void assert_sessions_gone(struct soak *s, const pid_t *killed, int nkilled)
{
	struct mc_client_info ci[MAX_WORKERS + 8];
	size_t n;

	for (int tries = 0; tries < 200; tries++) {
		int left = 0;

		if (mc_clients(s->c, ci, MAX_WORKERS + 8, &n, NULL, 0, NULL) < 0)
			die("mc_clients failed");
		for (int k = 0; k < nkilled; k++)
			left += client_of(ci, n, killed[k]) >= 0;
		if (left == 0)
			return;
		sleep_ms(10);
	}
	die("seed %llu: a killed client's session was still there after 2 s",
	    (unsigned long long) s->seed);
}

struct tally {
	uint64_t pool_units, heap_units, heap_bytes;
	bool heap_bytes_known;
};

/* Read every worker's snapshot and hold it against the daemon's view. */
static void check_round(struct soak *s, int round)
{
	static struct unit all[MAX_WORKERS * MAX_UNITS];
	static struct mc_client_info ci[MAX_WORKERS + 8];
	static struct mc_holding hold[(MAX_WORKERS + 8) * 4];
	struct tally total = {0, 0, 0, true};
	uint64_t cached = 0, mapped = 0;
	uint8_t cached_map[512 / 8];
	size_t nall = 0, nci, nh;
	struct mc_stats st;
	size_t n;

	if (mc_clients(s->c, ci, MAX_WORKERS + 8, &nci, hold, (MAX_WORKERS + 8) * 4, &nh) < 0)
		die("mc_clients failed");
	if (nci != (size_t) s->nworkers + 1)
		die("seed %llu round %d: %zu sessions, want %d workers + the test",
		    (unsigned long long) s->seed, round, nci, s->nworkers);
	for (int w = 0; w < s->nworkers; w++) {
		struct tally mine = {0, 0, 0, true};
		uint64_t pool_amount = 0, heap_amount = 0, pool_holds = 0, heap_holds = 0;
		int idx = client_of(ci, nci, s->pid[w]);
		char path[256];
		unsigned long long off, amount;
		int kind;
		FILE *f;

		snprintf(path, sizeof(path), "%s/snap.%d.%d", snapdir, (int) s->pid[w], round);
		f = fopen(path, "r");
		if (f == NULL || idx < 0)
			die("round %d: no snapshot or session for worker %d", round,
			    (int) s->pid[w]);
		while (fscanf(f, "%d %llu %llu", &kind, &off, &amount) == 3) {
			all[nall++] = (struct unit){kind, off, amount, 0};
			if (kind != HEAP) {
				mine.pool_units++;
			} else {
				mine.heap_units++;
				mine.heap_bytes += amount;
				mine.heap_bytes_known &= amount != 0;
			}
		}
		fclose(f);
		unlink(path);
		for (size_t h = 0; h < nh; h++) {
			if (hold[h].client_id != ci[idx].id)
				continue;
			if (strcmp(hold[h].name, "h") == 0) {
				heap_amount = hold[h].amount;
				heap_holds = hold[h].holds;
			} else {
				/* A block in the worker's cache is held, not in
				 * use. Asked only once every worker is paused: a
				 * running one could make the daemon take cached
				 * blocks back. */
				pool_amount += hold[h].amount - hold[h].cached;
				pool_holds += hold[h].holds - hold[h].cached;
				cached += hold[h].cached;
			}
		}
		if (pool_amount != mine.pool_units || pool_holds != mine.pool_units ||
		    heap_holds != mine.heap_units ||
		    (mine.heap_bytes_known && heap_amount != mine.heap_bytes))
			die("seed %llu round %d: worker %d uses %llu blocks, %llu heap allocations "
			    "(%llu bytes); the daemon says %llu (not cached), %llu (%llu bytes)",
			    (unsigned long long) s->seed, round, (int) s->pid[w],
			    (unsigned long long) mine.pool_units,
			    (unsigned long long) mine.heap_units,
			    (unsigned long long) mine.heap_bytes, (unsigned long long) pool_amount,
			    (unsigned long long) heap_holds, (unsigned long long) heap_amount);
	}
	/* Distinct units across workers: what the allocators must have out. */
	for (size_t i = 0; i < nall; i++) {
		bool first = true;
		uint64_t amount = all[i].amount;

		for (size_t j = 0; j < nall; j++) {
			if (j == i || (all[j].kind == HEAP) != (all[i].kind == HEAP) ||
			    all[j].off != all[i].off)
				continue;
			if (j < i)
				first = false;
			if (all[j].amount > amount)
				amount = all[j].amount;
		}
		if (!first)
			continue;
		if (all[i].kind != HEAP) {
			total.pool_units++;
		} else {
			total.heap_units++;
			total.heap_bytes += amount;
			total.heap_bytes_known &= amount != 0;
		}
	}
	/* Cached blocks of p (the daemon's map of what the lease pages list
	 * and their sessions hold): as many as the workers say they cache,
	 * and in use once each, also when a stale retain holds one too. p is
	 * the region's first object: block i is at offset i * 64. */
	if (mc_pool_cache_map(s->c, "p", 0, 512, cached_map, NULL) < 0)
		die("mc_pool_cache_map failed");
	for (uint64_t b = 0; b < 512; b++) {
		bool in_units = false;

		if (!((cached_map[b / 8] >> (b % 8)) & 1))
			continue;
		mapped++;
		for (size_t i = 0; i < nall && !in_units; i++)
			in_units = all[i].kind != HEAP && all[i].off == b * 64;
		total.pool_units += !in_units;
	}
	if (mapped != cached)
		die("seed %llu round %d: %llu blocks in the cache map, %llu cached by clients",
		    (unsigned long long) s->seed, round, (unsigned long long) mapped,
		    (unsigned long long) cached);
	if (mc_stats(s->c, "g", &st, 1, &n) < 0 || st.info.used != total.pool_units)
		die("seed %llu round %d: %llu pool blocks in use, workers hold or cache %llu",
		    (unsigned long long) s->seed, round, (unsigned long long) st.info.used,
		    (unsigned long long) total.pool_units);
	if (mc_stats(s->c, "h", &st, 1, &n) < 0 || st.live != total.heap_units ||
	    (total.heap_bytes_known && st.info.used != total.heap_bytes))
		die("seed %llu round %d: heap has %llu allocations (%llu bytes), workers hold %llu "
		    "(%llu)",
		    (unsigned long long) s->seed, round, (unsigned long long) st.live,
		    (unsigned long long) st.info.used, (unsigned long long) total.heap_units,
		    (unsigned long long) total.heap_bytes);
}

static void pause_and_check(struct soak *s, int round)
{
	char path[256];

	__atomic_store_n(&shm->round, round, __ATOMIC_RELEASE);
	for (int w = 0; w < s->nworkers; w++)
		kill(s->pid[w], SIGUSR1);
	for (int w = 0; w < s->nworkers; w++) {
		snprintf(path, sizeof(path), "%s/snap.%d.%d", snapdir, (int) s->pid[w], round);
		for (int tries = 0; access(path, F_OK) != 0; tries++) {
			assert_workers_alive();
			if (tries > 3000)
				die("round %d: worker %d did not pause", round, (int) s->pid[w]);
			sleep_ms(10);
		}
	}
	check_round(s, round);
	for (int w = 0; w < s->nworkers; w++)
		kill(s->pid[w], SIGUSR2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kills", required_argument, NULL, 'k'},
	    {"workers", required_argument, NULL, 'w'},
	    {"cache", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	bool valgrind = test_under_valgrind();
	int kills = valgrind ? 4 : 40, done = 0, round = 0, opt;
	struct soak s = {.nworkers = valgrind ? 3 : 6, .cache = -1};
	struct mc_info info[4];
	sigset_t sigs;
	size_t n;

	while ((opt = getopt_long(argc, argv, "k:w:c:", opts, NULL)) != -1) {
		if (opt == 'k')
			kills = atoi(optarg);
		else if (opt == 'w')
			s.nworkers = atoi(optarg);
		else if (opt == 'c')
			s.cache = atol(optarg);
		else
			die("usage: soak [--kills N] [--workers N] [--cache N]");
	}
	if (s.nworkers < 2 || s.nworkers > MAX_WORKERS || kills < 1 || s.cache < -1 || s.cache > 64)
		die("usage: soak [--kills N>=1] [--workers 2..%d] [--cache 0..64]", MAX_WORKERS);
	s.seed = test_seed("soak");
	test_rng_init(&s.rng, s.seed);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	snprintf(snapdir, sizeof(snapdir), "/tmp/allocatord-soak.XXXXXX");
	if (shm == MAP_FAILED || mkdtemp(snapdir) == NULL)
		die("setup: %s", strerror(errno));
	/* Workers inherit SIGUSR1/2 blocked until their handlers are in. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if (test_daemon_start(&s.td, soak_config, NULL) < 0)
		die("cannot start allocatord");
	test_pid = getpid();
	cleanup_soak = &s;
	atexit(cleanup);
	if (mc_connect(s.td.socket, &s.c) < 0)
		die("cannot connect");
	for (int w = 0; w < s.nworkers; w++)
		spawn(&s, w);

	while (done < kills) {
		pid_t killed[2];
		int k = 1 + (int) test_rng_below(&s.rng, 2);

		sleep_ms(20 + (long) test_rng_below(&s.rng, 80));
		assert_workers_alive();
		for (int i = 0; i < k; i++) {
			int w = (int) test_rng_below(&s.rng, (uint64_t) s.nworkers);

			killed[i] = s.pid[w];
			kill(s.pid[w], SIGKILL);
			if (waitpid(s.pid[w], NULL, 0) != s.pid[w])
				die("waitpid: %s", strerror(errno));
			spawn(&s, w);
			done++;
		}
		assert_sessions_gone(&s, killed, k);
		pause_and_check(&s, round++);
	}

	for (int w = 0; w < s.nworkers; w++) {
		kill(s.pid[w], SIGKILL);
		waitpid(s.pid[w], NULL, 0);
		s.pid[w] = 0;
	}
	sleep_ms(100);
	if (mc_list(s.c, info, 4, &n) < 0)
		die("mc_list failed");
	for (size_t i = 0; i < n && i < 4; i++)
		if (info[i].used != 0)
			die("seed %llu: with every worker gone, %s still has %llu in use",
			    (unsigned long long) s.seed, info[i].name,
			    (unsigned long long) info[i].used);
	mc_close(s.c);
	/* A clean stop checks the allocators whole (tlsf_check included). */
	if (test_daemon_stop(&s.td) != 0)
		die("allocatord did not stop cleanly");
	printf(
	    "soak: %d kills over %d rounds, %u workers started: nothing lost, nothing held twice\n",
	    done, round, s.spawned);
	return 0;
}
