/*
 * wire: the contract between allocatord and its clients that the schema
 * (proto/allocd.proto) cannot state by itself -- the protocol version, the
 * frame, the limits both sides check, where the daemon listens by default,
 * and the object kinds. The daemon and libmemclient both build from this
 * one header, so the two ends cannot drift apart.
 *
 * A frame is WIRE_HEADER bytes holding the payload length (little-endian),
 * then that many bytes of one protobuf message. max_frame bounds the
 * payload; the header is not counted.
 */
#ifndef ALLOCATORD_PROTO_WIRE_H
#define ALLOCATORD_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/allocd.pb-c.h"

/* Request.version and Reply.version; a daemon refuses any other. */
#define WIRE_PROTOCOL_VERSION 1u

/* Bytes of the length in front of every payload. */
#define WIRE_HEADER 4u

/* Longest name of a pool, heap, group or region, in bytes (plain ints: they
 * size arrays and bound loops on both sides). */
#define WIRE_NAME_MAX 63
/* Most regions a hello reply may carry: one memfd each, all in one
 * SCM_RIGHTS message. */
#define WIRE_MAX_REGIONS 64

/* The range of a daemon's max_frame, and its default. Until the hello reply
 * says the daemon's own, a client sends at most WIRE_FRAME_MIN bytes and
 * accepts replies of up to WIRE_FRAME_MAX. */
#define WIRE_FRAME_MIN     4096u
#define WIRE_FRAME_MAX     (16u << 20)
#define WIRE_FRAME_DEFAULT 65536u

/* Where the daemon listens unless told otherwise: the environment variable
 * that overrides it, the system daemon's path (root's), and the file name
 * of a user's daemon in $XDG_RUNTIME_DIR. */
#define WIRE_SOCKET_ENV    "ALLOCATORD_SOCKET"
#define WIRE_SOCKET_SYSTEM "/run/allocatord/allocatord.sock"
#define WIRE_SOCKET_NAME   "allocatord.sock"

/*
 * Alignment, so that an offset aligned to a power of two is an address as
 * aligned in every process. A client maps a region of size bytes at an
 * address that is a multiple of wire_map_align(size): the smallest power of
 * two >= size, at most WIRE_MAP_ALIGN_MAX (the largest pool align a config
 * may set). The daemon places each heap at a region offset that is a
 * multiple of wire_heap_align(heap size): the largest power of two <= that
 * size, at most WIRE_HEAP_ALIGN_MAX, so that its padding stays small; a heap
 * serves any align its offset is a multiple of.
 */
#define WIRE_MAP_ALIGN_MAX  (UINT64_C(1) << 30)
#define WIRE_HEAP_ALIGN_MAX (UINT64_C(2) << 20)

static inline uint64_t wire_map_align(uint64_t size)
{
	uint64_t a = 1;

	while (a < size && a < WIRE_MAP_ALIGN_MAX)
		a <<= 1;
	return a;
}

static inline uint64_t wire_heap_align(uint64_t size)
{
	uint64_t a = 1;

	while (a <= size / 2 && a < WIRE_HEAP_ALIGN_MAX)
		a <<= 1;
	return a;
}

/* The kinds of named objects, as Kind numbers them on the wire. */
enum wire_kind { WIRE_KIND_POOL = 1, WIRE_KIND_HEAP = 2, WIRE_KIND_GROUP = 3 };

_Static_assert((int) WIRE_KIND_POOL == (int) ALLOCD__KIND__KIND_POOL,
	       "wire kinds are the schema's");
_Static_assert((int) WIRE_KIND_HEAP == (int) ALLOCD__KIND__KIND_HEAP,
	       "wire kinds are the schema's");
_Static_assert((int) WIRE_KIND_GROUP == (int) ALLOCD__KIND__KIND_GROUP,
	       "wire kinds are the schema's");

/* "pool", "heap" or "group"; "unknown" for any other number (it may have
 * come from the peer). */
const char *wire_kind_name(int kind);

/* The most offsets one request may carry or ask for, so that the request
 * and its reply fit max_frame (>= WIRE_FRAME_MIN): HelloReply.max_batch. */
uint32_t wire_max_batch(uint32_t max_frame);

/*
 * The default socket path into buf: WIRE_SOCKET_SYSTEM with system, else
 * $XDG_RUNTIME_DIR/WIRE_SOCKET_NAME. Returns the path's length as snprintf
 * does (it did not fit if that is >= len), or -ENOENT when a user's path is
 * asked for and XDG_RUNTIME_DIR is unset or empty. $WIRE_SOCKET_ENV is not
 * read here: the daemon and the client each weigh it against other choices.
 */
int wire_socket_default(char *buf, size_t len, bool system);

/* Encode / decode the payload length of a frame header. */
static inline void wire_header_put(uint8_t head[WIRE_HEADER], uint32_t len)
{
	head[0] = (uint8_t) len;
	head[1] = (uint8_t) (len >> 8);
	head[2] = (uint8_t) (len >> 16);
	head[3] = (uint8_t) (len >> 24);
}

static inline uint32_t wire_header_get(const uint8_t head[WIRE_HEADER])
{
	return (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 |
	       (uint32_t) head[3] << 24;
}

/* May a frame carry len payload bytes under a limit of max_frame? The one
 * place that says the header does not count. */
static inline bool wire_len_fits(size_t len, uint32_t max_frame)
{
	return len <= max_frame;
}

#endif
