/*
 * cache_misuse: leased caches when the user breaks the rules -- retains a
 * block after its producer freed it (against the hand-off rule), frees a
 * block twice while a refill may bring it back to the cache, frees a run
 * with cached blocks in it. The cache must never hand out a block someone
 * else holds, and must refuse (-EFAULT) rather than lose track of what it
 * holds: a cached block nobody holds would later be handed out while
 * another client owns it.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tests/client/cache_procs.h"
#include "tests/client/check_client.h"
#include "tests/common/daemon_proc.h"
#include "tests/common/seed.h"

#define STALE_RING     64
#define STALE_RETAINED 32

/*
 * The producer allocates, stamps, publishes and at once frees blocks of p
 * (into its cache); the consumer retains published blocks -- mostly after
 * the free, against the rule -- and holds them a while. token[b] is nonzero
 * while the consumer holds block b, a value of its own for each retain: set
 * once the retain's reply is in, cleared before its free. A block whose
 * token is the same nonzero value before and after an mc_alloc was retained
 * all through that call, so the producer must not get it.
 */
struct stale_shm {
	uint64_t ring[STALE_RING]; /* offset + 1, 0: empty */
	uint32_t next;
	uint64_t token[CPROC_MAX_BLOCKS];
	uint32_t stop_consumer, stop_producer;
	uint64_t stale, retained, allocs;
	int failed;
	char why[512];
};

struct stale_proc {
	struct stale_shm *shm;
	mc_client_t *c;
	struct test_rng rng;
	uint64_t base;
	const char *who;
};

static void sfail(struct stale_proc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sfail(struct stale_proc *s, const char *fmt, ...)
{
	int n = snprintf(s->shm->why, sizeof(s->shm->why), "%s: ", s->who);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->shm->why + n, sizeof(s->shm->why) - (size_t) n, fmt, ap);
	va_end(ap);
	__atomic_store_n(&s->shm->failed, 1, __ATOMIC_RELEASE);
	_exit(1);
}

static void sexpect(struct stale_proc *s, int rc, const char *what)
{
	if (rc < 0)
		sfail(s, "%s: %d (%s)", what, rc, strerror(-rc));
}

static uint32_t stale_block(const struct stale_proc *s, uint64_t off)
{
	return (uint32_t) ((off - s->base) / cproc_pool_bs[CPROC_P]);
}

static void stale_connect(struct stale_proc *s, const char *socket, uint32_t cache)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sexpect(s, mc_connect(socket, &s->c), "mc_connect");
	sexpect(s, mc_cache(s->c, "p", cache), "mc_cache");
}

static void producer_round(struct stale_proc *s, uint64_t *before)
{
	size_t n = 1 + test_rng_below(&s->rng, 8);
	uint64_t off[8];
	struct mc_cache_stats cs;
	int rc;

	for (uint32_t b = 0; b < cproc_pool_blocks[CPROC_P]; b++)
		before[b] = __atomic_load_n(&s->shm->token[b], __ATOMIC_ACQUIRE);
	rc = mc_alloc(s->c, "p", n, off);
	if (rc == -ENOMEM)
		return;
	sexpect(s, rc, "mc_alloc");
	for (size_t i = 0; i < n; i++) {
		uint32_t b = stale_block(s, off[i]);
		uint64_t t = __atomic_load_n(&s->shm->token[b], __ATOMIC_ACQUIRE);

		if (t != 0 && t == before[b])
			sfail(s, "mc_alloc handed out block %u, retained by the consumer all along",
			      b);
		cproc_stamp(mc_ptr(s->c, "p", off[i]), cproc_pool_bs[CPROC_P],
			    ((uint64_t) getpid() << 32) | b);
		__atomic_store_n(&s->shm->ring[s->shm->next++ % STALE_RING], off[i] + 1,
				 __ATOMIC_RELEASE);
	}
	rc = test_rng_below(&s->rng, 2) ? mc_free(s->c, "p", n, off)
					: mc_free_async(s->c, "p", n, off);
	sexpect(s, rc, "mc_free");
	sexpect(s, mc_cache_stats(s->c, "p", &cs), "mc_cache_stats");
	__atomic_store_n(&s->shm->stale, cs.stale, __ATOMIC_RELEASE);
	s->shm->allocs++;
}

static void producer_main(struct stale_proc *s, const char *socket)
{
	static uint64_t before[CPROC_MAX_BLOCKS];
	struct mc_stats st;
	size_t n;

	stale_connect(s, socket, 32);
	while (!__atomic_load_n(&s->shm->stop_producer, __ATOMIC_ACQUIRE))
		producer_round(s, before);
	/* The consumer is gone: every stale block went back, and the cache
	 * off leaves nothing held. */
	sexpect(s, mc_flush(s->c), "mc_flush");
	sexpect(s, mc_cache(s->c, "p", 0), "mc_cache off");
	sexpect(s, mc_stats(s->c, "p", &st, 1, &n), "mc_stats");
	if (st.info.used != 0)
		sfail(s, "%llu blocks still in use at the end", (unsigned long long) st.info.used);
	mc_close(s->c);
	_exit(0);
}

/* Drop retained block i of held[0..*n). */
static void consumer_release(struct stale_proc *s, uint64_t *held, uint32_t *n, uint32_t i)
{
	uint64_t off = held[i];

	__atomic_store_n(&s->shm->token[stale_block(s, off)], 0, __ATOMIC_RELEASE);
	sexpect(s,
		test_rng_below(&s->rng, 2) ? mc_free(s->c, "p", 1, &off)
					   : mc_free_async(s->c, "p", 1, &off),
		"mc_free of a retained block");
	held[i] = held[--*n];
}

static void consumer_main(struct stale_proc *s, const char *socket)
{
	uint64_t held[STALE_RETAINED], tokens = 0;
	uint32_t n = 0;

	stale_connect(s, socket, 8);
	while (!__atomic_load_n(&s->shm->stop_consumer, __ATOMIC_ACQUIRE)) {
		uint64_t e = __atomic_load_n(&s->shm->ring[test_rng_below(&s->rng, STALE_RING)],
					     __ATOMIC_ACQUIRE);
		uint64_t off = e - 1;
		int rc;

		if (n > 0 && (n == STALE_RETAINED || test_rng_below(&s->rng, 3) == 0)) {
			consumer_release(s, held, &n, (uint32_t) test_rng_below(&s->rng, n));
			continue;
		}
		if (e == 0)
			continue;
		if (test_rng_below(&s->rng, 2)) {
			rc = mc_retain(s->c, "p", 1, &off);
		} else {
			sexpect(s, mc_flush(s->c), "mc_flush");
			sexpect(s, mc_retain_async(s->c, "p", 1, &off), "mc_retain_async");
			rc = mc_flush(s->c);
		}
		/* Free by now, or held already (in this cache, or retained). */
		if (rc == -EFAULT || rc == -EALREADY)
			continue;
		sexpect(s, rc, "mc_retain");
		__atomic_store_n(&s->shm->token[stale_block(s, off)], ++tokens, __ATOMIC_RELEASE);
		held[n++] = off;
		s->shm->retained++;
	}
	while (n > 0)
		consumer_release(s, held, &n, n - 1);
	sexpect(s, mc_flush(s->c), "mc_flush");
	mc_close(s->c);
	_exit(0);
}

static pid_t stale_spawn(struct stale_shm *shm, const struct test_daemon *td, uint64_t base,
			 uint64_t seed, bool producer)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct stale_proc s = {.shm = shm, .base = base};

		s.who = producer ? "producer" : "consumer";
		test_rng_init(&s.rng, seed * 1000003u + producer);
		if (producer)
			producer_main(&s, td->socket);
		consumer_main(&s, td->socket);
	}
	return pid;
}

static void stale_wait(struct stale_shm *shm, uint64_t seed, pid_t *pid, const char *who)
{
	int rc = client_wait_child(*pid);

	*pid = 0;
	ck_assert_msg(
	    rc == 0,
	    "stale retain seed %llu (ALLOCATORD_SEED=%llu repeats it): %s exited with %d: %s",
	    (unsigned long long) seed, (unsigned long long) seed, who, rc,
	    shm->failed ? shm->why : "(no reason)");
}

START_TEST(test_cache_misuse_stale_retain)
{
	uint64_t seed = test_seed("cache_misuse stale retain"), base[CPROC_NPOOLS];
	struct stale_shm *shm = cproc_shared(sizeof(*shm));
	int64_t end = cproc_now_ms() + (test_under_valgrind() ? 20000 : 2000);
	struct test_daemon td;
	mc_client_t *c;
	pid_t prod, cons;

	client_start(&td, cproc_config);
	c = client_connect(&td);
	cproc_bases(c, base);
	mc_close(c);
	prod = stale_spawn(shm, &td, base[CPROC_P], seed, true);
	cons = stale_spawn(shm, &td, base[CPROC_P], seed, false);
	/* Until enough stale retains were seen, or for a while. */
	while (cproc_now_ms() < end && __atomic_load_n(&shm->stale, __ATOMIC_ACQUIRE) < 200 &&
	       !__atomic_load_n(&shm->failed, __ATOMIC_ACQUIRE))
		cproc_sleep_us(5000);
	__atomic_store_n(&shm->stop_consumer, 1, __ATOMIC_RELEASE);
	if (shm->failed)
		__atomic_store_n(&shm->stop_producer, 1, __ATOMIC_RELEASE);
	stale_wait(shm, seed, &cons, "the consumer");
	__atomic_store_n(&shm->stop_producer, 1, __ATOMIC_RELEASE);
	stale_wait(shm, seed, &prod, "the producer");
	fprintf(
	    stderr,
	    "cache_misuse stale retain: seed %llu: %llu allocations, %llu retains, %llu stale\n",
	    (unsigned long long) seed, (unsigned long long) shm->allocs,
	    (unsigned long long) shm->retained, (unsigned long long) shm->stale);
	ck_assert_msg(
	    shm->stale > 0,
	    "stale retain seed %llu (ALLOCATORD_SEED=%llu repeats it): no retain ever met "
	    "a cached block",
	    (unsigned long long) seed, (unsigned long long) seed);
	c = client_connect(&td);
	ck_assert_uint_eq(client_wait_used(c, "p", 0, 2000), 0);
	mc_close(c);
	client_stop(&td);
	munmap(shm, sizeof(*shm));
}
END_TEST

/*
 * A double free of a block that an async refill, still on its way, leased
 * to the cache again: refused like any free of a cached block, not freed
 * under the cache. mc_free_contiguous of a cached block is refused as
 * well. Found by the model test (test_cache_model.c).
 *
 * Pool "small" has 64 blocks of 256 B; leases leave 8 free.
 */
START_TEST(test_cache_misuse_double_free_during_refill)
{
	struct test_daemon td;
	mc_client_t *c;
	uint64_t base, x, off[16];
	struct mc_cache_stats st;

	client_start(&td, NULL);
	c = client_connect(&td);
	ck_assert_int_eq(mc_alloc(c, "small", 1, &base), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &base), 0);
	ck_assert_int_eq(mc_cache(c, "small", 32), 0); /* blocks 0..15 cached */
	ck_assert_int_eq(mc_alloc_contiguous(c, "small", 1, &x), 0);
	ck_assert_uint_eq(x, base + 16 * 256);
	ck_assert_int_eq(mc_free(c, "small", 1, &x), 0); /* not from the cache: to the daemon */
	/* Empties the cache: a refill goes out and leases 16..31, x first. */
	ck_assert_int_eq(mc_alloc(c, "small", 16, off), 0);
	ck_assert_int_eq(mc_free(c, "small", 1, &x), -EFAULT);
	ck_assert_int_eq(mc_free_contiguous(c, "small", x, 1), -EFAULT);
	ck_assert_int_eq(mc_free_async(c, "small", 1, &x), -EFAULT);
	ck_assert_int_eq(mc_flush(c), 0);
	ck_assert_int_eq(mc_cache_stats(c, "small", &st), 0);
	ck_assert_uint_eq(st.cached, 16);
	ck_assert_uint_eq(client_used(c, "small"), 32);
	/* And a run with cached blocks, no refill on the way. */
	ck_assert_int_eq(mc_free_contiguous(c, "small", x, 2), -EFAULT);
	ck_assert_uint_eq(client_used(c, "small"), 32);
	ck_assert_int_eq(mc_free(c, "small", 16, off), 0);
	mc_close(c);
	client_stop(&td);
}
END_TEST

Suite *cache_misuse_suite(void)
{
	Suite *s = suite_create("cache_misuse");
	TCase *tc = client_tcase("cache_misuse");

	tcase_add_test(tc, test_cache_misuse_stale_retain);
	tcase_add_test(tc, test_cache_misuse_double_free_during_refill);
	suite_add_tcase(s, tc);
	return s;
}
