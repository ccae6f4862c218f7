/*
 * The restart soak's checks of the daemon against the workers' models (see
 * restart_soak.c for what each round asserts and why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/memclient.h"
#include "tests/restart/restart_soak.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The index of pid's attached session in ci, or -1. With any, also a
 * detached one. */
static int client_of(const struct mc_client_info *ci, size_t n, pid_t pid, bool any)
{
	for (size_t i = 0; i < n; i++)
		if (ci[i].pid == (uint32_t) pid && (any || !ci[i].detached))
			return (int) i;
	return -1;
}

void soak_assert_gone(const struct soak_view *s, const pid_t *killed, int nkilled)
{
	struct mc_client_info ci[SOAK_MAX_WORKERS + 8];
	size_t n;

	for (int tries = 0; tries < 200; tries++) {
		int left = 0;

		if (mc_clients(s->c, ci, SOAK_MAX_WORKERS + 8, &n, NULL, 0, NULL) < 0)
			soak_fail("mc_clients failed");
		for (int k = 0; k < nkilled; k++)
			left += client_of(ci, n, killed[k], true) >= 0;
		if (left == 0)
			return;
		sleep_ms(10);
	}
	soak_fail("a killed client's session was still there 2 s later");
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
static size_t read_snapshot(const struct soak_view *s, int w, int round, struct unit_rec *all,
			    uint64_t *pool, uint64_t *heap, uint64_t *bytes)
{
	char path[256];
	unsigned long long off, amount, stamp;
	int kind, origin;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/snap.%d.%d", s->dir, (int) s->pid[w], round);
	f = fopen(path, "r");
	if (f == NULL)
		soak_fail("round %d: no snapshot of worker %d", round, (int) s->pid[w]);
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

/* The first worker whose holdings differ from its model, said after the
 * union is checked: whether the difference is also a block nobody holds
 * tells a leak from a cache the daemon was not told about. */
static char mismatch[512];

/* One attached session per worker and the test's own; besides them only
 * ghosts (see soak_check): detached, of a live worker or the test, holding
 * nothing. Returns how many ghosts. */
static int check_sessions(const struct soak_view *s, int round, const struct mc_client_info *ci,
			  size_t nci, const struct mc_holding *hold, size_t nh)
{
	int attached = 0, ghosts = 0;

	for (size_t i = 0; i < nci; i++) {
		bool ours = ci[i].pid == (uint32_t) s->self;

		for (int w = 0; w < s->nworkers && !ours; w++)
			ours = ci[i].pid == (uint32_t) s->pid[w];
		if (!ours)
			soak_fail("round %d: session %llu of pid %u is neither a worker's nor the "
				  "test's",
				  round, (unsigned long long) ci[i].id, ci[i].pid);
		if (!ci[i].detached) {
			attached++;
			continue;
		}
		for (size_t h = 0; h < nh; h++)
			if (hold[h].client_id == ci[i].id && hold[h].amount != 0)
				soak_fail("round %d: detached session %llu of live pid %u holds "
					  "%llu of %s, and its client works on in another",
					  round, (unsigned long long) ci[i].id, ci[i].pid,
					  (unsigned long long) hold[h].amount, hold[h].name);
		ghosts++;
	}
	if (attached != s->nworkers + 1) {
		for (size_t i = 0; i < nci; i++)
			fprintf(stderr, "session %llu: pid %u%s\n", (unsigned long long) ci[i].id,
				ci[i].pid, ci[i].detached ? " (detached)" : "");
		soak_fail("round %d: %d sessions attached, want %d workers + the test", round,
			  attached, s->nworkers);
	}
	return ghosts;
}

/* Per worker: what the daemon says it holds against its model. Returns
 * the blocks the workers' leased caches hold. */
static uint64_t check_clients(const struct soak_view *s, int round, struct unit_rec *all,
			      size_t *nall, int *ghosts)
{
	static struct mc_client_info ci[SOAK_MAX_WORKERS + 8];
	static struct mc_holding hold[(SOAK_MAX_WORKERS + 8) * 4];
	uint64_t cached = 0;
	size_t nci, nh;

	if (mc_clients(s->c, ci, SOAK_MAX_WORKERS + 8, &nci, hold, (SOAK_MAX_WORKERS + 8) * 4,
		       &nh) < 0)
		soak_fail("mc_clients failed");
	*ghosts = check_sessions(s, round, ci, nci, hold, nh);
	*nall = 0;
	for (int w = 0; w < s->nworkers; w++) {
		uint64_t pool, heap, bytes, d_pool = 0, d_pool_holds = 0, d_heap = 0, d_bytes = 0;
		int idx = client_of(ci, nci, s->pid[w], false);

		if (idx < 0)
			soak_fail("round %d: worker %d has no session", round, (int) s->pid[w]);
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
		if (mismatch[0] != '\0' ||
		    (d_pool == pool && d_pool_holds == pool && d_heap == heap && d_bytes == bytes))
			continue;
		snprintf(mismatch, sizeof(mismatch),
			 "round %d: worker %d holds %llu blocks, %llu heap allocations (%llu "
			 "bytes); the daemon says %llu blocks not cached, %llu (%llu bytes)",
			 round, (int) s->pid[w], (unsigned long long) pool,
			 (unsigned long long) heap, (unsigned long long) bytes,
			 (unsigned long long) d_pool, (unsigned long long) d_heap,
			 (unsigned long long) d_bytes);
		for (size_t h = 0; h < nh; h++)
			if (hold[h].client_id == ci[idx].id)
				fprintf(stderr,
					"worker %d in the daemon: %s amount %llu, holds %llu, "
					"cached %llu\n",
					(int) s->pid[w], hold[h].name,
					(unsigned long long) hold[h].amount,
					(unsigned long long) hold[h].holds,
					(unsigned long long) hold[h].cached);
	}
	return cached;
}

/* Across models: a unit is allocated by one worker at most and held at
 * most once per worker; p's bitmap is exactly the models plus the caches;
 * g's and h's use equal the distinct units. */
static void check_union(const struct soak_view *s, int round, struct unit_rec *all, size_t nall,
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
					soak_fail(
					    "round %d: worker %d holds %s offset 0x%llx twice",
					    round, (int) s->pid[all[j].worker],
					    all[j].kind == SOAK_H ? "heap" : "pool",
					    (unsigned long long) all[j].off);
		}
		if (allocs > 1)
			soak_fail("round %d: %s offset 0x%llx was allocated by %d workers at once "
				  "(workers %d and %d)",
				  round, all[i].kind == SOAK_H ? "heap" : "pool",
				  (unsigned long long) all[i].off, allocs,
				  (int) s->pid[all[i].worker], (int) s->pid[all[i + 1].worker]);
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
		soak_fail("mc_pool_map failed");
	for (uint64_t b = 0; b < SOAK_P_BLOCKS; b++) {
		bool in_map = (map[b / 8] >> (b % 8)) & 1,
		     in_cache = (cache_map[b / 8] >> (b % 8)) & 1;
		bool in_models = (want[b / 8] >> (b % 8)) & 1;

		mapped += in_cache;
		/* a cached block is counted in use once, even when a stale
		 * retain also holds it */
		pool_units += in_cache && !in_models;
		if (in_map != (in_models || in_cache))
			soak_fail(
			    "round %d: block %llu of p is %s in the daemon but %s by the workers "
			    "(%s)",
			    round, (unsigned long long) b, in_map ? "allocated" : "free",
			    in_models || in_cache ? "held" : "not held",
			    in_map ? "lost: nobody holds it" : "it could be handed out twice");
	}
	if (mapped != cached)
		soak_fail("round %d: %llu blocks in p's cache map, %llu cached by clients", round,
			  (unsigned long long) mapped, (unsigned long long) cached);
	if (mc_stats(s->c, "g", &st, 1, &n) < 0 || st.info.used != pool_units)
		soak_fail("round %d: %llu pool blocks in use, workers hold or cache %llu", round,
			  (unsigned long long) st.info.used, (unsigned long long) pool_units);
	if (mc_stats(s->c, "h", &st, 1, &n) < 0 || st.live != heap_units ||
	    st.info.used != heap_bytes)
		soak_fail("round %d: the heap has %llu allocations (%llu bytes), workers hold %llu "
			  "(%llu)",
			  round, (unsigned long long) st.live, (unsigned long long) st.info.used,
			  (unsigned long long) heap_units, (unsigned long long) heap_bytes);
}

int soak_check(const struct soak_view *s, int round)
{
	static struct unit_rec all[SOAK_MAX_WORKERS * SOAK_MAX_UNITS];
	size_t nall;
	int ghosts;
	uint64_t cached;

	mismatch[0] = '\0';
	cached = check_clients(s, round, all, &nall, &ghosts);

	check_union(s, round, all, nall, cached);
	if (mismatch[0] != '\0')
		soak_fail("%s", mismatch);
	return ghosts;
}
