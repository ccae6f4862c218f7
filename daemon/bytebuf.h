/*
 * bytebuf: a growable byte buffer, used for both directions of a
 * connection: bytes read and not yet dispatched, replies not yet written.
 */
#ifndef ALLOCATORD_DAEMON_BYTEBUF_H
#define ALLOCATORD_DAEMON_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

/* Bytes [head, tail) of data are the content. Capacity only grows, so a
 * connection stops allocating once it has seen its largest burst. */
struct bytebuf {
	uint8_t *data;
	size_t head;
	size_t tail;
	size_t cap;
};

static inline size_t bytebuf_len(const struct bytebuf *b)
{
	return b->tail - b->head;
}

/* Make room for n more bytes after tail (moving content to the front first).
 * 0 or -ENOMEM. */
int bytebuf_reserve(struct bytebuf *b, size_t n);

/* Drop n bytes from the front. */
void bytebuf_consume(struct bytebuf *b, size_t n);

void bytebuf_free(struct bytebuf *b);

/* Exchange two buffers' storage (for double buffering writes). */
void bytebuf_swap(struct bytebuf *a, struct bytebuf *b);

#endif
