/*
 * sockfile: the listening socket's path and file -- which path, who owns it
 * (a lock beside it), whether a file already there may be replaced, the
 * file's mode and group, and its removal at the stop; or the socket systemd
 * passes (socket activation), whose file is systemd's.
 *
 * Ownership of a path: "PATH.lock" beside the socket is held with flock for
 * the daemon's life. Only the holder judges whether a socket file at PATH is
 * stale, so two daemons starting together cannot both decide to serve; and
 * at the stop the holder removes PATH only if it is still the file it bound
 * (same device and inode), so a daemon never removes another's socket.
 * The socket and the lock are put in the fd store (sockfile_store): while
 * the serving process is being replaced the store holds the lock, so no
 * other allocatord takes the path meanwhile, and the socket stays open, so
 * clients that connect wait in its backlog for the next serving process.
 *
 * Trust in the directory: the socket file is made and changed by path, so
 * whoever can write its directory could swap it for a symlink between two
 * calls. The directory must therefore be owned by the daemon's user or root
 * and writable by nobody else, except a root-owned sticky directory such as
 * /tmp (there nobody can remove or rename another's file). The mode comes
 * from the umask at bind, the group from fchownat(AT_SYMLINK_NOFOLLOW):
 * nothing follows a link.
 */
#ifndef ALLOCATORD_DAEMON_SOCKFILE_H
#define ALLOCATORD_DAEMON_SOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/fdstore.h"

struct sockfile {
	char path[108];      /* fits a sockaddr_un */
	char lock_path[113]; /* path + ".lock" */
	int lock_fd;         /* flock held while serving, -1 when none */
	int fd;              /* the listening socket, -1 when none */
	dev_t dev;           /* the file bind made, to remove only it */
	ino_t ino;
	bool bound;     /* we made the file at path: remove it at the stop */
	bool activated; /* fd came from systemd, whose file it is */
	bool adopted;   /* fd and file taken over from the fd store */
};

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
 * The listening socket passed in fs (fdstore.h): first "listen", the one a
 * previous serving process made and stored: its file is ours (removed at
 * the stop, sf->bound), and so is the lock, passed as "lock" with its flock
 * still held, or taken again (-EADDRINUSE if another allocatord has it);
 * -ENOENT when the file at its path is gone or no longer a socket. Else,
 * with sd_listen_fds(3) semantics, the one listening Unix stream socket
 * passed under any name (socket activation: the file is systemd's,
 * sf->activated); -EINVAL when several are, when the socket has no path,
 * or when a descriptor nobody took is passed and none listens. Returns 1
 * with sf ready (sf->fd, sf->path), 0 when nothing was passed (sf
 * initialised), or a negative errno with a message (nothing left open).
 */
int sockfile_inherit(struct sockfile *sf, struct fdstore *fs, struct errbuf *e);

/* Put the socket this daemon bound and its lock in the fd store as
 * "listen" and "lock", so that they outlive it; nothing for a socket taken
 * over or activated, or without a store. 0, or the errno of fdstore_put
 * with a message. */
int sockfile_store(const struct sockfile *sf, struct fdstore *fs, struct errbuf *e);

/*
 * Take the path: check (or create, one level, mode 0755) its directory and
 * refuse one others can write (-EPERM: owned by another user, or writable by
 * group or others without being root-owned and sticky); take PATH.lock
 * (-EADDRINUSE "another allocatord is serving PATH" when held); replace a
 * stale socket file, refuse a live one (-EADDRINUSE) or a file that is not a
 * socket (-EEXIST); then bind a new socket there with c's mode, set c's
 * group without following links, and check that the file is still the one
 * bound. On success sf->fd is bound (not listening yet). On error nothing is
 * left behind (lock released, file removed if we made it), message in e.
 */
int sockfile_bind(struct sockfile *sf, const char *path, const struct config *c, struct errbuf *e);

/*
 * At the stop, after the listener is closed: remove the socket file if it
 * is still the one we bound, then the lock file, and release the lock.
 * Nothing for an activated socket. Idempotent.
 */
void sockfile_release(struct sockfile *sf);

#endif
