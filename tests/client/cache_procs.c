/* The multi-process cache tests' shared parts: see cache_procs.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tests/client/cache_procs.h"

const char cproc_config[] =
    "log_level = \"warn\";\n"
    "regions = ({ name = \"r\";\n"
    "  pools = ( { name = \"p\"; block_size = 64; blocks = 256; },\n"
    "            { name = \"q\"; block_size = 128; blocks = 64; client_quota = 16; } ); });\n";

const char *const cproc_pool_name[CPROC_NPOOLS] = {"p", "q"};
const size_t cproc_pool_bs[CPROC_NPOOLS] = {64, 128};
const uint32_t cproc_pool_blocks[CPROC_NPOOLS] = {256, 64};

/* Word i of a block stamped with stamp: the stamp, then canaries. */
static uint64_t stamp_word(uint64_t stamp, size_t i)
{
	return i == 0 ? stamp : stamp ^ (i * UINT64_C(0x9e3779b97f4a7c15));
}

void cproc_stamp(uint64_t *w, size_t bs, uint64_t stamp)
{
	for (size_t i = 0; i < bs / 8; i++)
		w[i] = stamp_word(stamp, i);
}

int cproc_damage(const uint64_t *w, size_t bs, uint64_t stamp, char *why, size_t len)
{
	uint64_t got = __atomic_load_n(&w[0], __ATOMIC_RELAXED);

	why[0] = '\0';
	if (got != stamp) {
		snprintf(why, len, "owner stamp pid %u seq %u overwritten by pid %u seq %u",
			 (unsigned) (stamp >> 32), (unsigned) stamp, (unsigned) (got >> 32),
			 (unsigned) got);
		return 1;
	}
	for (size_t i = 1; i < bs / 8; i++) {
		got = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
		if (got != stamp_word(stamp, i)) {
			snprintf(why, len, "canary word %zu of pid %u seq %u is 0x%llx", i,
				 (unsigned) (stamp >> 32), (unsigned) stamp,
				 (unsigned long long) got);
			return 2;
		}
	}
	return 0;
}

void cproc_bases(mc_client_t *c, uint64_t *base)
{
	for (int p = 0; p < CPROC_NPOOLS; p++) {
		ck_assert_int_eq(mc_alloc(c, cproc_pool_name[p], 1, &base[p]), 0);
		ck_assert_int_eq(mc_free(c, cproc_pool_name[p], 1, &base[p]), 0);
	}
}

void *cproc_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0, size);
	return p;
}

int64_t cproc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cproc_sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}
