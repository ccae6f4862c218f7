/*
 * wire: byte buffers, and frames in them (the frame format is proto/wire.h's:
 * a WIRE_HEADER length, then one protobuf message).
 */
#ifndef ALLOCATORD_DAEMON_WIRE_H
#define ALLOCATORD_DAEMON_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* Bytes [head, tail) of data are the content. Capacity only grows, so a
 * connection stops allocating once it has seen its largest burst. */
struct wbuf {
	uint8_t *data;
	size_t head;
	size_t tail;
	size_t cap;
};

static inline size_t wbuf_len(const struct wbuf *b)
{
	return b->tail - b->head;
}

/* Make room for n more bytes after tail (moving content to the front first).
 * 0 or -ENOMEM. */
int wbuf_reserve(struct wbuf *b, size_t n);

/* Drop n bytes from the front. */
void wbuf_consume(struct wbuf *b, size_t n);

void wbuf_free(struct wbuf *b);

/* Exchange two buffers' storage (for double buffering writes). */
void wbuf_swap(struct wbuf *a, struct wbuf *b);

/*
 * Is there a complete frame at the front of in? Returns 1 and sets *payload
 * and *len (the frame occupies WIRE_HEADER + *len bytes); 0 if more bytes
 * are needed; -EMSGSIZE if the announced length is over max_frame (then
 * *len is that length).
 */
int wire_frame_peek(const struct wbuf *in, uint32_t max_frame, const uint8_t **payload,
		    uint32_t *len);

/* Bytes still to arrive for the frame at the front of in: 0 when no header
 * is there yet, the frame is complete, or it is over max_frame (which
 * wire_frame_peek refuses). Lets a reader make room for a whole frame. */
size_t wire_frame_missing(const struct wbuf *in, uint32_t max_frame);

/* Pack msg as a frame at the end of out. 0, -E2BIG if it would be longer
 * than max_frame, or -ENOMEM. */
int wire_frame_put(struct wbuf *out, const ProtobufCMessage *msg, uint32_t max_frame);

#endif
