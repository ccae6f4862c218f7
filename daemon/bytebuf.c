/*
 * bytebuf: a growable byte buffer (see bytebuf.h). Invariant: head <= tail
 * <= cap; space is made by moving the content to the front before growing,
 * and capacity never shrinks, so steady traffic allocates nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/bytebuf.h"

int bytebuf_reserve(struct bytebuf *b, size_t n)
{
	size_t len = bytebuf_len(b);
	size_t cap;
	uint8_t *p;

	if (b->cap - b->tail >= n)
		return 0;
	if (b->head > 0) {
		memmove(b->data, b->data + b->head, len);
		b->head = 0;
		b->tail = len;
		if (b->cap - b->tail >= n)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap - len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void bytebuf_consume(struct bytebuf *b, size_t n)
{
	b->head += n;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

void bytebuf_free(struct bytebuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void bytebuf_swap(struct bytebuf *a, struct bytebuf *b)
{
	struct bytebuf t = *a;

	*a = *b;
	*b = t;
}
