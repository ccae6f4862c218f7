/*
 * A client process of the restart soak: random traffic (multi-block
 * allocations, contiguous runs, group and heap allocations, frees, some of
 * them pipelined), hand-offs to its partner through the outbox protocol of
 * restart_soak.h, a shadow model of what it holds, and a canary (its pid and
 * a counter) in every unit it holds, checked before every free and at every
 * snapshot. It never expects an error from a daemon being replaced: the
 * library resumes the session, so every call must go on as if nothing
 * happened.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/common/seed.h"
#include "tests/restart/restart_soak.h"

struct unit {
	int kind, origin;
	int slot; /* its slot in our outbox while offered; else NOT_OFFERED or
		   * HANDED (settled: never offered again, as the partner
		   * may hold it) */
	uint64_t off;
	uint64_t amount; /* blocks (1) or a heap allocation's usable bytes */
	uint64_t stamp;  /* its canary; 0: unknown (see take_offer) */
};

enum { NOT_OFFERED = -1, HANDED = -2 };

struct worker {
	mc_client_t *c;
	struct soak_shared *shm;
	const char *dir;
	int me, partner;
	uint32_t gen;
	struct unit held[SOAK_MAX_UNITS];
	int n;
	uint64_t seq;
	struct test_rng rng;
};

static volatile sig_atomic_t pause_requested, resume_requested;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "restart_soak: worker %d: ", (int) getpid());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	_exit(1);
}

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

static const char *kind_name(int kind)
{
	return kind == SOAK_G ? "g" : kind == SOAK_P ? "p" : "h";
}

static uint64_t *canary(struct worker *w, int kind, uint64_t off)
{
	uint64_t *p = mc_ptr(w->c, kind_name(kind), off);

	if (p == NULL)
		die("mc_ptr(%s, 0x%llx) is NULL", kind_name(kind), (unsigned long long) off);
	return p;
}

static void check_canary(struct worker *w, const struct unit *u, const char *when)
{
	uint64_t seen;

	if (u->stamp == 0)
		return;
	seen = *canary(w, u->kind, u->off);
	if (seen != u->stamp)
		die("%s: %s offset 0x%llx carries 0x%llx, not our 0x%llx: handed to a second "
		    "owner?",
		    when, kind_name(u->kind), (unsigned long long) u->off,
		    (unsigned long long) seen, (unsigned long long) u->stamp);
}

/* A call's result: 0 or one of the allowed errors, else the worker fails
 * with the library's reason (a takeover must never surface as an error). */
static void expect(struct worker *w, int rc, const char *what, int allowed1, int allowed2)
{
	char why[256] = "";

	if (rc >= 0 || rc == allowed1 || rc == allowed2)
		return;
	mc_last_error(w->c, why, sizeof(why));
	die("%s: %s (%s)", what, strerror(-rc), why);
}

static struct unit *hold(struct worker *w, int kind, int origin, uint64_t off, uint64_t amount,
			 uint64_t stamp)
{
	struct unit *u = &w->held[w->n++];

	*u = (struct unit){kind, origin, NOT_OFFERED, off, amount, stamp};
	return u;
}

static void allocated(struct worker *w, int kind, uint64_t off, uint64_t amount)
{
	struct unit *u = hold(w, kind, SOAK_ALLOCATED, off, amount, 0);

	u->stamp = ((uint64_t) getpid() << 32) | ++w->seq;
	*canary(w, kind, off) = u->stamp;
}

static void do_alloc(struct worker *w)
{
	uint64_t off[8], r = test_rng_below(&w->rng, 4);
	size_t n = 1 + test_rng_below(&w->rng, 6), bs;
	int rc;

	if (w->n + 8 > SOAK_MAX_UNITS)
		return;
	if (r == 0) {
		rc = mc_alloc(w->c, "p", n, off);
		expect(w, rc, "alloc", -ENOMEM, 0);
		for (size_t i = 0; rc == 0 && i < n; i++)
			allocated(w, SOAK_P, off[i], 1);
	} else if (r == 1) {
		n = 1 + test_rng_below(&w->rng, 3);
		rc = mc_group_alloc(w->c, "g", test_rng_below(&w->rng, 2) ? 32 : 1000, n, off, &bs);
		expect(w, rc, "group alloc", -ENOMEM, -EDQUOT);
		for (size_t i = 0; rc == 0 && i < n; i++)
			allocated(w, SOAK_G, off[i], 1);
	} else if (r == 2) {
		rc = mc_alloc_contiguous(w->c, "p", n, off);
		expect(w, rc, "contiguous alloc", -ENOMEM, 0);
		for (size_t i = 0; rc == 0 && i < n; i++)
			allocated(w, SOAK_G, off[0] + i * SOAK_P_BS, 1);
	} else {
		size_t size = 16 + test_rng_below(&w->rng, 4096);

		rc = mc_heap_alloc(w->c, "h", size, test_rng_below(&w->rng, 2) ? 0 : 256, off);
		expect(w, rc, "heap alloc", -ENOMEM, 0);
		if (rc == 0)
			allocated(w, SOAK_H, off[0], (size + 63) & ~(size_t) 63);
	}
}

static void do_free(struct worker *w)
{
	int k = 1 + (int) test_rng_below(&w->rng, 4);

	while (k-- > 0 && w->n > 0) {
		int i = (int) test_rng_below(&w->rng, (uint64_t) w->n);
		struct unit u = w->held[i];
		int rc;

		if (u.slot >= 0)
			continue; /* offered: the partner may be retaining it */
		check_canary(w, &u, "before free");
		if (u.kind == SOAK_H)
			rc = mc_heap_free(w->c, "h", u.off);
		else if (test_rng_below(&w->rng, 4) == 0)
			rc = mc_free_async(w->c, kind_name(u.kind), 1, &u.off);
		else
			rc = mc_free(w->c, kind_name(u.kind), 1, &u.off);
		expect(w, rc, "free", 1, 1);
		w->held[i] = w->held[--w->n];
	}
}

/* Offer one unit we allocated to the partner. */
static void do_offer(struct worker *w)
{
	struct soak_slot *box = w->shm->out[w->me];
	int i = (int) test_rng_below(&w->rng, (uint64_t) w->n + 1);
	struct unit *u = &w->held[i < w->n ? i : 0];

	if (w->n == 0 || u->origin != SOAK_ALLOCATED || u->slot != NOT_OFFERED)
		return;
	for (int s = 0; s < SOAK_SLOTS; s++) {
		if (slot_state(__atomic_load_n(&box[s].word, __ATOMIC_ACQUIRE)) != SLOT_EMPTY)
			continue;
		box[s].kind = u->kind;
		box[s].off = u->off;
		box[s].amount = u->amount;
		box[s].stamp = u->stamp;
		__atomic_store_n(&box[s].word, slot_word(SLOT_FULL, w->gen, 0), __ATOMIC_RELEASE);
		u->slot = s;
		return;
	}
}

static bool producer_gone(struct worker *w, uint64_t word)
{
	return slot_pgen(word) !=
	       (__atomic_load_n(&w->shm->gen[w->partner], __ATOMIC_SEQ_CST) & 0xffffffu);
}

/* Take one offer of the partner: retain it and find its canary. */
static void take_offer(struct worker *w)
{
	struct soak_slot *box = w->shm->out[w->partner];
	int s = (int) test_rng_below(&w->rng, SOAK_SLOTS), rc, answer = SLOT_DONE;
	uint64_t word = __atomic_load_n(&box[s].word, __ATOMIC_ACQUIRE), claimed, seen;
	struct soak_slot o;

	if (slot_state(word) != SLOT_FULL || w->n >= SOAK_MAX_UNITS)
		return;
	claimed = slot_word(SLOT_CLAIMED, slot_pgen(word), w->gen);
	if (!__atomic_compare_exchange_n(&box[s].word, &word, claimed, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	o = box[s];
	if (test_rng_below(&w->rng, 4) == 0) {
		/* pipelined: the block is ours once the flush says so */
		rc = mc_retain_async(w->c, kind_name(o.kind), 1, &o.off);
		if (rc == 0)
			rc = mc_flush(w->c);
	} else {
		rc = mc_retain(w->c, kind_name(o.kind), 1, &o.off);
	}
	if (rc == 0) {
		/* The canary first, then the producer's generation: if the
		 * producer was still current after our read, it held the unit
		 * through our retain and read (it never frees an offer). */
		seen = *canary(w, o.kind, o.off);
		if (producer_gone(w, word)) {
			/* Killed: its holds may have been reclaimed and the
			 * memory given to someone else before our retain. We
			 * hold it now, with a canary we cannot know -- and for
			 * a heap, a size we cannot know: that one goes back at
			 * once. */
			if (o.kind == SOAK_H)
				expect(w, mc_heap_free(w->c, "h", o.off), "free", 1, 1);
			else
				hold(w, o.kind, SOAK_RETAINED, o.off, o.amount, 0);
			__atomic_add_fetch(&w->shm->orphans, 1, __ATOMIC_RELAXED);
		} else if (seen == o.stamp) {
			hold(w, o.kind, SOAK_RETAINED, o.off, o.amount, o.stamp);
			__atomic_add_fetch(&w->shm->handoffs, 1, __ATOMIC_RELAXED);
		} else {
			die("retained %s offset 0x%llx from a live producer: it carries 0x%llx, "
			    "not "
			    "the producer's 0x%llx: handed to a second owner?",
			    kind_name(o.kind), (unsigned long long) o.off,
			    (unsigned long long) seen, (unsigned long long) o.stamp);
		}
	} else if (rc == -EDQUOT) {
		answer = SLOT_REFUSED; /* q's client quota */
	} else if ((rc == -EFAULT || rc == -EALREADY) && producer_gone(w, word)) {
		answer = SLOT_REFUSED; /* reclaimed, maybe ours since */
	} else {
		die("retain of %s offset 0x%llx offered by a live producer: %s", kind_name(o.kind),
		    (unsigned long long) o.off, strerror(-rc));
	}
	/* Fails harmlessly when the producer moved on (it saw us die). */
	__atomic_compare_exchange_n(&box[s].word, &claimed,
				    slot_word(answer, slot_pgen(claimed), w->gen), false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static struct unit *offered_in(struct worker *w, int s)
{
	for (int i = 0; i < w->n; i++)
		if (w->held[i].slot == s)
			return &w->held[i];
	return NULL;
}

/* Read the partner's answers; take back what a dead partner claimed, what
 * our predecessor left, and now and then an offer nobody took. */
static void settle_outbox(struct worker *w)
{
	struct soak_slot *box = w->shm->out[w->me];
	uint32_t partner_gen = __atomic_load_n(&w->shm->gen[w->partner], __ATOMIC_SEQ_CST);

	for (int s = 0; s < SOAK_SLOTS; s++) {
		uint64_t word = __atomic_load_n(&box[s].word, __ATOMIC_ACQUIRE);
		int state = slot_state(word);
		bool ours = slot_pgen(word) == (w->gen & 0xffffffu);
		bool empty;
		struct unit *u;

		if (state == SLOT_EMPTY)
			continue;
		if (state == SLOT_DONE || state == SLOT_REFUSED)
			empty = true;
		else if (state == SLOT_CLAIMED)
			empty = slot_cgen(word) != partner_gen;
		else
			empty = !ours || test_rng_below(&w->rng, 64) == 0;
		if (!empty || !__atomic_compare_exchange_n(&box[s].word, &word, 0, false,
							   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		u = ours ? offered_in(w, s) : NULL;
		if (u != NULL)
			u->slot = HANDED;
	}
}

/* Between two calls: write what we hold, then wait to be resumed. */
static void snapshot(struct worker *w)
{
	int round = __atomic_load_n(&w->shm->round, __ATOMIC_ACQUIRE);
	char path[256], tmp[300];
	struct mc_info info[8];
	sigset_t block, old;
	size_t n;
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
	/* Queued frees must have reached the daemon before it is asked, and
	 * a round trip makes sure our session is attached, not detached. */
	expect(w, mc_flush(w->c), "flush", 1, 1);
	rc = mc_list(w->c, info, 8, &n);
	expect(w, rc, "list", 1, 1);
	for (int i = 0; i < w->n; i++)
		check_canary(w, &w->held[i], "at a snapshot");
	snprintf(path, sizeof(path), "%s/snap.%d.%d", w->dir, (int) getpid(), round);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		die("%s: %s", tmp, strerror(errno));
	for (int i = 0; i < w->n; i++)
		fprintf(f, "%d %llu %llu %d %llu\n", w->held[i].kind,
			(unsigned long long) w->held[i].off, (unsigned long long) w->held[i].amount,
			w->held[i].origin, (unsigned long long) w->held[i].stamp);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die("%s: %s", path, strerror(errno));
	while (!resume_requested)
		sigsuspend(&old);
	resume_requested = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void soak_worker_main(struct soak_shared *shm, const char *dir, int index, const char *socket,
		      uint64_t seed, size_t cache)
{
	struct sigaction sa = {.sa_flags = SA_RESTART};
	struct worker w = {.shm = shm, .dir = dir, .me = index, .partner = index ^ 1};
	sigset_t sigs;
	int rc;

	/* SIGUSR1/2 arrive blocked (see the test's spawn): install, then
	 * unblock. */
	sa.sa_handler = on_pause;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_resume;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	w.gen = __atomic_load_n(&shm->gen[index], __ATOMIC_SEQ_CST);
	test_rng_init(&w.rng, seed);
	rc = mc_connect(socket, &w.c);
	if (rc < 0)
		die("connect: %s", strerror(-rc));
	rc = cache > 0 ? mc_cache(w.c, "p", cache) : 0;
	if (rc < 0)
		die("cache: %s", strerror(-rc));
	for (;;) {
		uint64_t r = test_rng_below(&w.rng, 100);

		if (pause_requested) {
			snapshot(&w);
			continue;
		}
		settle_outbox(&w);
		if (r < 40)
			do_alloc(&w);
		else if (r < 75)
			do_free(&w);
		else if (r < 88)
			do_offer(&w);
		else
			take_offer(&w);
	}
}
