/*
 * server: the libuv loop around a daemon -- the listening Unix socket, one
 * connection per client, signals and readiness.
 *
 * Reading: bytes go into the session's input buffer and dispatch turns
 * complete frames into replies. Writing: replies are sent with uv_try_write
 * and, when the socket is full, with uv_write from a second buffer, so order
 * is kept and no reply is copied twice. A client whose unread replies reach
 * max_output is no longer read from until it catches up.
 *
 * Memfds: the hello reply is the first thing written on a connection, so it
 * is sent with sendmsg(SCM_RIGHTS) directly on the socket while libuv's
 * write queue is known to be empty.
 *
 * Reclaim: when a connection ends for any reason (EOF, error, protocol
 * violation, hello timeout), its session ends in the same callback: every
 * hold is dropped before the loop does anything else.
 */
#ifndef ALLOCATORD_DAEMON_SERVER_H
#define ALLOCATORD_DAEMON_SERVER_H

#include "daemon/dispatch.h"
#include "daemon/errbuf.h"

/*
 * Listen on the socket systemd passed (LISTEN_FDS; x->d->socket_path is
 * then set to its path), else on x->d->socket_path (sockfile_bind: its lock,
 * a stale file replaced, a live daemon, a non-socket file or an unsafe
 * directory refused), serve until SIGTERM or SIGINT, then close every client
 * (ending its session), remove the socket file if it is still ours (never
 * systemd's) and return 0. On a start-up error returns a negative errno with
 * a message in e.
 */
int server_run(struct dispatch *x, struct errbuf *e);

#endif
