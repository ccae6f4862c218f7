/*
 * wire: frames in byte buffers -- finding a whole frame in what was read,
 * appending one to what is to be written. The frame format is proto/wire.h's.
 */
#ifndef ALLOCATORD_DAEMON_WIRE_H
#define ALLOCATORD_DAEMON_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/bytebuf.h"
#include "proto/wire.h"

/*
 * Is there a complete frame at the front of in? Returns 1 and sets *payload
 * and *len (the frame occupies WIRE_HEADER + *len bytes); 0 if more bytes
 * are needed; -EMSGSIZE if the announced length is over max_frame (then
 * *len is that length).
 */
int wire_frame_peek(const struct bytebuf *in, uint32_t max_frame, const uint8_t **payload,
		    uint32_t *len);

/* Bytes still to arrive for the frame at the front of in: 0 when no header
 * is there yet, the frame is complete, or it is over max_frame (which
 * wire_frame_peek refuses). Lets a reader make room for a whole frame. */
size_t wire_frame_missing(const struct bytebuf *in, uint32_t max_frame);

/* Pack msg as a frame at the end of out. 0, -E2BIG if it would be longer
 * than max_frame, or -ENOMEM. */
int wire_frame_put(struct bytebuf *out, const ProtobufCMessage *msg, uint32_t max_frame);

#endif
