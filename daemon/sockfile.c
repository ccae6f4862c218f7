/*
 * sockfile: which path the daemon listens on and the file there (see
 * sockfile.h). A file at the path is replaced only when it is a socket no
 * daemon accepts on.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

int sockfile_prepare(const char *path, struct errbuf *e)
{
	char dir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	struct stat st;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		return errbuf_set(e, rc, "cannot create the socket's directory for %s: %s", path,
				  strerror(-rc));
	}
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return errbuf_set(e, -EEXIST, "%s exists and is not a socket: not replacing it",
				  path);
	rc = sockfile_live(path);
	if (rc > 0)
		return errbuf_set(e, -EADDRINUSE, "another allocatord is serving %s", path);
	if (rc < 0)
		return errbuf_set(e, rc, "cannot tell whether %s is in use: %s", path,
				  strerror(-rc));
	if (unlink(path) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "cannot remove stale socket %s: %s", path, strerror(-rc));
	}
	log_info("removed stale socket %s", path);
	return 0;
}

int sockfile_set_access(const char *path, const struct config *c, struct errbuf *e)
{
	int rc;

	if (chmod(path, c->socket_mode) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "chmod %04o %s: %s", (unsigned) c->socket_mode, path,
				  strerror(-rc));
	}
	if (c->socket_group_set && chown(path, (uid_t) -1, c->socket_group) < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "chgrp %u %s: %s", (unsigned) c->socket_group, path,
				  strerror(-rc));
	}
	return 0;
}
