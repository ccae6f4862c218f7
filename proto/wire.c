/*
 * wire.c -- the parts of the wire contract that are code rather than
 * numbers: kind names, the batch size a frame allows, the default socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/wire.h"

/* A frame carries at most this many bytes besides the offsets: envelope,
 * status, names (<= WIRE_NAME_MAX bytes), block size. Offsets take at most
 * WIRE_OFFSET_MAX bytes each (a varint of 64 bits). */
#define WIRE_FRAME_OVERHEAD 256u
#define WIRE_OFFSET_MAX     10u

const char *wire_kind_name(int kind)
{
	switch (kind) {
	case WIRE_KIND_POOL:
		return "pool";
	case WIRE_KIND_HEAP:
		return "heap";
	case WIRE_KIND_GROUP:
		return "group";
	default:
		return "unknown";
	}
}

uint32_t wire_max_batch(uint32_t max_frame)
{
	return (max_frame - WIRE_FRAME_OVERHEAD) / WIRE_OFFSET_MAX;
}

int wire_socket_default(char *buf, size_t len, bool system)
{
	const char *xdg;
	int n;

	if (system) {
		n = snprintf(buf, len, "%s", WIRE_SOCKET_SYSTEM);
	} else {
		xdg = getenv("XDG_RUNTIME_DIR");
		if (xdg == NULL || *xdg == '\0')
			return -ENOENT;
		n = snprintf(buf, len, "%s/%s", xdg, WIRE_SOCKET_NAME);
	}
	return n < 0 ? -ENAMETOOLONG : n;
}
