#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/wire.h"

int wbuf_reserve(struct wbuf *b, size_t n)
{
	size_t len = wbuf_len(b);
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

void wbuf_consume(struct wbuf *b, size_t n)
{
	b->head += n;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

void wbuf_free(struct wbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void wbuf_swap(struct wbuf *a, struct wbuf *b)
{
	struct wbuf t = *a;

	*a = *b;
	*b = t;
}

/* The payload length announced at the front of in, which must hold a whole
 * header. (Check the length first: an empty buffer may have no storage.) */
static uint32_t frame_len(const struct wbuf *in)
{
	return wire_header_get(in->data + in->head);
}

size_t wire_frame_missing(const struct wbuf *in, uint32_t max_frame)
{
	uint32_t n;

	if (wbuf_len(in) < WIRE_HEADER)
		return 0;
	n = frame_len(in);
	if (!wire_len_fits(n, max_frame) || wbuf_len(in) - WIRE_HEADER >= n)
		return 0;
	return n - (wbuf_len(in) - WIRE_HEADER);
}

int wire_frame_peek(const struct wbuf *in, uint32_t max_frame, const uint8_t **payload,
		    uint32_t *len)
{
	uint32_t n;

	if (wbuf_len(in) < WIRE_HEADER)
		return 0;
	n = frame_len(in);
	*len = n;
	if (!wire_len_fits(n, max_frame))
		return -EMSGSIZE;
	if (wbuf_len(in) - WIRE_HEADER < n)
		return 0;
	*payload = in->data + in->head + WIRE_HEADER;
	return 1;
}

int wire_frame_put(struct wbuf *out, const ProtobufCMessage *msg, uint32_t max_frame)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;

	if (!wire_len_fits(n, max_frame))
		return -E2BIG;
	if (wbuf_reserve(out, WIRE_HEADER + n) < 0)
		return -ENOMEM;
	p = out->data + out->tail;
	wire_header_put(p, (uint32_t) n);
	protobuf_c_message_pack(msg, p + WIRE_HEADER);
	out->tail += WIRE_HEADER + n;
	return 0;
}
