/*
 * wire: frames in a connection's byte buffers -- how much of a frame is
 * still missing, the frame at the front, a reply appended. The header
 * format and the length check are proto/wire.h's; a length over max_frame
 * is never read past, whatever the client sends.
 */
#include <errno.h>

#include "daemon/wire.h"

/* The payload length announced at the front of in, which must hold a whole
 * header. (Check the length first: an empty buffer may have no storage.) */
static uint32_t frame_len(const struct bytebuf *in)
{
	return wire_header_get(in->data + in->head);
}

size_t wire_frame_missing(const struct bytebuf *in, uint32_t max_frame)
{
	uint32_t n;

	if (bytebuf_len(in) < WIRE_HEADER)
		return 0;
	n = frame_len(in);
	if (!wire_len_fits(n, max_frame) || bytebuf_len(in) - WIRE_HEADER >= n)
		return 0;
	return n - (bytebuf_len(in) - WIRE_HEADER);
}

int wire_frame_peek(const struct bytebuf *in, uint32_t max_frame, const uint8_t **payload,
		    uint32_t *len)
{
	uint32_t n;

	if (bytebuf_len(in) < WIRE_HEADER)
		return 0;
	n = frame_len(in);
	*len = n;
	if (!wire_len_fits(n, max_frame))
		return -EMSGSIZE;
	if (bytebuf_len(in) - WIRE_HEADER < n)
		return 0;
	*payload = in->data + in->head + WIRE_HEADER;
	return 1;
}

int wire_frame_put(struct bytebuf *out, const ProtobufCMessage *msg, uint32_t max_frame)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *p;

	if (!wire_len_fits(n, max_frame))
		return -E2BIG;
	if (bytebuf_reserve(out, WIRE_HEADER + n) < 0)
		return -ENOMEM;
	p = out->data + out->tail;
	wire_header_put(p, (uint32_t) n);
	protobuf_c_message_pack(msg, p + WIRE_HEADER);
	out->tail += WIRE_HEADER + n;
	return 0;
}
