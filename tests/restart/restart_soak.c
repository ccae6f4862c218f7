/*
 * restart_soak: client processes keep working while the daemon's serving
 * process is killed and replaced under them, and nothing is lost or owned
 * twice (issue 10's "What must hold").
 *
 *   tests/restart/restart_soak        (make check: 16 takeovers under a
 *                                      keeper, then 12 under the fd-store
 *                                      supervisor)
 *   ALLOCATORD_RESTART_LONG=1 tests/restart/restart_soak   (the long run:
 *                                      200 takeovers, 100 of each)
 *   tests/restart/restart_soak [--kills N] [--workers N]
 *                              [--host keeper|supervisor|both]
 *
 * Workers (restart_worker.c, in producer/consumer pairs) run churn,
 * multi-block, group and heap allocations and hand-offs with retain, every
 * other one with a leased cache of pool p, each keeping a shadow model of
 * what it holds and a canary in every unit. The test is the killer; each
 * round it does one of:
 *   - replace the serving process by force. Under a keeper (started from a
 *     copy of allocatord in a temporary directory): SIGKILL of its child,
 *     never of the keeper. Under the fd-store supervisor of tests/common
 *     (systemd's protocol; no keeper): SIGKILL of every allocatord process,
 *     then a new one started with what the dead one stored -- and in half
 *     of those rounds the new one first runs with ALLOCATORD_FAULT_WRITES=N
 *     (N random), so that it kills itself in the middle of applying a
 *     request, up to three times in a row. Some workers are killed in the
 *     gap before the new serving process takes over (the takeover must
 *     reclaim them), and now and then one is stopped (SIGSTOP) across the
 *     takeover and killed after it (its session, detached, must be
 *     reclaimed when its process exits);
 *   - under a keeper, an upgrade: the keeper's binary replaced on disk by
 *     a new copy, then SIGUSR2 to the keeper; the new serving process must
 *     run the new file;
 *   - kill workers only (reclaim on disconnect, as before issue 10).
 * After each round every worker is paused between two calls (after one
 * round trip, so that its session is attached again) and writes its model;
 * soak_check (restart_check.c) holds the daemon against them: sessions and
 * holdings per worker (mc_clients, what `memctl clients --json` prints), no
 * unit allocated by two workers, p's bitmap exactly the models plus the
 * leased caches (0 lost, 0 doubly owned), the heap's counts; the daemon's
 * status must show every takeover and no session left detached. Workers
 * check their canaries before every free and at every pause, and treat any
 * error of a call as a failure: a takeover must be invisible to them beyond
 * a pause. At the end every worker is killed and everything must be free.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/fdstore_sup.h"
#include "tests/common/seed.h"
#include "tests/restart/restart_soak.h"

const char soak_config[] =
    "log_level = \"info\";\n"
    "regions = ({ name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 512; },\n"
    "            { name = \"q\"; block_size = 1536; blocks = 64; align = 512;\n"
    "              client_quota = 8; } );\n"
    "  heaps = ( { name = \"h\"; size = \"1M\"; granule = 64; max_allocs = 1024; } ); });\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; } );\n";

/* Deaths in a row by fault injection at most, then a serving process
 * without it. */
#define FAULT_RUNS 3

struct soak {
	bool supervised; /* the fd-store supervisor, else a keeper */
	struct test_daemon td;
	struct test_sup sup;
	const char *socket;
	mc_client_t *c;
	pid_t pid[SOAK_MAX_WORKERS];
	int nworkers;
	struct test_rng rng;
	uint64_t seed;
	unsigned spawned;
	int takeovers; /* serving processes replaced so far */
	int upgrades, faults, client_kills, gap_kills, detached_kills;
	int ghost_rounds; /* rounds that found a ghost session (soak_check) */
};

static struct soak_shared *shm;
static char snapdir[128], binary[160];
static struct soak *running;
static uint64_t seed_of_run;
static pid_t test_pid;

void soak_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "restart_soak: seed %llu: ", (unsigned long long) seed_of_run);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* The log's last 16 KiB: a long run's failure is at its end. */
static void dump_log(const char *path)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		if (fseek(f, -(long) (sizeof(buf) - 1), SEEK_END) != 0)
			rewind(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	fprintf(stderr, "--- allocatord log (%s) ---\n%s--- end of log ---\n", path, buf);
}

/* On failure the test must not leave its workers and daemon behind. */
static void cleanup(void)
{
	struct soak *s = running;

	if (s == NULL || getpid() != test_pid)
		return;
	for (int w = 0; w < s->nworkers; w++)
		if (s->pid[w] > 0) {
			kill(s->pid[w], SIGKILL);
			waitpid(s->pid[w], NULL, 0);
		}
	if (s->supervised) {
		dump_log(s->sup.log);
		test_sup_fini(&s->sup);
	} else if (s->td.pid > 0) {
		dump_log(s->td.log);
		test_daemon_kill(&s->td);
	}
	unlink(binary);
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
		soak_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		size_t cache = s->spawned % 2 ? 16 : 0;

		mc_close(s->c); /* the child's copy only: it connects its own */
		soak_worker_main(shm, snapdir, i, s->socket, s->seed * 1000003 + s->spawned, cache);
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
		soak_fail("waitpid: %s", strerror(errno));
	s->pid[i] = 0;
	return pid;
}

/* Any worker that ended by itself failed (it said why). */
static void assert_workers_alive(void)
{
	int status;
	pid_t pid;

	/* Only workers: under the supervisor the serving process is a child
	 * too, and its end is for the supervisor to see. */
	for (int w = 0; w < running->nworkers; w++) {
		pid = running->pid[w];
		if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid)
			soak_fail("worker %d ended on its own (status %d): see above", (int) pid,
				  status);
	}
}

static void status_of(struct soak *s, struct mc_status *st)
{
	size_t n;
	int rc = mc_status(s->c, st, NULL, 0, &n);

	if (rc < 0)
		soak_fail("mc_status: %s", strerror(-rc));
}

/* The serving process as its parent knows it, which the daemon must agree
 * is the one answering. */
static pid_t serving_pid(struct soak *s)
{
	pid_t pid = s->supervised ? s->sup.pid : test_daemon_serving_pid(&s->td);
	struct mc_status st;

	status_of(s, &st);
	if (pid <= 0 || (pid_t) st.pid != pid)
		soak_fail("the serving process is %d, the daemon says it is %d", (int) pid,
			  (int) st.pid);
	return pid;
}

/* Wait until a serving process other than old answers (the test's own
 * client resumes its session by itself, like the workers' do), and count
 * the takeover; the daemon counts them too. */
static pid_t await_takeover(struct soak *s, pid_t old)
{
	struct mc_status st;

	for (int tries = 0;; tries++) {
		status_of(s, &st);
		if (st.pid != (uint32_t) old)
			break;
		if (tries > 1000)
			soak_fail("serving process %d still answers 10 s after it was replaced",
				  (int) old);
		sleep_ms(10);
	}
	s->takeovers++;
	return (pid_t) st.pid;
}

/* A copy of the built allocatord at path (replacing what is there at once,
 * as a package manager does: a new file renamed over the old). */
static void install_binary(const char *path)
{
	char src[512], tmp[200], buf[65536];
	int in, out;
	ssize_t r;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	in = open(test_build_path("daemon/allocatord", src, sizeof(src)), O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		soak_fail("copying %s to %s: %s", src, tmp, strerror(errno));
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t) r) != r)
			soak_fail("%s: %s", tmp, strerror(errno));
	if (r < 0 || close(out) != 0 || rename(tmp, path) != 0)
		soak_fail("%s: %s", path, strerror(errno));
	close(in);
}

/* Replace the binary, then SIGUSR2 to the keeper: the serving process
 * hands over and the keeper runs the file now on disk. */
static void upgrade(struct soak *s)
{
	pid_t old = serving_pid(s), now;
	struct stat want, got;
	char exe[64];

	install_binary(binary);
	if (stat(binary, &want) < 0 || kill(s->td.pid, SIGUSR2) < 0)
		soak_fail("upgrade: %s", strerror(errno));
	now = await_takeover(s, old);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int) now);
	if (stat(exe, &got) < 0 || got.st_ino != want.st_ino || got.st_dev != want.st_dev)
		soak_fail("after the upgrade, serving process %d does not run the new %s",
			  (int) now, binary);
	s->upgrades++;
}

/* Under the supervisor: a serving process that kills itself after n
 * writes to the books (0: a plain one); false if it died before READY. */
static bool sup_start(struct soak *s, unsigned n)
{
	char num[16];
	int rc;

	snprintf(num, sizeof(num), "%u", n);
	if (n > 0)
		setenv("ALLOCATORD_FAULT_WRITES", num, 1);
	rc = test_sup_restart(&s->sup);
	unsetenv("ALLOCATORD_FAULT_WRITES");
	if (rc < 0 && n == 0)
		soak_fail("the supervisor could not start a serving process");
	return rc == 0;
}

/* Wait for a serving process started with fault injection to kill itself
 * (the workers' traffic writes to the books); after 10 s, kill it. Then
 * what it stored is collected. */
static void sup_await_fault(struct soak *s)
{
	siginfo_t si;

	for (int tries = 0; tries < 1000; tries++) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t) s->sup.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == s->sup.pid)
			break;
		assert_workers_alive();
		sleep_ms(10);
	}
	test_sup_kill(&s->sup);
}

/* The serving process replaced by force (see the top of the file); some
 * workers die in the gap, and now and then one sleeps through the takeover
 * and dies after it, detached. Returns how many workers died. */
static int replace_serving(struct soak *s, pid_t *killed)
{
	int gap = (int) test_rng_below(&s->rng, 3), stopped = -1, nk = 0;
	pid_t old = serving_pid(s);

	if (test_rng_below(&s->rng, 3) == 0) {
		stopped = (int) test_rng_below(&s->rng, (uint64_t) s->nworkers);
		kill(s->pid[stopped], SIGSTOP);
	}
	if (s->supervised)
		test_sup_kill(&s->sup);
	else if (kill(old, SIGKILL) < 0)
		soak_fail("kill %d: %s", (int) old, strerror(errno));
	for (int i = 0; i < gap; i++) {
		int w = (int) test_rng_below(&s->rng, (uint64_t) s->nworkers);

		if (w == stopped || s->pid[w] == 0)
			continue;
		killed[nk++] = kill_worker(s, w);
		s->gap_kills++;
	}
	if (s->supervised) {
		/* No status asked meanwhile: with nobody else to start the
		 * next one, the test's own call would wait for ever. */
		for (int f = 0; f < FAULT_RUNS && test_rng_below(&s->rng, 2) == 0; f++) {
			if (sup_start(s, 1 + (unsigned) test_rng_below(&s->rng, 400)))
				sup_await_fault(s);
			s->faults++;
		}
		sup_start(s, 0);
	}
	await_takeover(s, old);
	if (stopped >= 0) {
		killed[nk++] = kill_worker(s, stopped);
		s->detached_kills++;
	}
	return nk;
}

/* The daemon's own count: every takeover (under the supervisor, a
 * serving process killed by fault injection may have counted one before it
 * died), no session detached but the ghosts soak_check found, and the
 * keeper that restarts it. */
static void check_status(struct soak *s, int round, int ghosts)
{
	uint64_t least = (uint64_t) s->takeovers, most = least + (uint64_t) s->faults;
	pid_t keeper = s->supervised ? 0 : s->td.pid;
	struct mc_status st;

	status_of(s, &st);
	if (st.takeovers < least || st.takeovers > most || st.detached != (uint32_t) ghosts ||
	    st.keeper_pid != (uint32_t) keeper)
		soak_fail("round %d: status says %llu takeovers (want %llu..%llu), %u detached "
			  "sessions (want %d), keeper %u (want %d)",
			  round, (unsigned long long) st.takeovers, (unsigned long long) least,
			  (unsigned long long) most, st.detached, ghosts, st.keeper_pid,
			  (int) keeper);
}

static void pause_and_check(struct soak *s, int round)
{
	int ghosts;
	const struct soak_view view = {test_pid, s->c, s->nworkers, s->pid, snapdir};
	char path[256];

	__atomic_store_n(&shm->round, round, __ATOMIC_RELEASE);
	for (int w = 0; w < s->nworkers; w++)
		kill(s->pid[w], SIGUSR1);
	for (int w = 0; w < s->nworkers; w++) {
		snprintf(path, sizeof(path), "%s/snap.%d.%d", snapdir, (int) s->pid[w], round);
		for (int tries = 0; access(path, F_OK) != 0; tries++) {
			assert_workers_alive();
			if (tries > 3000)
				soak_fail("round %d: worker %d did not pause", round,
					  (int) s->pid[w]);
			sleep_ms(10);
		}
	}
	ghosts = soak_check(&view, round);
	s->ghost_rounds += ghosts > 0;
	check_status(s, round, ghosts);
	for (int w = 0; w < s->nworkers; w++)
		kill(s->pid[w], SIGUSR2);
}

static void start_daemon(struct soak *s)
{
	if (s->supervised) {
		if (test_sup_start(&s->sup, soak_config) < 0)
			soak_fail("the supervisor could not start allocatord");
		s->socket = s->sup.socket;
		return;
	}
	snprintf(binary, sizeof(binary), "%s/allocatord", snapdir);
	install_binary(binary);
	if (test_daemon_start_keeper(&s->td, binary, soak_config, NULL) < 0)
		soak_fail("cannot start allocatord");
	s->socket = s->td.socket;
}

/* Every worker gone: everything free, then a clean stop. */
static void finish(struct soak *s)
{
	struct mc_info info[4];
	size_t n;
	int rc;

	for (int w = 0; w < s->nworkers; w++)
		kill_worker(s, w);
	for (int tries = 0;; tries++) {
		uint64_t used = 0;

		if (mc_list(s->c, info, 4, &n) < 0)
			soak_fail("mc_list failed");
		for (size_t i = 0; i < n && i < 4; i++)
			used += info[i].used;
		if (used == 0)
			break;
		if (tries > 200)
			soak_fail("with every worker gone, %llu still in use",
				  (unsigned long long) used);
		sleep_ms(10);
	}
	mc_close(s->c);
	if (s->supervised) {
		rc = test_sup_term(&s->sup);
		test_sup_fini(&s->sup);
	} else {
		rc = test_daemon_stop(&s->td);
		unlink(binary);
	}
	if (rc != 0)
		soak_fail("allocatord did not stop cleanly (%d)", rc);
}

/* One run of the soak on a host (keeper or supervisor), `kills` takeovers. */
static void run(bool supervised, int nworkers, int kills, uint64_t seed)
{
	struct soak s = {.supervised = supervised, .nworkers = nworkers, .seed = seed};
	int round = 0;

	memset(shm, 0, sizeof(*shm));
	test_rng_init(&s.rng, seed);
	start_daemon(&s);
	running = &s;
	if (mc_connect(s.socket, &s.c) < 0)
		soak_fail("cannot connect");
	for (int w = 0; w < s.nworkers; w++)
		spawn(&s, w);

	while (s.takeovers < kills) {
		const struct soak_view view = {test_pid, s.c, s.nworkers, s.pid, snapdir};
		pid_t killed[SOAK_MAX_WORKERS];
		uint64_t event;
		int nk = 0;

		sleep_ms(20 + (long) test_rng_below(&s.rng, 80));
		assert_workers_alive();
		event = test_rng_below(&s.rng, 5);
		if (event == 0) {
			killed[nk++] =
			    kill_worker(&s, (int) test_rng_below(&s.rng, (uint64_t) nworkers));
			s.client_kills++;
		} else if (event == 1 && !supervised) {
			upgrade(&s); /* the supervisor restarts instead */
		} else {
			nk = replace_serving(&s, killed);
		}
		for (int w = 0; w < s.nworkers; w++)
			if (s.pid[w] == 0)
				spawn(&s, w);
		soak_assert_gone(&view, killed, nk);
		pause_and_check(&s, round++);
	}
	finish(&s);
	running = NULL;
	printf("restart_soak under %s: %d takeovers (%d upgrades, %d deaths by fault "
	       "injection besides) over %d rounds; workers killed: %d while connected, %d in the "
	       "gap, %d detached; %u started; %llu hand-offs (%llu from a producer killed "
	       "meanwhile); %d rounds saw a ghost session: nothing lost, nothing held twice\n",
	       supervised ? "the fd-store supervisor" : "a keeper", s.takeovers, s.upgrades,
	       s.faults, round, s.client_kills, s.gap_kills, s.detached_kills, s.spawned,
	       (unsigned long long) shm->handoffs, (unsigned long long) shm->orphans,
	       s.ghost_rounds);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kills", required_argument, NULL, 'k'},
	    {"workers", required_argument, NULL, 'w'},
	    {"host", required_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char usage[] = "usage: restart_soak [--kills N>=1] [--workers 2..32, even] "
				    "[--host keeper|supervisor|both]";
	const char *longrun = getenv("ALLOCATORD_RESTART_LONG"), *host = "both";
	int kills = -1, nworkers = 6, opt;
	sigset_t sigs;

	while ((opt = getopt_long(argc, argv, "k:w:h:", opts, NULL)) != -1) {
		if (opt == 'k')
			kills = atoi(optarg);
		else if (opt == 'w')
			nworkers = atoi(optarg);
		else if (opt == 'h')
			host = optarg;
		else
			soak_fail("%s", usage);
	}
	if (nworkers < 2 || nworkers > SOAK_MAX_WORKERS || nworkers % 2 != 0 || kills == 0 ||
	    kills < -1 ||
	    (strcmp(host, "keeper") != 0 && strcmp(host, "supervisor") != 0 &&
	     strcmp(host, "both") != 0))
		soak_fail("%s", usage);
	seed_of_run = test_seed("restart_soak");
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	snprintf(snapdir, sizeof(snapdir), "/tmp/allocatord-restart.XXXXXX");
	if (shm == MAP_FAILED || mkdtemp(snapdir) == NULL)
		soak_fail("setup: %s", strerror(errno));
	/* Workers inherit SIGUSR1/2 blocked until their handlers are in. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	test_pid = getpid();
	atexit(cleanup);
	if (strcmp(host, "supervisor") != 0)
		run(false, nworkers,
		    kills > 0                                      ? kills
		    : longrun != NULL && strcmp(longrun, "1") == 0 ? 100
								   : 16,
		    seed_of_run);
	if (strcmp(host, "keeper") != 0)
		run(true, nworkers,
		    kills > 0                                      ? kills
		    : longrun != NULL && strcmp(longrun, "1") == 0 ? 100
								   : 12,
		    seed_of_run + 1);
	rmdir(snapdir);
	return 0;
}
