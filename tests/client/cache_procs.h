/*
 * What the multi-process cache tests (test_cache_model.c,
 * test_cache_misuse.c) share: a daemon config with two small pools, blocks
 * stamped with their owner and checked for damage, a page shared with the
 * forked clients, and clocks.
 */
#ifndef ALLOCATORD_TESTS_CACHE_PROCS_H
#define ALLOCATORD_TESTS_CACHE_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/memclient.h"

/* Region "r": pool "p" 64 B x 256, pool "q" 128 B x 64 with client_quota
 * 16. Small, so that the pools run dry and cached blocks are taken back. */
extern const char cproc_config[];

enum { CPROC_P, CPROC_Q, CPROC_NPOOLS };

extern const char *const cproc_pool_name[CPROC_NPOOLS];
extern const size_t cproc_pool_bs[CPROC_NPOOLS];
extern const uint32_t cproc_pool_blocks[CPROC_NPOOLS];

#define CPROC_MAX_BLOCKS 256u /* the most blocks of any pool */

/* Fill a block of bs bytes: stamp in the first word, a canary derived from
 * it in every other. */
void cproc_stamp(uint64_t *w, size_t bs, uint64_t stamp);

/* What is wrong with a block that should carry stamp, into why (empty when
 * nothing): 0, 1 for a broken owner stamp, 2 for a broken canary. */
int cproc_damage(const uint64_t *w, size_t bs, uint64_t stamp, char *why, size_t len);

/* The offset of block 0 of each pool into base[CPROC_NPOOLS]: asks c for
 * one block while every block is free and no cache is on. */
void cproc_bases(mc_client_t *c, uint64_t *base);

/* size zeroed bytes, MAP_SHARED: inherited by the processes forked later. */
void *cproc_shared(size_t size);

int64_t cproc_now_ms(void);
void cproc_sleep_us(long us);

#endif
