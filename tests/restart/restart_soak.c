/*
 * restart_soak: client processes keep working while the daemon's serving
 * process is killed and replaced under them, and nothing is lost or owned
 * twice (issue 10's "What must hold").
 *
 *   tests/restart/restart_soak              (make check: 24 takeovers)
 *   ALLOCATORD_RESTART_LONG=1 tests/restart/restart_soak   (the long run: 200)
 *   tests/restart/restart_soak --kills N [--workers N]
 *
 * Workers (restart_worker.c, in producer/consumer pairs) run churn,
 * multi-block and heap allocations and hand-offs with retain, every other
 * one with a leased cache of pool p, each keeping a shadow model of what it
 * holds and a canary in every unit. The test is the killer. Each round it
 * does one of:
 *   - SIGKILL the serving process (the keeper's child, never the keeper),
 *     sometimes also killing workers right away, in the gap before the new
 *     serving process takes over (the takeover must reclaim them), and
 *     sometimes one worker stopped (SIGSTOP) across the takeover and killed
 *     after it (its session, detached, must be reclaimed when it exits);
 *   - kill workers only (reclaim on disconnect, as before issue 10).
 * After each round every worker is paused between two calls (after one
 * round trip, so its session is attached again) and writes its model; the
 * test checks: the daemon lists exactly the live workers (plus itself), no
 * session detached; per worker the daemon's holdings (mc_clients, what
 * `memctl clients --json` prints) equal its model; across models no unit
 * is allocated by two workers (a retain is the only way to share one); pool
 * p's allocation bitmap is exactly the union of the models and the leased
 * caches (0 lost, 0 doubly owned); the heap's live allocations and bytes
 * equal the models'. Workers check their canaries before every free and at
 * every pause, and treat any error of a call as a failure: a takeover must
 * be invisible to them beyond a pause. At the end every worker is killed,
 * everything must be free, and the keeper must stop cleanly (the serving
 * process checks its books and allocators whole as it stops).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
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
#include "tests/restart/restart_soak.h"

const char soak_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 512; },\n"
    "            { name = \"q\"; block_size = 1536; blocks = 64; align = 512;\n"
    "              client_quota = 8; } );\n"
    "  heaps = ( { name = \"h\"; size = \"1M\"; granule = 64; max_allocs = 1024; } ); });\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; } );\n";

struct soak {
	struct test_daemon td;
	mc_client_t *c;
	pid_t pid[SOAK_MAX_WORKERS];
	int nworkers;
	struct test_rng rng;
	uint64_t seed;
	unsigned spawned;
	int takeovers; /* serving processes replaced so far */
	int client_kills, gap_kills, detached_kills;
};

static struct soak_shared *shm;
static char snapdir[128];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static struct soak *cleanup_soak;
static pid_t test_pid;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "restart_soak: ");
	if (cleanup_soak != NULL)
		fprintf(stderr, "seed %llu: ", (unsigned long long) cleanup_soak->seed);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* On failure the test must not leave its workers and daemon behind. */
static void cleanup(void)
{
	struct soak *s = cleanup_soak;
	char log[16384];

	if (s == NULL || getpid() != test_pid)
		return;
	for (int w = 0; w < s->nworkers; w++)
		if (s->pid[w] > 0) {
			kill(s->pid[w], SIGKILL);
			waitpid(s->pid[w], NULL, 0);
		}
	if (s->td.pid > 0) {
		test_daemon_log(&s->td, log, sizeof(log));
		fprintf(stderr, "--- allocatord log ---\n%s--- end of log ---\n", log);
		test_daemon_kill(&s->td);
	}
	rmdir(snapdir);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void spawn(struct soak *s, int i)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		size_t cache = s->spawned % 2 ? 16 : 0;

		mc_close(s->c); /* the child's copy only: it connects its own */
		soak_worker_main(shm, snapdir, i, s->td.socket, s->seed * 1000003 + s->spawned,
				 cache);
	}
	s->spawned++;
	s->pid[i] = pid;
}

/* Worker i dies: its generation moves first, so that its partner never
 * mistakes the reclaim of its holds for a double owner (restart_soak.h). */
static pid_t kill_worker(struct soak *s, int i)
{
	pid_t pid = s->pid[i];

	__atomic_add_fetch(&shm->gen[i], 1, __ATOMIC_SEQ_CST);
	kill(pid, SIGKILL);
	if (waitpid(pid, NULL, 0) != pid)
		die("waitpid: %s", strerror(errno));
	s->pid[i] = 0;
	return pid;
}

/* Any worker that ended by itself failed (it said why). */
static void assert_workers_alive(void)
{
	int status;
	pid_t pid = waitpid(-1, &status, WNOHANG);

	if (pid > 0)
		die("worker %d ended on its own (status %d): see above", (int) pid, status);
}

static void status_of(struct soak *s, struct mc_status *st)
{
	size_t n;
	int rc = mc_status(s->c, st, NULL, 0, &n);

	if (rc < 0)
		die("mc_status: %s", strerror(-rc));
}

/* The serving process now, from the daemon itself. */
static pid_t serving_pid(struct soak *s)
{
	struct mc_status st;

	status_of(s, &st);
	return (pid_t) st.pid;
}

/* Wait until a serving process other than old answers. The test's own
 * client resumes its session by itself, like the workers' do. */
static void await_takeover(struct soak *s, pid_t old)
{
	for (int tries = 0; serving_pid(s) == old; tries++) {
		if (tries > 1000)
			die("serving process %d still answers 10 s after SIGKILL", (int) old);
		sleep_ms(10);
	}
	s->takeovers++;
}

static int client_of(const struct mc_client_info *ci, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (ci[i].pid == (uint32_t) pid)
			return (int) i;
	return -1;
}

/* The killed workers' sessions must go: at once for a worker killed while
 * connected, at the takeover for one killed in the gap, and when its
 * process exits for one whose session was detached. */
static void assert_sessions_gone(struct soak *s, const pid_t *killed, int nkilled)
{
	struct mc_client_info ci[SOAK_MAX_WORKERS + 8];
	size_t n;

	for (int tries = 0; tries < 200; tries++) {
		int left = 0;

		if (mc_clients(s->c, ci, SOAK_MAX_WORKERS + 8, &n, NULL, 0, NULL) < 0)
			die("mc_clients failed");
		for (int k = 0; k < nkilled; k++)
			left += client_of(ci, n, killed[k]) >= 0;
		if (left == 0)
			return;
		sleep_ms(10);
	}
	die("a killed client's session was still there 2 s later");
}

struct unit_rec {
	int worker, kind, origin;
	uint64_t off, amount, stamp;
};

static int cmp_unit(const void *a, const void *b)
{
	const struct unit_rec *x = a, *y = b;
	int hx = x->kind == SOAK_H, hy = y->kind == SOAK_H;

	if (hx != hy)
		return hx - hy;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* One worker's snapshot into all[]; its counts into *pool / *heap / *bytes. */
static size_t read_snapshot(struct soak *s, int w, int round, struct unit_rec *all, uint64_t *pool,
			    uint64_t *heap, uint64_t *bytes)
{
	char path[256];
	unsigned long long off, amount, stamp;
	int kind, origin;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/snap.%d.%d", snapdir, (int) s->pid[w], round);
	f = fopen(path, "r");
	if (f == NULL)
		die("round %d: no snapshot of worker %d", round, (int) s->pid[w]);
	*pool = *heap = *bytes = 0;
	while (fscanf(f, "%d %llu %llu %d %llu", &kind, &off, &amount, &origin, &stamp) == 5) {
		all[n++] = (struct unit_rec){w, kind, origin, off, amount, stamp};
		if (kind == SOAK_H) {
			++*heap;
			*bytes += amount;
		} else {
			++*pool;
		}
	}
	fclose(f);
	unlink(path);
	return n;
}

/* Per worker: what the daemon says it holds against its model. Returns
 * the blocks the workers' leased caches hold. */
static uint64_t check_clients(struct soak *s, int round, struct unit_rec *all, size_t *nall)
{
	static struct mc_client_info ci[SOAK_MAX_WORKERS + 8];
	static struct mc_holding hold[(SOAK_MAX_WORKERS + 8) * 4];
	uint64_t cached = 0;
	size_t nci, nh;

	if (mc_clients(s->c, ci, SOAK_MAX_WORKERS + 8, &nci, hold, (SOAK_MAX_WORKERS + 8) * 4,
		       &nh) < 0)
		die("mc_clients failed");
	if (nci != (size_t) s->nworkers + 1)
		die("round %d: %zu sessions, want %d workers + the test", round, nci, s->nworkers);
	*nall = 0;
	for (int w = 0; w < s->nworkers; w++) {
		uint64_t pool, heap, bytes, d_pool = 0, d_pool_holds = 0, d_heap = 0, d_bytes = 0;
		int idx = client_of(ci, nci, s->pid[w]);

		if (idx < 0)
			die("round %d: worker %d has no session", round, (int) s->pid[w]);
		*nall += read_snapshot(s, w, round, all + *nall, &pool, &heap, &bytes);
		for (size_t h = 0; h < nh; h++) {
			if (hold[h].client_id != ci[idx].id)
				continue;
			if (strcmp(hold[h].name, "h") == 0) {
				d_bytes = hold[h].amount;
				d_heap = hold[h].holds;
			} else {
				/* A block in the worker's cache is held, not in
				 * use (every worker is paused: none can move). */
				d_pool += hold[h].amount - hold[h].cached;
				d_pool_holds += hold[h].holds - hold[h].cached;
				cached += hold[h].cached;
			}
		}
		if (d_pool != pool || d_pool_holds != pool || d_heap != heap || d_bytes != bytes)
			die("round %d: worker %d holds %llu blocks, %llu heap allocations (%llu "
			    "bytes); the daemon says %llu blocks not cached, %llu (%llu bytes)",
			    round, (int) s->pid[w], (unsigned long long) pool,
			    (unsigned long long) heap, (unsigned long long) bytes,
			    (unsigned long long) d_pool, (unsigned long long) d_heap,
			    (unsigned long long) d_bytes);
	}
	return cached;
}

/* Across models: a unit is allocated by one worker at most and held at
 * most once per worker; p's bitmap is exactly the models plus the caches;
 * g's and h's use equal the distinct units. */
static void check_union(struct soak *s, int round, struct unit_rec *all, size_t nall,
			uint64_t cached)
{
	uint8_t map[SOAK_P_BLOCKS / 8], cache_map[SOAK_P_BLOCKS / 8], want[SOAK_P_BLOCKS / 8];
	uint64_t pool_units = 0, heap_units = 0, heap_bytes = 0, mapped = 0;
	struct mc_stats st;
	size_t n;

	memset(want, 0, sizeof(want));
	qsort(all, nall, sizeof(*all), cmp_unit);
	for (size_t i = 0; i < nall;) {
		size_t j = i;
		int allocs = 0;
		uint64_t amount = 0;

		for (; j < nall && cmp_unit(&all[i], &all[j]) == 0; j++) {
			allocs += all[j].origin == SOAK_ALLOCATED;
			amount = all[j].amount > amount ? all[j].amount : amount;
			for (size_t k = i; k < j; k++)
				if (all[k].worker == all[j].worker)
					die("round %d: worker %d holds %s offset 0x%llx twice",
					    round, (int) s->pid[all[j].worker],
					    all[j].kind == SOAK_H ? "heap" : "pool",
					    (unsigned long long) all[j].off);
		}
		if (allocs > 1)
			die("round %d: %s offset 0x%llx was allocated by %d workers at once "
			    "(workers %d and %d)",
			    round, all[i].kind == SOAK_H ? "heap" : "pool",
			    (unsigned long long) all[i].off, allocs, (int) s->pid[all[i].worker],
			    (int) s->pid[all[i + 1].worker]);
		if (all[i].kind == SOAK_H) {
			heap_units++;
			heap_bytes += amount;
		} else {
			pool_units++;
			if (all[i].off < SOAK_P_BLOCKS * SOAK_P_BS)
				want[all[i].off / SOAK_P_BS / 8] |= 1u
								    << (all[i].off / SOAK_P_BS % 8);
		}
		i = j;
	}
	if (mc_pool_map(s->c, "p", 0, SOAK_P_BLOCKS, map, NULL) < 0 ||
	    mc_pool_cache_map(s->c, "p", 0, SOAK_P_BLOCKS, cache_map, NULL) < 0)
		die("mc_pool_map failed");
	for (uint64_t b = 0; b < SOAK_P_BLOCKS; b++) {
		bool in_map = (map[b / 8] >> (b % 8)) & 1,
		     in_cache = (cache_map[b / 8] >> (b % 8)) & 1;
		bool in_models = (want[b / 8] >> (b % 8)) & 1;

		mapped += in_cache;
		/* a cached block is counted in use once, even when a stale
		 * retain also holds it */
		pool_units += in_cache && !in_models;
		if (in_map != (in_models || in_cache))
			die("round %d: block %llu of p is %s in the daemon but %s by the workers "
			    "(%s)",
			    round, (unsigned long long) b, in_map ? "allocated" : "free",
			    in_models || in_cache ? "held" : "not held",
			    in_map ? "lost: nobody holds it" : "it could be handed out twice");
	}
	if (mapped != cached)
		die("round %d: %llu blocks in p's cache map, %llu cached by clients", round,
		    (unsigned long long) mapped, (unsigned long long) cached);
	if (mc_stats(s->c, "g", &st, 1, &n) < 0 || st.info.used != pool_units)
		die("round %d: %llu pool blocks in use, workers hold or cache %llu", round,
		    (unsigned long long) st.info.used, (unsigned long long) pool_units);
	if (mc_stats(s->c, "h", &st, 1, &n) < 0 || st.live != heap_units ||
	    st.info.used != heap_bytes)
		die("round %d: the heap has %llu allocations (%llu bytes), workers hold %llu "
		    "(%llu)",
		    round, (unsigned long long) st.live, (unsigned long long) st.info.used,
		    (unsigned long long) heap_units, (unsigned long long) heap_bytes);
}

static void pause_and_check(struct soak *s, int round)
{
	static struct unit_rec all[SOAK_MAX_WORKERS * SOAK_MAX_UNITS];
	char path[256];
	uint64_t cached;
	size_t nall;

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
	cached = check_clients(s, round, all, &nall);
	check_union(s, round, all, nall, cached);
	for (int w = 0; w < s->nworkers; w++)
		kill(s->pid[w], SIGUSR2);
}

/* Kill the serving process; some workers die in the gap, and now and then
 * one sleeps through the takeover and dies after it, detached. */
static int kill_serving(struct soak *s, pid_t *killed)
{
	int gap = (int) test_rng_below(&s->rng, 3), stopped = -1, nk = 0;
	pid_t old = serving_pid(s);

	if (test_rng_below(&s->rng, 3) == 0) {
		stopped = (int) test_rng_below(&s->rng, (uint64_t) s->nworkers);
		kill(s->pid[stopped], SIGSTOP);
	}
	if (kill(old, SIGKILL) < 0)
		die("kill %d: %s", (int) old, strerror(errno));
	for (int i = 0; i < gap; i++) {
		int w = (int) test_rng_below(&s->rng, (uint64_t) s->nworkers);

		if (w == stopped || s->pid[w] == 0)
			continue;
		killed[nk++] = kill_worker(s, w);
		s->gap_kills++;
	}
	await_takeover(s, old);
	if (stopped >= 0) {
		killed[nk++] = kill_worker(s, stopped);
		s->detached_kills++;
	}
	return nk;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kills", required_argument, NULL, 'k'},
	    {"workers", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *longrun = getenv("ALLOCATORD_RESTART_LONG");
	int kills = longrun != NULL && strcmp(longrun, "1") == 0 ? 200 : 24, round = 0, opt;
	struct soak s = {.nworkers = 6};
	struct mc_info info[4];
	sigset_t sigs;
	size_t n;

	while ((opt = getopt_long(argc, argv, "k:w:", opts, NULL)) != -1) {
		if (opt == 'k')
			kills = atoi(optarg);
		else if (opt == 'w')
			s.nworkers = atoi(optarg);
		else
			die("usage: restart_soak [--kills N] [--workers N]");
	}
	if (s.nworkers < 2 || s.nworkers > SOAK_MAX_WORKERS || s.nworkers % 2 != 0 || kills < 1)
		die("usage: restart_soak [--kills N>=1] [--workers 2..%d, even]", SOAK_MAX_WORKERS);
	s.seed = test_seed("restart_soak");
	test_rng_init(&s.rng, s.seed);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	snprintf(snapdir, sizeof(snapdir), "/tmp/allocatord-restart.XXXXXX");
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

	while (s.takeovers < kills) {
		pid_t killed[SOAK_MAX_WORKERS];
		int nk = 0;

		sleep_ms(20 + (long) test_rng_below(&s.rng, 80));
		assert_workers_alive();
		if (test_rng_below(&s.rng, 4) == 0) {
			int w = (int) test_rng_below(&s.rng, (uint64_t) s.nworkers);

			killed[nk++] = kill_worker(&s, w);
			s.client_kills++;
		} else {
			nk = kill_serving(&s, killed);
		}
		for (int w = 0; w < s.nworkers; w++)
			if (s.pid[w] == 0)
				spawn(&s, w);
		assert_sessions_gone(&s, killed, nk);
		pause_and_check(&s, round++);
	}

	for (int w = 0; w < s.nworkers; w++)
		kill_worker(&s, w);
	for (int tries = 0;; tries++) {
		uint64_t used = 0;

		if (mc_list(s.c, info, 4, &n) < 0)
			die("mc_list failed");
		for (size_t i = 0; i < n && i < 4; i++)
			used += info[i].used;
		if (used == 0)
			break;
		if (tries > 200)
			die("with every worker gone, %llu still in use", (unsigned long long) used);
		sleep_ms(10);
	}
	mc_close(s.c);
	if (test_daemon_stop(&s.td) != 0)
		die("allocatord did not stop cleanly");
	printf("restart_soak: %d takeovers over %d rounds; workers killed: %d while connected, %d "
	       "in the gap, %d detached; %u started; %llu hand-offs (%llu from a producer killed "
	       "meanwhile): nothing lost, nothing held twice\n",
	       s.takeovers, round, s.client_kills, s.gap_kills, s.detached_kills, s.spawned,
	       (unsigned long long) shm->handoffs, (unsigned long long) shm->orphans);
	return 0;
}
