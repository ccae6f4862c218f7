/*
 * dispatch: bytes in, bytes out. Decodes the request frames a client sent,
 * runs them, and appends one reply frame per request, in order. No I/O here:
 * the server moves the bytes, the fuzzer feeds them directly.
 */
#ifndef ALLOCATORD_DAEMON_DISPATCH_H
#define ALLOCATORD_DAEMON_DISPATCH_H

#include <stdint.h>

#include "daemon/daemon.h"

/*
 * Handle the complete frames at the front of s->in, appending replies to
 * s->out, until no complete frame is left or s->out holds max_output bytes
 * or more (the server then stops reading until it drains: a client that
 * never reads cannot make the daemon buffer without bound).
 *
 * Returns 0, or a negative errno when the connection must be closed once
 * s->out is flushed: -EMSGSIZE (frame over max_frame), -EPROTONOSUPPORT
 * (wrong protocol version), -EPROTO (first request not a hello), -ENOMEM.
 * Each case has already appended an error reply and logged a line.
 */
int dispatch_input(struct daemon *d, struct session *s);

/* Append an error reply (request id 0) to out, e.g. to refuse a connection
 * beyond max_clients. 0 or -ENOMEM. */
int dispatch_error_frame(struct bytebuf *out, uint32_t max_frame, int status, const char *msg);

#endif
