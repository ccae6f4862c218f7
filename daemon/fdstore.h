/*
 * fdstore: the descriptors that outlive the serving process, on both sides
 * of systemd's fd-store protocol, without libsystemd.
 *
 * Receiving (fdstore_init): what the previous serving process stored comes
 * back as descriptors 3 .. 3 + $LISTEN_FDS - 1, named by $LISTEN_FDNAMES
 * (colon-separated; "unknown" when the list is shorter, as sd_listen_fds
 * says), and only when $LISTEN_PID is this process. Sending: datagrams to
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket), the
 * sd_notify(3) text protocol: "FDSTORE=1\nFDNAME=x" with the descriptor in
 * SCM_RIGHTS, "FDSTOREREMOVE=1\nFDNAME=x", "READY=1", "STATUS=...". The
 * receiver is systemd (Type=notify, FileDescriptorStoreMax=) or allocatord's
 * own keeper (keeper.h), which sets $ALLOCATORD_KEEPER to its pid. Both
 * replace a stored descriptor by one put later under the same name.
 *
 * Names (no ':', printable ASCII, at most FDSTORE_NAME_MAX - 1 bytes):
 *   "state"          the books' state memfd, never sent to clients
 *   "books"          the books themselves
 *   "listen"         the listening socket, when the daemon made it
 *   "lock"           the socket path's lock file (PATH.lock) with its flock
 *                    held: while the store keeps it, no other allocatord
 *                    judges the socket file stale or takes the path, even
 *                    when no serving process runs (sockfile.h)
 *   "region.<name>"  a region's memfd, adopted by region_create
 *   "bits.<name>"    its shared-bits memfd (region.h: writable for the
 *                    daemon, read-only for clients), adopted with it, so
 *                    that a client's mapping of the bits stays the one the
 *                    daemon writes
 * An unnamed listening socket (socket activation: its name is the socket
 * unit's, or "unknown") is found by sockfile_inherit as before.
 *
 * The environment variables are unset by fdstore_init, so that nothing the
 * daemon starts takes them for its own.
 */
#ifndef ALLOCATORD_DAEMON_FDSTORE_H
#define ALLOCATORD_DAEMON_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "daemon/errbuf.h"

/* sd_listen_fds(3): passed descriptors start here. */
#define FDSTORE_FIRST_FD 3

/* A stored name's bytes with the NUL (systemd allows 255). */
#define FDSTORE_NAME_MAX 256

/* Descriptors a process may be passed (LISTEN_FDS): more is an error. */
#define FDSTORE_PASSED_MAX 1024

/* The exit status of a serving process that left everything to the next
 * one in the store (EX_TEMPFAIL): an upgrade's hand-over (SIGUSR2). */
#define FDSTORE_EXIT_HANDOVER 75

/* The environment variable the keeper sets to its pid in the serving
 * process. */
#define FDSTORE_KEEPER_ENV "ALLOCATORD_KEEPER"

struct fdstore_fd {
	char name[FDSTORE_NAME_MAX];
	int fd; /* -1 once taken */
};

struct fdstore {
	struct fdstore_fd *passed; /* what this process was given, in order */
	size_t npassed;
	int notify_fd; /* datagram socket to send on, -1 without a store */
	struct sockaddr_un notify;
	socklen_t notify_len;
	pid_t keeper; /* $ALLOCATORD_KEEPER, 0 when not run by a keeper */
};

/*
 * Read LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES (the passed descriptors are
 * made close-on-exec), NOTIFY_SOCKET and ALLOCATORD_KEEPER, then unset them
 * all. Nothing set: an empty store, not active. Returns 0, or -EINVAL with a
 * message naming the variable (malformed, a descriptor not open, more than
 * FDSTORE_PASSED_MAX, a NOTIFY_SOCKET that is neither a path nor "@name"),
 * or the errno of socket(2); on error fs is empty and the passed
 * descriptors are left as they were.
 */
int fdstore_init(struct fdstore *fs, struct errbuf *e);

/* The descriptor passed under name (the caller owns it from now on), or -1
 * when none was (or it was taken already). With several under one name
 * the first. O(passed). fs may be NULL (nothing passed). */
int fdstore_take(struct fdstore *fs, const char *name);

/* Was a descriptor passed under name and not taken yet? */
bool fdstore_has(const struct fdstore *fs, const char *name);

/*
 * The one passed descriptor, whatever its name, for which match(fd) is
 * true: 1 and *fd (the caller's from now on), 0 when none matches, or
 * -EEXIST when several do (none is taken; *fd is the second one, for the
 * message). For the socket systemd's socket activation passes.
 */
int fdstore_take_match(struct fdstore *fs, bool (*match)(int fd), int *fd);

/*
 * Store fd under name (FDSTORE=1, FDNAME=name, fd in SCM_RIGHTS). The
 * receiver gets its own copy: fd stays the caller's. With no store (fs NULL
 * or not active) 0 and nothing sent. Returns 0, -EINVAL for a bad name, or
 * the errno of sendmsg (-EAGAIN/-ENOBUFS: the receiver is not reading;
 * -ECONNREFUSED: nobody there; under systemd also refused silently when
 * FileDescriptorStoreMax= is reached: say so in the unit's docs).
 */
int fdstore_put(struct fdstore *fs, const char *name, int fd);

/* FDSTOREREMOVE=1 for name: the store closes what it holds under it.
 * 0 with no store; else as fdstore_put. */
int fdstore_remove(struct fdstore *fs, const char *name);

/* Is there a store to send to ($NOTIFY_SOCKET was set)? */
bool fdstore_active(const struct fdstore *fs);

/* Send one notify message, e.g. "READY=1" or "STATUS=serving 3 clients".
 * 0 with no store; else as fdstore_put. */
int fdstore_notify(struct fdstore *fs, const char *state);

/* Close every passed descriptor nobody took, and the notify socket. The
 * store's copies are not touched: closing ours removes nothing. */
void fdstore_fini(struct fdstore *fs);

#endif
