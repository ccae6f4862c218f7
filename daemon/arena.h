/*
 * arena: a bump allocator with a fixed capacity, given to protobuf-c so that
 * decoding a request and building its reply allocate nothing from malloc and
 * can never take more than the arena holds (a hostile frame of packed varints
 * expands eightfold when decoded). Reset after every request.
 */
#ifndef ALLOCATORD_DAEMON_ARENA_H
#define ALLOCATORD_DAEMON_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct arena {
	uint8_t *mem;
	size_t cap;
	size_t used;
	ProtobufCAllocator pb; /* for protobuf_c_message_unpack */
};

int arena_init(struct arena *a, size_t cap);
void arena_destroy(struct arena *a);

/* size bytes aligned to 16, or NULL when the arena is full. */
void *arena_alloc(struct arena *a, size_t size);

/* Allocate and zero. */
void *arena_zalloc(struct arena *a, size_t size);

/* A zeroed array of n elements of size bytes; at least one element, so
 * NULL only when the arena is full, even for n == 0. */
static inline void *arena_array(struct arena *a, size_t n, size_t size)
{
	return arena_zalloc(a, (n ? n : 1) * size);
}

/* Copy of s, or NULL. */
char *arena_strdup(struct arena *a, const char *s);

static inline void arena_reset(struct arena *a)
{
	a->used = 0;
}

#endif
