/*
 * cache_model: leased caches under random traffic from several client
 * processes against one real daemon, held against a model of who owns what.
 *
 * Each worker is a forked process with its own connection and its own
 * caches (of different sizes; one worker has them off). It allocates,
 * frees (sync and async), publishes blocks in a shared ring, retains what
 * others published (sync, or async and mc_flush), hands blocks off, tries
 * double frees, and resizes its caches, at random. Every block it allocates
 * gets an owner stamp (pid << 32 | sequence) in its first word and a canary
 * derived from it in every other word; the worker checks them before every
 * free and now and then while it holds the block. A retainer checks that
 * the block carries the stamp it was handed, from the retain to its free.
 * Hand-off follows the documented order: the consumer claims a ring entry,
 * retains and waits for the reply, then marks it done; the producer frees a
 * published block only once the entry is done (or withdrawn unclaimed).
 *
 * The model (what each worker holds, as its own, or retained) lives in a
 * MAP_SHARED page. At each checkpoint every worker pauses between two calls
 * after mc_flush; once all are paused (nobody's request in flight, so the
 * daemon takes nothing back from any cache) each reports its cache counts,
 * and the test asserts: no block in two workers' "mine" sets, every held
 * block still carries its stamp and canary, and the daemon's books equal
 * the model -- per client (mc_clients: held = model + cached) and per pool
 * (mc_stats used = the union of the models + every cache; every model block
 * set in the map). At the end: nothing in use, and no cached block was ever
 * found retained (stale 0: under the rule a retained block is never cached).
 *
 * Pools are small (256 and 64 blocks, the second with a client quota), so
 * that -ENOMEM, -EDQUOT and the daemon taking cached blocks back happen.
 *
 * The seed (ALLOCATORD_SEED repeats it) fixes each process's choices; the
 * interleaving is the scheduler's. Failures name the seed and what broke.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/client/cache_procs.h"
#include "tests/client/check_client.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/seed.h"

#define NWORKERS     4
#define MAX_HELD     160
#define MAX_RETAINED 24
#define RING_EACH    16
#define NRING        (NWORKERS * RING_EACH)
#define NRECENT      16

/* Caches per worker and pool (0: off). Worker 2 has none. */
static const uint32_t worker_cache[NWORKERS][CPROC_NPOOLS] = {{64, 8}, {16, 16}, {0, 0}, {128, 4}};
/* Most blocks of each pool a worker keeps as its own: together more than
 * the pool, so that the pool runs dry. */
static const uint32_t mine_cap[CPROC_NPOOLS] = {100, 16};

enum { MINE = 1, RETAINED = 2 };

struct mblock {
	uint64_t off;
	uint64_t stamp; /* MINE: what the worker wrote; RETAINED: what it was handed */
	uint8_t pool;
	uint8_t kind;
	int16_t ring; /* MINE: the ring entry that publishes it, -1 none */
};

struct counts {
	uint64_t ops, allocated, enomem, edquot, retained, handed_off, double_frees, resizes;
};

/* A worker's part of the shared page: written by the worker, read by the
 * test while the worker is paused (acked == the checkpoint) or gone. */
struct wstate {
	struct mblock held[MAX_HELD];
	uint32_t n;
	uint32_t paused; /* the checkpoint it paused for */
	uint32_t acked;  /* the checkpoint it reported its caches for */
	struct mc_cache_stats cs[CPROC_NPOOLS];
	struct counts k;
	int failed;
	char why[512];
};

/* A ring entry: its producer fills it while EMPTY, then READY; a consumer
 * CLAIMs it, retains, and marks it DONE (or READY again when the retain
 * was refused); the producer empties it before it frees the block. */
enum { EMPTY, READY, CLAIMED, DONE };

struct ring_entry {
	uint32_t state;
	uint32_t pool;
	uint64_t off, stamp;
};

struct model_shm {
	uint32_t round;      /* the checkpoint asked for */
	uint32_t all_paused; /* every worker paused for it */
	uint32_t resume;     /* the last checkpoint checked */
	uint32_t stop;
	struct ring_entry ring[NRING];
	struct wstate w[NWORKERS];
};

/* --- a worker ----------------------------------------------------------- */

struct worker {
	int idx;
	mc_client_t *c;
	struct test_rng rng;
	struct model_shm *shm;
	struct wstate *st;
	uint64_t seq;
	uint64_t recent[NRECENT]; /* offsets it freed lately, for double frees */
	uint8_t recent_pool[NRECENT];
	unsigned nrecent;
};

static void wfail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Say why in the shared page and leave: the test reports it with the seed. */
static void wfail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->st->why, sizeof(w->st->why), fmt, ap);
	va_end(ap);
	__atomic_store_n(&w->st->failed, 1, __ATOMIC_RELEASE);
	_exit(1);
}

static void wexpect(struct worker *w, int rc, const char *what, const char *pool)
{
	if (rc < 0)
		wfail(w, "%s of %s: %d (%s)", what, pool, rc, strerror(-rc));
}

static uint64_t *block_ptr(struct worker *w, int pool, uint64_t off)
{
	uint64_t *p = mc_ptr(w->c, cproc_pool_name[pool], off);

	if (p == NULL)
		wfail(w, "offset 0x%llx of %s is outside its region", (unsigned long long) off,
		      cproc_pool_name[pool]);
	return p;
}

static void check_held(struct worker *w, const struct mblock *b, const char *when)
{
	char why[160];

	if (cproc_damage(block_ptr(w, b->pool, b->off), cproc_pool_bs[b->pool], b->stamp, why,
			 sizeof(why)) != 0)
		wfail(w, "%s: block 0x%llx of %s (%s): %s", when, (unsigned long long) b->off,
		      cproc_pool_name[b->pool], b->kind == MINE ? "mine" : "retained", why);
}

static int find_held(const struct worker *w, int pool, uint64_t off)
{
	for (uint32_t i = 0; i < w->st->n; i++)
		if (w->st->held[i].pool == pool && w->st->held[i].off == off)
			return (int) i;
	return -1;
}

static uint32_t count_held(const struct worker *w, int pool, int kind)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < w->st->n; i++)
		n += w->st->held[i].pool == pool && w->st->held[i].kind == kind;
	return n;
}

static int pick_pool(struct worker *w)
{
	return test_rng_below(&w->rng, 4) == 0 ? CPROC_Q : CPROC_P;
}

static void take_mine(struct worker *w, int pool, uint64_t off)
{
	struct mblock *b;

	if (find_held(w, pool, off) >= 0)
		wfail(w, "allocation of %s handed out block 0x%llx, which this worker holds",
		      cproc_pool_name[pool], (unsigned long long) off);
	b = &w->st->held[w->st->n];
	*b = (struct mblock){.off = off, .pool = (uint8_t) pool, .kind = MINE, .ring = -1};
	b->stamp = ((uint64_t) getpid() << 32) | (uint32_t) ++w->seq;
	cproc_stamp(block_ptr(w, pool, off), cproc_pool_bs[pool], b->stamp);
	w->st->n++;
	w->st->k.allocated++;
}

static void op_alloc(struct worker *w)
{
	int pool = pick_pool(w);
	bool contiguous = pool == CPROC_P && test_rng_below(&w->rng, 8) == 0;
	size_t n = 1 + test_rng_below(&w->rng, pool == CPROC_P ? 8 : 4);
	uint64_t off[8];
	int rc;

	if (w->st->n + n > MAX_HELD || count_held(w, pool, MINE) + n > mine_cap[pool])
		return;
	rc = contiguous ? mc_alloc_contiguous(w->c, cproc_pool_name[pool], n, off)
			: mc_alloc(w->c, cproc_pool_name[pool], n, off);
	if (rc == -ENOMEM) {
		w->st->k.enomem++;
		return;
	}
	if (rc == -EDQUOT && pool == CPROC_Q) {
		w->st->k.edquot++;
		return;
	}
	wexpect(w, rc, contiguous ? "mc_alloc_contiguous" : "mc_alloc", cproc_pool_name[pool]);
	for (size_t i = 0; i < n; i++)
		take_mine(w, pool, contiguous ? off[0] + i * cproc_pool_bs[pool] : off[i]);
}

/* Take a published block out of the ring before it is freed: at once when
 * nobody claimed it, else once its consumer has its retain's reply. */
static void withdraw(struct worker *w, struct mblock *b)
{
	struct ring_entry *e;
	int64_t deadline = cproc_now_ms() + 20000;

	if (b->ring < 0)
		return;
	e = &w->shm->ring[b->ring];
	for (;;) {
		uint32_t s = READY;

		if (__atomic_compare_exchange_n(&e->state, &s, EMPTY, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
		if (s == DONE) {
			w->st->k.handed_off++;
			__atomic_store_n(&e->state, EMPTY, __ATOMIC_RELEASE);
			break;
		}
		if (cproc_now_ms() > deadline)
			wfail(w, "a consumer claimed block 0x%llx of %s and never finished",
			      (unsigned long long) b->off, cproc_pool_name[b->pool]);
		sched_yield();
	}
	b->ring = -1;
}

static void remember_freed(struct worker *w, int pool, uint64_t off)
{
	unsigned i = w->nrecent++ % NRECENT;

	w->recent[i] = off;
	w->recent_pool[i] = (uint8_t) pool;
}

/* Free 1..4 random blocks of one pool and kind, in one call. */
static void op_free(struct worker *w, int kind)
{
	int pool = pick_pool(w);
	uint32_t idx[MAX_HELD], m = 0, take;
	uint64_t off[4];
	size_t want = 1 + test_rng_below(&w->rng, 4);
	bool async = test_rng_below(&w->rng, 2) == 0;
	int rc;

	for (uint32_t i = 0; i < w->st->n; i++)
		if (w->st->held[i].pool == pool && w->st->held[i].kind == kind)
			idx[m++] = i;
	take = m < want ? m : (uint32_t) want;
	if (take == 0)
		return;
	for (uint32_t k = 0; k < take; k++) {
		uint32_t j = k + (uint32_t) test_rng_below(&w->rng, m - k), t = idx[k];

		idx[k] = idx[j];
		idx[j] = t;
	}
	/* Highest index first: removing by moving the last entry down then
	 * never moves one still to be freed. */
	for (uint32_t k = 1; k < take; k++)
		for (uint32_t j = k; j > 0 && idx[j] > idx[j - 1]; j--) {
			uint32_t t = idx[j];

			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	for (uint32_t k = 0; k < take; k++) {
		struct mblock *b = &w->st->held[idx[k]];

		withdraw(w, b);
		check_held(w, b, "before its free");
		off[k] = b->off;
		remember_freed(w, pool, b->off);
		*b = w->st->held[--w->st->n];
	}
	rc = async ? mc_free_async(w->c, cproc_pool_name[pool], take, off)
		   : mc_free(w->c, cproc_pool_name[pool], take, off);
	wexpect(w, rc, async ? "mc_free_async" : "mc_free", cproc_pool_name[pool]);
}

static void op_publish(struct worker *w)
{
	struct mblock *b;
	struct ring_entry *e = NULL;
	int slot = -1;

	if (w->st->n == 0)
		return;
	b = &w->st->held[test_rng_below(&w->rng, w->st->n)];
	if (b->kind != MINE || b->ring >= 0)
		return;
	for (int i = 0; i < RING_EACH && slot < 0; i++) {
		e = &w->shm->ring[w->idx * RING_EACH + i];
		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == EMPTY)
			slot = w->idx * RING_EACH + i;
	}
	if (slot < 0)
		return;
	e->pool = b->pool;
	e->off = b->off;
	e->stamp = b->stamp;
	__atomic_store_n(&e->state, READY, __ATOMIC_RELEASE);
	b->ring = (int16_t) slot;
}

/* Claim up to 3 READY entries of other workers for pool; their indices
 * into got. */
static uint32_t claim(struct worker *w, int pool, int *got)
{
	uint32_t n = 0;
	size_t want = 1 + test_rng_below(&w->rng, 3);

	for (int tries = 0; tries < 12 && n < want; tries++) {
		int i = (int) test_rng_below(&w->rng, NRING);
		struct ring_entry *e = &w->shm->ring[i];
		uint32_t s = READY;

		if (i / RING_EACH == w->idx ||
		    !__atomic_compare_exchange_n(&e->state, &s, CLAIMED, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		if (e->pool != (uint32_t) pool) {
			__atomic_store_n(&e->state, READY, __ATOMIC_RELEASE);
			continue;
		}
		got[n++] = i;
	}
	return n;
}

/* The consumer side of a hand-off: claim, retain (sync, or async and
 * mc_flush: the reply must be in before the producer may free), check the
 * data is what was published, mark the entries done. */
static void op_retain(struct worker *w)
{
	int pool = pick_pool(w), got[3];
	bool async = test_rng_below(&w->rng, 2) == 0;
	uint64_t off[3];
	uint32_t n;
	int rc;

	if (count_held(w, CPROC_P, RETAINED) + count_held(w, CPROC_Q, RETAINED) + 3 >
		MAX_RETAINED ||
	    w->st->n + 3 > MAX_HELD)
		return;
	n = claim(w, pool, got);
	if (n == 0)
		return;
	for (uint32_t i = 0; i < n; i++)
		off[i] = w->shm->ring[got[i]].off;
	if (async) {
		/* Nothing else may be pending: mc_flush then speaks for the
		 * retain alone. */
		wexpect(w, mc_flush(w->c), "mc_flush before mc_retain_async",
			cproc_pool_name[pool]);
		rc = mc_retain_async(w->c, cproc_pool_name[pool], n, off);
		wexpect(w, rc, "mc_retain_async", cproc_pool_name[pool]);
		rc = mc_flush(w->c);
	} else {
		rc = mc_retain(w->c, cproc_pool_name[pool], n, off);
	}
	if (rc == -EDQUOT && pool == CPROC_Q) {
		w->st->k.edquot++;
		for (uint32_t i = 0; i < n; i++)
			__atomic_store_n(&w->shm->ring[got[i]].state, READY, __ATOMIC_RELEASE);
		return;
	}
	wexpect(w, rc, async ? "mc_retain_async + mc_flush" : "mc_retain", cproc_pool_name[pool]);
	for (uint32_t i = 0; i < n; i++) {
		struct ring_entry *e = &w->shm->ring[got[i]];
		struct mblock *b = &w->st->held[w->st->n];

		if (find_held(w, pool, e->off) >= 0)
			wfail(w, "retained block 0x%llx of %s, which this worker already holds",
			      (unsigned long long) e->off, cproc_pool_name[pool]);
		*b = (struct mblock){.off = e->off,
				     .stamp = e->stamp,
				     .pool = (uint8_t) pool,
				     .kind = RETAINED,
				     .ring = -1};
		check_held(w, b, "just retained");
		w->st->n++;
		w->st->k.retained++;
		__atomic_store_n(&e->state, DONE, __ATOMIC_RELEASE);
	}
}

/* Free a block this worker freed lately and does not hold now: refused
 * (-EFAULT, -EPERM), and nothing changes. */
static void op_double_free(struct worker *w)
{
	unsigned i;
	int pool, rc;
	uint64_t off;
	bool run = test_rng_below(&w->rng, 2) == 0;

	if (w->nrecent == 0)
		return;
	i = (unsigned) test_rng_below(&w->rng, w->nrecent < NRECENT ? w->nrecent : NRECENT);
	pool = w->recent_pool[i];
	off = w->recent[i];
	if (find_held(w, pool, off) >= 0)
		return;
	rc = run ? mc_free_contiguous(w->c, cproc_pool_name[pool], off, 1)
		 : mc_free(w->c, cproc_pool_name[pool], 1, &off);
	if (rc != -EFAULT && rc != -EPERM)
		wfail(w, "double free (%s) of block 0x%llx of %s: %d, want -EFAULT or -EPERM",
		      run ? "mc_free_contiguous" : "mc_free", (unsigned long long) off,
		      cproc_pool_name[pool], rc);
	w->st->k.double_frees++;
}

/* Resize one of this worker's caches: off, half, or back to its size. */
static void op_resize(struct worker *w)
{
	int pool = pick_pool(w);
	uint32_t full = worker_cache[w->idx][pool];
	uint32_t m = (uint32_t) test_rng_below(&w->rng, 3) * full / 2;

	if (full == 0)
		return;
	wexpect(w, mc_cache(w->c, cproc_pool_name[pool], m), "mc_cache", cproc_pool_name[pool]);
	w->st->k.resizes++;
}

static void check_all(struct worker *w, const char *when)
{
	for (uint32_t i = 0; i < w->st->n; i++)
		check_held(w, &w->st->held[i], when);
}

static void report_caches(struct worker *w)
{
	for (int p = 0; p < CPROC_NPOOLS; p++)
		wexpect(w, mc_cache_stats(w->c, cproc_pool_name[p], &w->st->cs[p]),
			"mc_cache_stats", cproc_pool_name[p]);
}

/* Wait until the test sets *what to round (or stops everything). */
static void wait_for(struct worker *w, const uint32_t *what, uint32_t round)
{
	while (__atomic_load_n(what, __ATOMIC_ACQUIRE) != round &&
	       !__atomic_load_n(&w->shm->stop, __ATOMIC_ACQUIRE))
		cproc_sleep_us(200);
}

/*
 * Between two calls: flush and pause; once every worker is paused (no
 * request of anyone's in flight, so the daemon takes nothing back from any
 * cache), report the caches; wait for the test to check.
 */
static void checkpoint(struct worker *w, uint32_t round)
{
	wexpect(w, mc_flush(w->c), "mc_flush at a checkpoint", "every pool");
	check_all(w, "at a checkpoint");
	__atomic_store_n(&w->st->paused, round, __ATOMIC_RELEASE);
	wait_for(w, &w->shm->all_paused, round);
	report_caches(w);
	__atomic_store_n(&w->st->acked, round, __ATOMIC_RELEASE);
	wait_for(w, &w->shm->resume, round);
}

/* Free everything (handing off what was published), and leave. */
static void finish(struct worker *w)
{
	while (w->st->n > 0) {
		struct mblock *b = &w->st->held[w->st->n - 1];

		withdraw(w, b);
		check_held(w, b, "at the end");
		wexpect(w, mc_free(w->c, cproc_pool_name[b->pool], 1, &b->off),
			"mc_free at the end", cproc_pool_name[b->pool]);
		w->st->n--;
	}
	wexpect(w, mc_flush(w->c), "mc_flush at the end", "every pool");
	report_caches(w);
	mc_close(w->c);
	_exit(0);
}

static void worker_main(struct model_shm *shm, int idx, const char *socket, uint64_t seed)
{
	struct worker w = {.idx = idx, .shm = shm, .st = &shm->w[idx]};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	test_rng_init(&w.rng, seed * 1000003u + (uint64_t) idx);
	wexpect(&w, mc_connect(socket, &w.c), "mc_connect", socket);
	for (int p = 0; p < CPROC_NPOOLS; p++)
		if (worker_cache[idx][p] > 0)
			wexpect(&w, mc_cache(w.c, cproc_pool_name[p], worker_cache[idx][p]),
				"mc_cache", cproc_pool_name[p]);
	for (;;) {
		uint32_t round = __atomic_load_n(&shm->round, __ATOMIC_ACQUIRE);
		uint64_t r = test_rng_below(&w.rng, 100);

		if (__atomic_load_n(&shm->stop, __ATOMIC_ACQUIRE))
			finish(&w);
		if (round != w.st->acked) {
			checkpoint(&w, round);
			continue;
		}
		w.st->k.ops++;
		if (r < 32)
			op_alloc(&w);
		else if (r < 54)
			op_free(&w, MINE);
		else if (r < 66)
			op_publish(&w);
		else if (r < 80)
			op_retain(&w);
		else if (r < 92)
			op_free(&w, RETAINED);
		else if (r < 96)
			check_all(&w, "while held");
		else if (r < 99)
			op_double_free(&w);
		else
			op_resize(&w);
	}
}

/* --- the test ----------------------------------------------------------- */

struct model {
	struct test_daemon td;
	mc_client_t *c;
	struct model_shm *shm;
	pid_t pid[NWORKERS];
	uint64_t seed;
};

static void model_fail(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stop every worker, then fail the test with the seed and why. */
static void model_fail(struct model *m, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (int i = 0; i < NWORKERS; i++)
		if (m->pid[i] > 0) {
			kill(m->pid[i], SIGKILL);
			waitpid(m->pid[i], NULL, 0);
			m->pid[i] = 0;
		}
	ck_abort_msg("cache_model seed %llu (ALLOCATORD_SEED=%llu repeats it): %s",
		     (unsigned long long) m->seed, (unsigned long long) m->seed, why);
}

/* A worker that failed or ended by itself fails the test, with its reason. */
static void assert_workers_ok(struct model *m)
{
	for (int i = 0; i < NWORKERS; i++) {
		int status;

		if (__atomic_load_n(&m->shm->w[i].failed, __ATOMIC_ACQUIRE))
			model_fail(m, "worker %d (pid %d): %s", i, (int) m->pid[i],
				   m->shm->w[i].why);
		if (m->pid[i] > 0 && waitpid(m->pid[i], &status, WNOHANG) == m->pid[i]) {
			m->pid[i] = 0;
			if (__atomic_load_n(&m->shm->w[i].failed, __ATOMIC_ACQUIRE))
				model_fail(m, "worker %d: %s", i, m->shm->w[i].why);
			model_fail(m, "worker %d ended on its own (status 0x%x)", i, status);
		}
	}
}

static void run_for(struct model *m, int ms)
{
	for (int64_t end = cproc_now_ms() + ms; cproc_now_ms() < end;) {
		assert_workers_ok(m);
		cproc_sleep_us(5000);
	}
}

/* Per pool: which worker holds each block as its own (+1), and how many
 * distinct blocks the models hold. */
struct union_view {
	uint8_t owner[CPROC_NPOOLS][CPROC_MAX_BLOCKS];
	uint8_t held[CPROC_NPOOLS][CPROC_MAX_BLOCKS];
	uint64_t distinct[CPROC_NPOOLS];
	uint64_t cached[CPROC_NPOOLS];
};

static uint32_t block_of(struct model *m, int pool, uint64_t off, uint64_t base)
{
	if (off < base || (off - base) % cproc_pool_bs[pool] != 0 ||
	    (off - base) / cproc_pool_bs[pool] >= cproc_pool_blocks[pool])
		model_fail(m, "offset 0x%llx is not a block of %s", (unsigned long long) off,
			   cproc_pool_name[pool]);
	return (uint32_t) ((off - base) / cproc_pool_bs[pool]);
}

/* Each worker's model against the data and against the daemon's holdings
 * of its client. */
static void check_workers(struct model *m, int round, const uint64_t *base, struct union_view *u)
{
	struct mc_client_info ci[NWORKERS + 2];
	struct mc_holding h[(NWORKERS + 2) * CPROC_NPOOLS];
	size_t nci, nh;
	int rc = mc_clients(m->c, ci, NWORKERS + 2, &nci, h, (NWORKERS + 2) * CPROC_NPOOLS, &nh);

	if (rc < 0 || nci != NWORKERS + 1 || nh > (NWORKERS + 2) * CPROC_NPOOLS)
		model_fail(m, "checkpoint %d: mc_clients = %d, %zu clients", round, rc, nci);
	for (int w = 0; w < NWORKERS; w++) {
		const struct wstate *st = &m->shm->w[w];
		uint64_t model[CPROC_NPOOLS] = {0, 0}, books[CPROC_NPOOLS] = {0, 0},
			 holds[CPROC_NPOOLS] = {0, 0};
		size_t idx = nci;

		for (size_t i = 0; i < nci; i++)
			if (ci[i].pid == (uint32_t) m->pid[w])
				idx = i;
		if (idx == nci)
			model_fail(m, "checkpoint %d: worker %d has no session", round, w);
		for (uint32_t i = 0; i < st->n; i++) {
			const struct mblock *b = &st->held[i];
			uint32_t blk = block_of(m, b->pool, b->off, base[b->pool]);
			char why[160];

			if (b->kind == MINE && u->owner[b->pool][blk] != 0)
				model_fail(m,
					   "checkpoint %d: block %u of %s is mine to workers %d "
					   "and %d",
					   round, blk, cproc_pool_name[b->pool],
					   u->owner[b->pool][blk] - 1, w);
			if (b->kind == MINE)
				u->owner[b->pool][blk] = (uint8_t) (w + 1);
			if (cproc_damage(mc_ptr(m->c, cproc_pool_name[b->pool], b->off),
					 cproc_pool_bs[b->pool], b->stamp, why, sizeof(why)) != 0)
				model_fail(m, "checkpoint %d: worker %d's %s block %u of %s: %s",
					   round, w, b->kind == MINE ? "own" : "retained", blk,
					   cproc_pool_name[b->pool], why);
			u->distinct[b->pool] += u->held[b->pool][blk]++ == 0;
			model[b->pool]++;
		}
		for (size_t i = 0; i < nh; i++)
			for (int p = 0; p < CPROC_NPOOLS; p++)
				if (h[i].client_id == ci[idx].id &&
				    strcmp(h[i].name, cproc_pool_name[p]) == 0) {
					books[p] = h[i].amount;
					holds[p] = h[i].holds;
				}
		for (int p = 0; p < CPROC_NPOOLS; p++) {
			uint64_t want = model[p] + st->cs[p].cached;

			if (books[p] != want || holds[p] != want)
				model_fail(
				    m,
				    "checkpoint %d: worker %d holds %llu blocks of %s and "
				    "caches %llu; the daemon's books say %llu blocks, %llu "
				    "holds",
				    round, w, (unsigned long long) model[p], cproc_pool_name[p],
				    (unsigned long long) st->cs[p].cached,
				    (unsigned long long) books[p], (unsigned long long) holds[p]);
			u->cached[p] += st->cs[p].cached;
		}
	}
}

/* The pools as a whole: used = the union of the models + every cache, and
 * every model block allocated in the daemon's map. */
static void check_pools(struct model *m, int round, const struct union_view *u)
{
	for (int p = 0; p < CPROC_NPOOLS; p++) {
		uint8_t bits[CPROC_MAX_BLOCKS / 8];
		uint64_t used = client_used(m->c, cproc_pool_name[p]);

		if (used != u->distinct[p] + u->cached[p])
			model_fail(m,
				   "checkpoint %d: %s has %llu blocks in use; the models hold "
				   "%llu and the caches %llu",
				   round, cproc_pool_name[p], (unsigned long long) used,
				   (unsigned long long) u->distinct[p],
				   (unsigned long long) u->cached[p]);
		if (mc_pool_map(m->c, cproc_pool_name[p], 0, cproc_pool_blocks[p], bits, NULL) < 0)
			model_fail(m, "mc_pool_map(%s) failed", cproc_pool_name[p]);
		for (uint32_t b = 0; b < cproc_pool_blocks[p]; b++)
			if (u->held[p][b] && !((bits[b / 8] >> (b % 8)) & 1))
				model_fail(m, "checkpoint %d: block %u of %s is held but free",
					   round, b, cproc_pool_name[p]);
	}
}

/* Wait until every worker's *field (an offset into struct wstate) is round. */
static void wait_workers(struct model *m, size_t field, uint32_t round, const char *what)
{
	int64_t deadline = cproc_now_ms() + (test_under_valgrind() ? 60000 : 20000);

	for (int w = 0; w < NWORKERS; w++) {
		const uint32_t *at = (const uint32_t *) ((const char *) &m->shm->w[w] + field);

		while (__atomic_load_n(at, __ATOMIC_ACQUIRE) != round) {
			assert_workers_ok(m);
			if (cproc_now_ms() > deadline)
				model_fail(m, "checkpoint %u: worker %d did not %s", round, w,
					   what);
			cproc_sleep_us(500);
		}
	}
}

static void checkpoint_all(struct model *m, uint32_t round, const uint64_t *base)
{
	static struct union_view u;

	__atomic_store_n(&m->shm->round, round, __ATOMIC_RELEASE);
	wait_workers(m, offsetof(struct wstate, paused), round, "pause");
	__atomic_store_n(&m->shm->all_paused, round, __ATOMIC_RELEASE);
	wait_workers(m, offsetof(struct wstate, acked), round, "report");
	memset(&u, 0, sizeof(u));
	check_workers(m, (int) round, base, &u);
	check_pools(m, (int) round, &u);
	__atomic_store_n(&m->shm->resume, round, __ATOMIC_RELEASE);
}

START_TEST(test_cache_model_random)
{
	bool vg = test_under_valgrind();
	int rounds = vg ? 3 : 10, run_ms = vg ? 1500 : 150;
	struct model m = {.seed = test_seed("cache_model")};
	struct counts sum = {0};
	uint64_t base[CPROC_NPOOLS], taken_back = 0, stale = 0;

	m.shm = cproc_shared(sizeof(*m.shm));
	client_start(&m.td, cproc_config);
	/* Block 0 of each pool, before the workers (forked before this
	 * process connects a client of its own, see client_fixture.h). */
	m.c = client_connect(&m.td);
	cproc_bases(m.c, base);
	mc_close(m.c);
	for (int i = 0; i < NWORKERS; i++) {
		m.pid[i] = fork();
		ck_assert_int_ge(m.pid[i], 0);
		if (m.pid[i] == 0)
			worker_main(m.shm, i, m.td.socket, m.seed);
	}
	m.c = client_connect(&m.td);
	for (uint32_t round = 1; round <= (uint32_t) rounds; round++) {
		run_for(&m, run_ms);
		checkpoint_all(&m, round, base);
	}
	__atomic_store_n(&m.shm->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NWORKERS; i++) {
		int rc = client_wait_child(m.pid[i]);

		m.pid[i] = 0;
		if (rc != 0)
			model_fail(&m, "worker %d exited with %d: %s", i, rc,
				   m.shm->w[i].failed ? m.shm->w[i].why : "(no reason)");
	}
	for (int p = 0; p < CPROC_NPOOLS; p++) {
		uint64_t left = client_wait_used(m.c, cproc_pool_name[p], 0, 2000);

		if (left != 0)
			model_fail(&m, "every worker gone, %s still has %llu blocks in use",
				   cproc_pool_name[p], (unsigned long long) left);
	}
	for (int i = 0; i < NWORKERS; i++) {
		const struct counts *k = &m.shm->w[i].k;

		sum.ops += k->ops;
		sum.allocated += k->allocated;
		sum.enomem += k->enomem;
		sum.edquot += k->edquot;
		sum.retained += k->retained;
		sum.handed_off += k->handed_off;
		sum.double_frees += k->double_frees;
		sum.resizes += k->resizes;
		for (int p = 0; p < CPROC_NPOOLS; p++) {
			taken_back += m.shm->w[i].cs[p].taken_back;
			stale += m.shm->w[i].cs[p].stale;
		}
	}
	fprintf(stderr,
		"cache_model: seed %llu, %d checkpoints: %llu ops, %llu blocks allocated, "
		"%llu -ENOMEM, %llu -EDQUOT, %llu retained, %llu handed off, %llu double "
		"frees refused, %llu resizes, %llu taken back, %llu stale\n",
		(unsigned long long) m.seed, rounds, (unsigned long long) sum.ops,
		(unsigned long long) sum.allocated, (unsigned long long) sum.enomem,
		(unsigned long long) sum.edquot, (unsigned long long) sum.retained,
		(unsigned long long) sum.handed_off, (unsigned long long) sum.double_frees,
		(unsigned long long) sum.resizes, (unsigned long long) taken_back,
		(unsigned long long) stale);
	/* Under the hand-off rule a block is retained only while its producer
	 * holds it: a free then sees the shared bit and never caches it, so no
	 * cached block is ever found retained. */
	if (stale != 0)
		model_fail(&m, "%llu cached blocks were found retained (stale)",
			   (unsigned long long) stale);
	/* The run must have reached what it is about. */
	ck_assert_uint_gt(sum.retained, 0);
	ck_assert_uint_gt(sum.handed_off, 0);
	ck_assert_uint_gt(sum.enomem, 0);
	ck_assert_uint_gt(taken_back, 0);
	mc_close(m.c);
	client_stop(&m.td);
	munmap(m.shm, sizeof(*m.shm));
}
END_TEST

Suite *cache_model_suite(void)
{
	Suite *s = suite_create("cache_model");
	TCase *tc = client_tcase("cache_model");

	tcase_add_test(tc, test_cache_model_random);
	suite_add_tcase(s, tc);
	return s;
}
