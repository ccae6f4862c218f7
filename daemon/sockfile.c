/*
 * sockfile: which path the daemon listens on and the file there (see
 * sockfile.h). A file at the path is replaced only by the holder of the lock
 * beside it, and only when it is a socket no daemon accepts on.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/fdstore.h"
#include "daemon/log.h"
#include "daemon/sockfile.h"
#include "proto/wire.h"

int sockfile_resolve(const char *cli, const struct config *c, char *out, size_t outlen,
		     struct errbuf *e)
{
	struct sockaddr_un sun;
	const char *path = cli;
	int n;

	if (path == NULL || *path == '\0')
		path = getenv(WIRE_SOCKET_ENV);
	if (path == NULL || *path == '\0')
		path = c->socket_path;
	if (path != NULL && *path != '\0') {
		n = snprintf(out, outlen, "%s", path);
	} else {
		n = wire_socket_default(out, outlen, geteuid() == 0);
		if (n == -ENOENT)
			return errbuf_set(e, -ENOENT,
					  "no socket path: give -s PATH, set ALLOCATORD_SOCKET or "
					  "socket.path, or run with XDG_RUNTIME_DIR set");
	}
	if (n < 0 || (size_t) n >= outlen || (size_t) n >= sizeof(sun.sun_path))
		return errbuf_set(e, -ENAMETOOLONG,
				  "socket path is too long (%d bytes, at most %zu): %s", n,
				  sizeof(sun.sun_path) - 1, path ? path : out);
	return 0;
}

/* Is a daemon accepting on path? 1 yes, 0 no (stale), <0 cannot tell. */
static int sockfile_live(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
	rc = rc == 0 ? 1 : errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
	close(fd);
	return rc;
}

/* Is fd a listening Unix stream socket? */
static bool is_unix_listener(int fd)
{
	int type = 0, domain = 0, acc = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(domain), l3 = sizeof(acc);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l2) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l3) == 0 && type == SOCK_STREAM &&
	       domain == AF_UNIX && acc;
}

static void sockfile_init(struct sockfile *sf)
{
	memset(sf, 0, sizeof(*sf));
	sf->lock_fd = sf->fd = -1;
}

static int sockfile_lock(struct sockfile *sf, struct errbuf *e);

/* The path a passed listening socket is bound to, into sf->path. */
static int bound_path(struct sockfile *sf, int fd, const char *what, struct errbuf *e)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	if (getsockname(fd, (struct sockaddr *) &sun, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sun.sun_path[0] == '\0')
		return errbuf_set(e, -EINVAL,
				  "the socket %s has no path (abstract or unnamed): clients "
				  "connect by path",
				  what);
	snprintf(sf->path, sizeof(sf->path), "%.*s",
		 (int) (len - offsetof(struct sockaddr_un, sun_path)), sun.sun_path);
	return 0;
}

/* Socket activation: the one listening socket systemd passed. */
static int sockfile_activated(struct sockfile *sf, struct fdstore *fs, struct errbuf *e)
{
	int fd = -1, rc = fdstore_take_match(fs, is_unix_listener, &fd);

	if (rc == -EEXIST)
		return errbuf_set(e, -EINVAL,
				  "systemd passed several listening Unix sockets (descriptor %d "
				  "is one more): give allocatord one",
				  fd);
	/* What the daemon stored has been taken by now (regions, state):
	 * anything left was meant as the socket. */
	for (size_t i = 0; rc == 0 && fs != NULL && i < fs->npassed; i++)
		if (fs->passed[i].fd >= 0)
			return errbuf_set(
			    e, -EINVAL,
			    "descriptor %d (\"%s\") was passed (LISTEN_FDS) but no "
			    "listening Unix stream socket: under systemd use ListenStream= "
			    "with a path",
			    fs->passed[i].fd, fs->passed[i].name);
	if (rc == 0)
		return 0;
	sf->fd = fd;
	rc = bound_path(sf, fd, "systemd passed", e);
	if (rc < 0)
		return rc;
	sf->activated = true;
	return 1;
}

/* The socket and lock a previous serving process stored ("listen",
 * "lock"): the file at the path is ours as if we had bound it. The lock,
 * kept by the store, is the same open file and so still ours; a store
 * without it (a lock fd closed, an older daemon) means taking it again,
 * which works unless another allocatord has it. */
static int sockfile_adopt(struct sockfile *sf, struct fdstore *fs, int fd, struct errbuf *e)
{
	struct stat held, there;
	int rc;

	sf->fd = fd;
	if (!is_unix_listener(fd))
		return errbuf_set(
		    e, -EINVAL, "the fd store's \"listen\" is not a listening Unix stream socket");
	rc = bound_path(sf, fd, "taken over", e);
	if (rc < 0)
		return rc;
	snprintf(sf->lock_path, sizeof(sf->lock_path), "%s.lock", sf->path);
	sf->lock_fd = fdstore_take(fs, "lock");
	if (sf->lock_fd >= 0 &&
	    (fstat(sf->lock_fd, &held) < 0 || lstat(sf->lock_path, &there) < 0 ||
	     held.st_dev != there.st_dev || held.st_ino != there.st_ino ||
	     flock(sf->lock_fd, LOCK_EX | LOCK_NB) < 0)) {
		log_warn("the fd store's \"lock\" is not %s held: taking it again", sf->lock_path);
		close(sf->lock_fd);
		sf->lock_fd = -1;
	}
	rc = sf->lock_fd < 0 ? sockfile_lock(sf, e) : 0;
	if (rc < 0)
		return rc;
	if (lstat(sf->path, &there) < 0 || !S_ISSOCK(there.st_mode))
		return errbuf_set(e, -ENOENT,
				  "the socket file %s was removed or replaced while no allocatord "
				  "served: clients cannot find the socket taken over",
				  sf->path);
	/* Only the lock's holder replaces the file: it is still ours. */
	sf->dev = there.st_dev;
	sf->ino = there.st_ino;
	sf->bound = true;
	sf->adopted = true;
	return 1;
}

int sockfile_inherit(struct sockfile *sf, struct fdstore *fs, struct errbuf *e)
{
	int fd = fdstore_take(fs, "listen"), rc;

	sockfile_init(sf);
	rc = fd >= 0 ? sockfile_adopt(sf, fs, fd, e) : sockfile_activated(sf, fs, e);
	if (rc < 0) {
		if (sf->fd >= 0)
			close(sf->fd);
		sf->fd = -1;
		sf->bound = false;
		if (sf->lock_fd >= 0)
			close(sf->lock_fd); /* never unlinked: the store may hold it */
		sf->lock_fd = -1;
	}
	return rc;
}

int sockfile_store(const struct sockfile *sf, struct fdstore *fs, struct errbuf *e)
{
	int rc = 0;

	if (sf->activated || sf->adopted)
		return 0;
	rc = fdstore_put(fs, "listen", sf->fd);
	if (rc == 0)
		rc = fdstore_put(fs, "lock", sf->lock_fd);
	if (rc < 0)
		return errbuf_set(e, rc, "cannot hand the socket %s to the fd store: %s", sf->path,
				  strerror(-rc));
	return 0;
}

/* Refuse a directory that anyone but us (or root) could write: they could
 * swap the socket file for a link between bind and fchownat, or remove it. A
 * root-owned sticky directory (/tmp) is safe: nobody removes another's file
 * there. Creates a missing directory (one level) as our own, mode 0755. */
static int sockfile_check_dir(const char *path, struct errbuf *e)
{
	char buf[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	const char *dir;
	struct stat st;
	int rc;

	/* dirname may return a static "." instead of changing buf */
	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		return errbuf_set(e, rc, "cannot create the socket's directory for %s: %s", path,
				  strerror(-rc));
	}
	if (stat(dir, &st) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "socket directory %s: %s", dir, strerror(-rc));
	}
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return errbuf_set(e, -EPERM,
				  "socket directory %s belongs to uid %u, who could replace the "
				  "socket: use a directory of uid %u or root",
				  dir, (unsigned) st.st_uid, (unsigned) geteuid());
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(st.st_uid == 0 && (st.st_mode & S_ISVTX)))
		return errbuf_set(e, -EPERM,
				  "socket directory %s is writable by %s (mode %04o): others could "
				  "replace the socket; remove that write permission or make it a "
				  "root-owned sticky directory",
				  dir, (st.st_mode & S_IWOTH) ? "everyone" : "its group",
				  (unsigned) (st.st_mode & 07777));
	return 0;
}

/* Hold PATH.lock. A lock file removed by its previous holder between our
 * open and flock would leave us holding a lock nobody else sees: retry until
 * the locked file is the one at the path. */
static int sockfile_lock(struct sockfile *sf, struct errbuf *e)
{
	struct stat held, there;
	int rc;

	for (int tries = 0; tries < 100; tries++) {
		sf->lock_fd = open(sf->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (sf->lock_fd < 0) {
			rc = -errno;
			return errbuf_set(e, rc, "cannot open the lock file %s: %s", sf->lock_path,
					  strerror(-rc));
		}
		if (flock(sf->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			rc = -errno;
			close(sf->lock_fd);
			sf->lock_fd = -1;
			if (rc == -EWOULDBLOCK)
				return errbuf_set(e, -EADDRINUSE,
						  "another allocatord is serving %s (it holds %s)",
						  sf->path, sf->lock_path);
			return errbuf_set(e, rc, "cannot lock %s: %s", sf->lock_path,
					  strerror(-rc));
		}
		if (fstat(sf->lock_fd, &held) == 0 && lstat(sf->lock_path, &there) == 0 &&
		    held.st_dev == there.st_dev && held.st_ino == there.st_ino)
			return 0;
		close(sf->lock_fd);
		sf->lock_fd = -1;
	}
	return errbuf_set(e, -EAGAIN, "cannot lock %s: it keeps being replaced", sf->lock_path);
}

/* With the lock held: clear the path for bind. */
static int sockfile_clear(const struct sockfile *sf, struct errbuf *e)
{
	struct stat st;
	int rc;

	if (lstat(sf->path, &st) < 0)
		return errno == ENOENT ? 0
				       : errbuf_set(e, -errno, "%s: %s", sf->path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return errbuf_set(e, -EEXIST, "%s exists and is not a socket: not replacing it",
				  sf->path);
	/* A daemon that predates the lock, or anything else listening there. */
	rc = sockfile_live(sf->path);
	if (rc > 0)
		return errbuf_set(e, -EADDRINUSE, "another allocatord is serving %s", sf->path);
	if (rc < 0)
		return errbuf_set(e, rc, "cannot tell whether %s is in use: %s", sf->path,
				  strerror(-rc));
	if (unlink(sf->path) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "cannot remove stale socket %s: %s", sf->path,
				  strerror(-rc));
	}
	log_info("removed stale socket %s", sf->path);
	return 0;
}

/* Bind sf->fd at sf->path, born with c's mode (the socket inode starts
 * 0777; the umask takes away the rest), then give it c's group without
 * following a link, and make sure the file is still ours. */
static int sockfile_make(struct sockfile *sf, const struct config *c, struct errbuf *e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int rc;

	memcpy(sun.sun_path, sf->path, strlen(sf->path) + 1);
	sf->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sf->fd < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "socket: %s", strerror(-rc));
	}
	old = umask(~c->socket_mode & 0777);
	rc = bind(sf->fd, (struct sockaddr *) &sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (rc < 0)
		return errbuf_set(e, rc, "bind %s: %s", sf->path, strerror(-rc));
	if (lstat(sf->path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return errbuf_set(e, -EPERM, "%s was replaced right after bind: not serving there",
				  sf->path);
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	sf->bound = true;
	if (c->socket_group_set &&
	    fchownat(AT_FDCWD, sf->path, (uid_t) -1, c->socket_group, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "chgrp %u %s: %s", (unsigned) c->socket_group, sf->path,
				  strerror(-rc));
	}
	if (lstat(sf->path, &st) < 0 || st.st_dev != sf->dev || st.st_ino != sf->ino)
		return errbuf_set(e, -EPERM, "%s was replaced during start-up: not serving there",
				  sf->path);
	return 0;
}

int sockfile_bind(struct sockfile *sf, const char *path, const struct config *c, struct errbuf *e)
{
	int rc;

	sockfile_init(sf);
	snprintf(sf->path, sizeof(sf->path), "%s", path);
	snprintf(sf->lock_path, sizeof(sf->lock_path), "%s.lock", sf->path);
	rc = sockfile_check_dir(sf->path, e);
	if (rc == 0)
		rc = sockfile_lock(sf, e);
	if (rc == 0)
		rc = sockfile_clear(sf, e);
	if (rc == 0)
		rc = sockfile_make(sf, c, e);
	if (rc < 0) {
		if (sf->fd >= 0)
			close(sf->fd);
		sf->fd = -1;
		sockfile_release(sf);
	}
	return rc;
}

void sockfile_release(struct sockfile *sf)
{
	struct stat st;

	if (sf->bound && lstat(sf->path, &st) == 0 && st.st_dev == sf->dev && st.st_ino == sf->ino)
		unlink(sf->path);
	sf->bound = false;
	if (sf->lock_fd >= 0) {
		/* Removed while still held: whoever opened it meanwhile sees
		 * the inode change and retries (sockfile_lock). */
		unlink(sf->lock_path);
		close(sf->lock_fd);
		sf->lock_fd = -1;
	}
}
