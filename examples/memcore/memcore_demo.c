/*
 * memcore_demo: libmemcore on its own, built against the installed library
 * with pkg-config alone:
 *
 *   cc memcore_demo.c $(pkg-config --cflags --libs memcore) -o memcore_demo
 *
 * (or `make` with the Makefile next to it). It shows a Zephyr-style pool
 * shared by threads, a group that picks a pool by size, and a TLSF heap that
 * hands out offsets into a buffer it never touches. Exit status 0 if every
 * step did what it should.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <memcore/mem_blocks.h>
#include <memcore/tlsf.h>

/* Packet buffers: 1536 bytes (not a power of two), 64 of them. Pools from
 * the DEFINE macros are locked, as in Zephyr: threads may share them. */
SYS_MEM_BLOCKS_DEFINE_STATIC(packets, 1536, 64, 64);
SYS_MEM_BLOCKS_DEFINE_STATIC(small, 64, 256, 64);

static sys_multi_mem_blocks_t by_size;

/* The group's choice: cfg is the size wanted; the smallest pool that fits. */
static sys_mem_blocks_t *choose(struct sys_multi_mem_blocks *group, void *cfg)
{
	size_t want = (size_t) (uintptr_t) cfg;

	(void) group;
	return want <= 64 ? &small : want <= 1536 ? &packets : NULL;
}

/* Each thread takes and gives back packets many times. */
static void *worker(void *arg)
{
	void *b[4];

	(void) arg;
	for (int i = 0; i < 10000; i++) {
		if (sys_mem_blocks_alloc(&packets, 4, b) == 0) {
			memset(b[0], i, 1536); /* the memory is the caller's */
			sys_mem_blocks_free(&packets, 4, b);
		}
	}
	return NULL;
}

int main(void)
{
	struct sys_memory_stats st;
	pthread_t th[4];
	void *blk[2];
	size_t blk_size;
	static uint8_t heap_mem[1 << 20];
	tlsf_t *heap;
	uint64_t off;
	int ok = 1;

	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	sys_mem_blocks_runtime_stats_get(&packets, &st);
	printf("packets: %zu bytes free after 4 threads, peak %zu bytes\n", st.free_bytes,
	       st.max_allocated_bytes);
	ok &= st.allocated_bytes == 0;

	sys_multi_mem_blocks_init(&by_size, choose);
	sys_multi_mem_blocks_add_allocator(&by_size, &small);
	sys_multi_mem_blocks_add_allocator(&by_size, &packets);
	ok &= sys_multi_mem_blocks_alloc(&by_size, (void *) (uintptr_t) 48, 2, blk, &blk_size) == 0;
	printf("group: 2 blocks of %zu bytes for 48-byte requests\n", blk_size);
	ok &= blk_size == 64;
	ok &= sys_multi_mem_blocks_free(&by_size, 2, blk) == 0;
	/* A second free of the same blocks is refused, and changes nothing. */
	ok &= sys_multi_mem_blocks_free(&by_size, 2, blk) == -EFAULT;
	sys_multi_mem_blocks_deinit(&by_size);

	heap = tlsf_create(sizeof(heap_mem), 64, 128);
	ok &= heap != NULL && tlsf_alloc(heap, 1000, 256, &off) == 0;
	if (heap != NULL) {
		memset(heap_mem + off, 0, 1000);
		printf("tlsf: 1000 bytes at offset %llu, usable %llu\n", (unsigned long long) off,
		       (unsigned long long) tlsf_usable_size(heap, off));
		ok &= tlsf_free(heap, off) == 0 && tlsf_check(heap) == 0;
		tlsf_destroy(heap);
	}
	puts(ok ? "memcore_demo: ok" : "memcore_demo: FAILED");
	return ok ? 0 : 1;
}
