/*
 * libFuzzer harness for the core rebuilds a takeover runs on what it reads
 * from the books, a memfd that outlived a crash: whatever the record says,
 * tlsf_rebuild and sys_mem_blocks_rebuild must refuse it cleanly or build
 * exactly it.
 *
 * Input: byte 0 picks the heap (granule 2^(b % 8), b / 8 + 1 allocation
 * slots); byte 1 and 2 the heap's size in granules (1 .. 65536); then 5
 * bytes per span: a flag byte, a 16-bit gap before the span and a 16-bit
 * size, in granules. The flags spoil a span now and then (a step back, an
 * unaligned offset or size, a zero size, a huge size), so that most lists
 * are nearly right. The harness decides on its own whether the list is
 * valid; tlsf_rebuild must agree: 0 and a heap holding exactly the spans
 * (tlsf_check, every span live at its size, the counters, the gaps merged,
 * one free block once all are freed), or -EINVAL and the heap as created.
 * The same bytes, read as a bitmap, then load a pool of as many blocks as
 * the heap has granules: accepted iff no bit lies past the last block, and
 * then exactly those blocks are taken.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem_blocks.h"
#include "core/tlsf.h"

#define MAX_SPANS 512

static void die(const char *what)
{
	fprintf(stderr, "fuzz_rebuild: invariant broken: %s\n", what);
	abort();
}

/* Spans from the input, in bytes; whether the harness finds them valid. */
static size_t read_spans(const uint8_t *p, size_t len, uint32_t granule, uint64_t size,
			 uint32_t max_allocs, struct tlsf_span *sp, int *valid)
{
	uint64_t at = 0, end = 0;
	size_t n = 0;

	*valid = 1;
	for (; len >= 5 && n < MAX_SPANS; p += 5, len -= 5, n++) {
		uint64_t gap = (uint64_t) (p[1] | p[2] << 8) * granule;
		uint64_t sz = (uint64_t) (p[3] | p[4] << 8) * granule;

		switch (p[0]) {
		case 1: /* a step back */
			gap = 0;
			at = at > granule ? at - granule : 0;
			break;
		case 2:
			gap += 1; /* unaligned offset, unless granule is 1 */
			break;
		case 3:
			sz += 1;
			break;
		case 4:
			sz = 0;
			break;
		case 5:
			sz = UINT64_MAX - (uint64_t) p[1]; /* wraps */
			break;
		default:
			break;
		}
		at += gap;
		sp[n] = (struct tlsf_span){.offset = at, .size = sz};
		if (at % granule != 0 || sz % granule != 0 || sz == 0 || at < end || at >= size ||
		    sz > size - at)
			*valid = 0;
		end = at + sz;
		at = end;
	}
	if (n > max_allocs)
		*valid = 0;
	return n;
}

static void check_heap(tlsf_t *t, const struct tlsf_span *sp, size_t n, uint64_t size)
{
	struct tlsf_stats s;
	uint64_t used = 0, gaps = 0, end = 0;

	if (tlsf_check(t) != 0)
		die("tlsf_check after a rebuild");
	for (size_t i = 0; i < n; i++) {
		if (tlsf_usable_size(t, sp[i].offset) != sp[i].size)
			die("a span is not live at its size");
		gaps += sp[i].offset > end;
		end = sp[i].offset + sp[i].size;
		used += sp[i].size;
	}
	gaps += size > end;
	tlsf_get_stats(t, &s);
	if (s.used != used || s.live != n || s.free_blocks != gaps || s.peak_used != used)
		die("counters after a rebuild");
	for (size_t i = n; i-- > 0;)
		if (tlsf_free(t, sp[i].offset) != 0)
			die("free of a rebuilt span");
	tlsf_get_stats(t, &s);
	if (tlsf_check(t) != 0 || s.free_blocks != 1 || s.largest_free != size || s.used != 0)
		die("all freed: not one block");
}

static void fuzz_heap(const uint8_t *data, size_t len)
{
	uint32_t granule = UINT32_C(1) << (data[0] % 8), max_allocs = data[0] / 8u + 1;
	uint64_t size = ((uint64_t) (data[1] | data[2] << 8) + 1) * granule;
	static struct tlsf_span sp[MAX_SPANS];
	struct tlsf_stats before, after;
	int valid, rc;
	size_t n = read_spans(data + 3, len - 3, granule, size, max_allocs, sp, &valid);
	tlsf_t *t = tlsf_create(size, granule, max_allocs);

	if (t == NULL)
		die("tlsf_create");
	tlsf_get_stats(t, &before);
	rc = tlsf_rebuild(t, sp, n);
	if (rc != (valid ? 0 : -EINVAL))
		die(valid ? "a valid list refused" : "a bad list accepted");
	if (rc == 0) {
		check_heap(t, sp, n, size);
	} else {
		tlsf_get_stats(t, &after);
		if (memcmp(&before, &after, sizeof(before)) != 0 || tlsf_check(t) != 0)
			die("a refused rebuild changed the heap");
	}
	tlsf_destroy(t);
}

/* The input from byte 3 as a bitmap of a pool of size / granule blocks. */
static void fuzz_pool(const uint8_t *data, size_t len)
{
	size_t nblocks = (size_t) (data[1] | data[2] << 8) + 1, nwords = (nblocks + 63) / 64;
	uint64_t *bits = calloc(nwords, sizeof(*bits));
	struct sys_memory_stats s;
	size_t taken = 0;
	int past = 0, rc;
	sys_mem_blocks_t mb;
	static uint8_t buf[65536 * 4];

	if (bits == NULL || sys_mem_blocks_init(&mb, 4, nblocks, buf) != 0)
		die("pool set-up");
	memcpy(bits, data + 3, len - 3 < nwords * 8 ? len - 3 : nwords * 8);
	for (size_t i = 0; i < nwords * 64; i++) {
		if ((bits[i / 64] >> (i % 64)) & 1) {
			past |= i >= nblocks;
			taken++;
		}
	}
	rc = sys_mem_blocks_rebuild(&mb, bits, nwords);
	if (rc != (past ? -EINVAL : 0))
		die(past ? "a bit past the pool accepted" : "a valid bitmap refused");
	if (sys_mem_blocks_runtime_stats_get(&mb, &s) != 0 || bitarray_check(&mb.bitmap) != 0 ||
	    s.allocated_bytes != (past ? 0 : taken * 4))
		die("the pool after a rebuild");
	for (size_t i = 0; !past && i < nblocks; i++)
		if (bitarray_is_used(&mb.bitmap, i) != ((bits[i / 64] >> (i % 64)) & 1))
			die("a block taken or left against the bitmap");
	sys_mem_blocks_deinit(&mb);
	free(bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 3)
		return 0;
	fuzz_heap(data, len);
	fuzz_pool(data, len);
	return 0;
}
