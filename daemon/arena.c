/*
 * arena: the bump allocator behind every request's decode and reply (see
 * arena.h). Invariant: used <= cap and every block handed out is 16-byte
 * aligned; nothing is freed one by one -- protobuf-c's free is a no-op and
 * the dispatcher resets the whole arena after each request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/arena.h"

static void *arena_pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *p)
{
	/* Everything goes at once in arena_reset(). */
	(void) data;
	(void) p;
}

int arena_init(struct arena *a, size_t cap)
{
	a->mem = malloc(cap);
	if (a->mem == NULL)
		return -ENOMEM;
	a->cap = cap;
	a->used = 0;
	a->pb.alloc = arena_pb_alloc;
	a->pb.free = arena_pb_free;
	a->pb.allocator_data = a;
	return 0;
}

void arena_destroy(struct arena *a)
{
	free(a->mem);
	a->mem = NULL;
	a->cap = a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t start = (a->used + 15) & ~(size_t) 15;
	void *p;

	if (start > a->cap || size > a->cap - start)
		return NULL;
	p = a->mem + start;
	a->used = start + size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}
