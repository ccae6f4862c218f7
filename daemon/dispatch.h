/*
 * dispatch: bytes in, bytes out. Decodes the request frames a client sent,
 * runs them, and appends one reply frame per request, in order. No I/O here:
 * the server moves the bytes, the fuzzer feeds them directly.
 */
#ifndef ALLOCATORD_DAEMON_DISPATCH_H
#define ALLOCATORD_DAEMON_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/errbuf.h"
#include "daemon/ops.h"

/* What serves requests on one daemon: the daemon and its ops. */
struct dispatch {
	struct daemon *d;
	struct ops ops;
};

/*
 * Make d ready to serve, after daemon_init: the ops' scratch, and the check
 * that the unpaged replies fit in one frame (stats_check_fit), so that a
 * config with too many objects is refused at start. 0, or a negative errno
 * with a message (-ENOMEM, -E2BIG); on error nothing is left to release.
 */
int dispatch_init(struct dispatch *x, struct daemon *d, struct errbuf *e);
void dispatch_fini(struct dispatch *x);

/*
 * Handle the complete frames at the front of s->in, appending replies to
 * s->out, until no complete frame is left or s->out holds limit or
 * max_output bytes or more (the server then stops reading until it drains:
 * a client that never reads cannot make the daemon buffer without bound;
 * the server's limit is how it keeps all clients together under
 * max_output_total). A reply may take s->out past the limit by at most
 * max_frame bytes. Pass SIZE_MAX for no limit but max_output.
 *
 * Returns 0, or a negative errno when the connection must be closed once
 * s->out is flushed: -EMSGSIZE (frame over max_frame), -EPROTONOSUPPORT
 * (wrong protocol version), -EPROTO (first request not a hello), -EBADMSG
 * (max_bad_frames malformed frames), -ENOMEM. Each case has already
 * appended an error reply and logged a line.
 */
int dispatch_input(struct dispatch *x, struct session *s, size_t limit);

/* The same for at most *frames frames; *frames becomes how many were
 * handled (the server's share per loop pass, see CONN_PASS_FRAMES). */
int dispatch_some(struct dispatch *x, struct session *s, size_t limit, uint32_t *frames);

/* Is a whole frame (or one announced over max_frame) waiting in s->in? */
bool dispatch_has_frame(const struct dispatch *x, const struct session *s);

/* Append an error reply (request id 0) to out, e.g. to refuse a connection
 * beyond max_clients. 0 or -ENOMEM. */
int dispatch_error_frame(struct bytebuf *out, uint32_t max_frame, int status, const char *msg);

#endif
