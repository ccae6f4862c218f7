/*
 * sockfile: the listening socket's path and file -- which path, whether a
 * file already there may be replaced, and its mode and group.
 */
#ifndef ALLOCATORD_DAEMON_SOCKFILE_H
#define ALLOCATORD_DAEMON_SOCKFILE_H

#include <stddef.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"

/*
 * The path to listen on, first found of: cli (-s), $ALLOCATORD_SOCKET, the
 * config's socket.path, then the default: /run/allocatord/allocatord.sock
 * for root, $XDG_RUNTIME_DIR/allocatord.sock for others. Returns 0, or
 * -ENAMETOOLONG (longer than a sockaddr_un holds; libuv would truncate it)
 * or -ENOENT (no default: not root and no XDG_RUNTIME_DIR), with a message.
 */
int sockfile_resolve(const char *cli, const struct config *c, char *out, size_t outlen,
		     struct errbuf *e);

/*
 * Make path ready for bind: create its directory if missing (one level,
 * mode 0755), remove a stale socket left by a dead daemon (nothing accepts
 * on it), refuse a live one (-EADDRINUSE) or a file that is not a socket
 * (-EEXIST). Returns 0 or a negative errno with a message.
 */
int sockfile_prepare(const char *path, struct errbuf *e);

/* After bind: set the configured mode and group. 0 or -errno + message. */
int sockfile_set_access(const char *path, const struct config *c, struct errbuf *e);

#endif
