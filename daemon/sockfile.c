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

#include "daemon/log.h"
#include "daemon/sockfile.h"
#include "proto/wire.h"

/* sd_listen_fds(3): passed descriptors start here. */
#define LISTEN_FDS_START 3

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

int sockfile_inherit(struct sockfile *sf, struct errbuf *e)
{
	const char *pid_s = getenv("LISTEN_PID"), *n_s = getenv("LISTEN_FDS");
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	char *end;
	long pid, n;
	int fd = -1;

	sockfile_init(sf);
	if (pid_s == NULL || n_s == NULL)
		return 0;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0)
		return errbuf_set(e, -EINVAL, "LISTEN_PID is not a process id: '%s'", pid_s);
	if (pid != (long) getpid())
		return 0; /* meant for another process (we were forked or exec'd) */
	n = strtol(n_s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > 1024)
		return errbuf_set(e, -EINVAL, "LISTEN_FDS is not a descriptor count: '%s'", n_s);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int i = LISTEN_FDS_START; i < LISTEN_FDS_START + n; i++) {
		if (fcntl(i, F_SETFD, FD_CLOEXEC) < 0)
			return errbuf_set(e, -EBADF,
					  "LISTEN_FDS is %ld but descriptor %d is not open", n, i);
		if (!is_unix_listener(i))
			continue;
		if (fd >= 0)
			return errbuf_set(e, -EINVAL,
					  "systemd passed several listening Unix sockets (%d and "
					  "%d): give allocatord one",
					  fd, i);
		fd = i;
	}
	if (fd < 0)
		return errbuf_set(
		    e, -EINVAL,
		    "systemd passed %ld descriptors (LISTEN_FDS) but no listening Unix "
		    "stream socket: use ListenStream= with a path",
		    n);
	if (getsockname(fd, (struct sockaddr *) &sun, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sun.sun_path[0] == '\0')
		return errbuf_set(e, -EINVAL,
				  "the socket systemd passed has no path (abstract or unnamed): "
				  "clients connect by path");
	snprintf(sf->path, sizeof(sf->path), "%.*s",
		 (int) (len - offsetof(struct sockaddr_un, sun_path)), sun.sun_path);
	sf->fd = fd;
	sf->activated = true;
	return 1;
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
