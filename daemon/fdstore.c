/*
 * fdstore: reading what was passed (LISTEN_*) and speaking sd_notify to the
 * store (see fdstore.h). No libsystemd: the protocol is a few lines, and
 * the keeper, which is not systemd, receives the same datagrams.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/fdstore.h"

/* Parse a whole decimal number in [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= min && *out <= max ? 0 : -EINVAL;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= FDSTORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == ':' || name[i] < 0x21 || name[i] > 0x7e)
			return false;
	return true;
}

/* The passed descriptors, named from names (may be NULL). */
static int read_passed(struct fdstore *fs, long n, const char *names, struct errbuf *e)
{
	const char *p = names;

	fs->passed = calloc((size_t) n ? (size_t) n : 1, sizeof(*fs->passed));
	if (fs->passed == NULL)
		return errbuf_set(e, -ENOMEM, "%s", strerror(ENOMEM));
	for (long i = 0; i < n; i++) {
		struct fdstore_fd *f = &fs->passed[i];
		size_t len = p != NULL ? strcspn(p, ":") : 0;

		f->fd = FDSTORE_FIRST_FD + (int) i;
		if (fcntl(f->fd, F_GETFD) < 0)
			return errbuf_set(e, -EINVAL,
					  "LISTEN_FDS is %ld but descriptor %d is not open", n,
					  f->fd);
		if (p == NULL || len == 0 || len >= sizeof(f->name))
			snprintf(f->name, sizeof(f->name), "unknown");
		else
			snprintf(f->name, sizeof(f->name), "%.*s", (int) len, p);
		if (p != NULL)
			p = p[len] == ':' ? p + len + 1 : NULL;
	}
	fs->npassed = (size_t) n;
	return 0;
}

static int read_notify(struct fdstore *fs, const char *addr, struct errbuf *e)
{
	size_t len = strlen(addr);
	int rc;

	if ((addr[0] != '/' && addr[0] != '@') || len < 2 || len >= sizeof(fs->notify.sun_path))
		return errbuf_set(e, -EINVAL,
				  "NOTIFY_SOCKET '%s' is neither a socket path nor an abstract "
				  "socket (@name) of at most %zu bytes",
				  addr, sizeof(fs->notify.sun_path) - 1);
	fs->notify.sun_family = AF_UNIX;
	memcpy(fs->notify.sun_path, addr, len);
	if (addr[0] == '@')
		fs->notify.sun_path[0] = '\0';
	fs->notify_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
	fs->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fs->notify_fd < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "NOTIFY_SOCKET: socket: %s", strerror(-rc));
	}
	return 0;
}

int fdstore_init(struct fdstore *fs, struct errbuf *e)
{
	const char *pid_s = getenv("LISTEN_PID"), *n_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES"), *notify = getenv("NOTIFY_SOCKET");
	const char *keeper = getenv(FDSTORE_KEEPER_ENV);
	long pid = 0, n = 0, kp = 0;
	int rc = 0;

	memset(fs, 0, sizeof(*fs));
	fs->notify_fd = -1;
	if (pid_s != NULL && parse_long(pid_s, 1, INT32_MAX, &pid) < 0)
		return errbuf_set(e, -EINVAL, "LISTEN_PID is not a process id: '%s'", pid_s);
	/* Meant for this process only: not for one it was forked from. */
	if (pid == (long) getpid() && n_s != NULL && parse_long(n_s, 0, FDSTORE_PASSED_MAX, &n) < 0)
		return errbuf_set(e, -EINVAL,
				  "LISTEN_FDS is not a descriptor count (0 to %d): '%s'",
				  FDSTORE_PASSED_MAX, n_s);
	if (keeper != NULL && parse_long(keeper, 1, INT32_MAX, &kp) < 0)
		return errbuf_set(e, -EINVAL, "%s is not a process id: '%s'", FDSTORE_KEEPER_ENV,
				  keeper);
	if (pid == (long) getpid())
		rc = read_passed(fs, n, names, e);
	if (rc == 0 && notify != NULL && *notify != '\0')
		rc = read_notify(fs, notify, e);
	if (rc < 0) {
		free(fs->passed);
		if (fs->notify_fd >= 0)
			close(fs->notify_fd);
		memset(fs, 0, sizeof(*fs));
		fs->notify_fd = -1;
		return rc;
	}
	for (size_t i = 0; i < fs->npassed; i++)
		fcntl(fs->passed[i].fd, F_SETFD, FD_CLOEXEC);
	fs->keeper = (pid_t) kp;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("NOTIFY_SOCKET");
	unsetenv(FDSTORE_KEEPER_ENV);
	return 0;
}

static struct fdstore_fd *find(const struct fdstore *fs, const char *name)
{
	for (size_t i = 0; fs != NULL && i < fs->npassed; i++)
		if (fs->passed[i].fd >= 0 && strcmp(fs->passed[i].name, name) == 0)
			return &fs->passed[i];
	return NULL;
}

int fdstore_take(struct fdstore *fs, const char *name)
{
	struct fdstore_fd *f = find(fs, name);
	int fd = f != NULL ? f->fd : -1;

	if (f != NULL)
		f->fd = -1;
	return fd;
}

bool fdstore_has(const struct fdstore *fs, const char *name)
{
	return find(fs, name) != NULL;
}

int fdstore_take_match(struct fdstore *fs, bool (*match)(int fd), int *fd)
{
	struct fdstore_fd *hit = NULL;

	for (size_t i = 0; fs != NULL && i < fs->npassed; i++) {
		struct fdstore_fd *f = &fs->passed[i];

		if (f->fd < 0 || !match(f->fd))
			continue;
		if (hit != NULL) {
			*fd = f->fd;
			return -EEXIST;
		}
		hit = f;
	}
	if (hit == NULL)
		return 0;
	*fd = hit->fd;
	hit->fd = -1;
	return 1;
}

bool fdstore_active(const struct fdstore *fs)
{
	return fs != NULL && fs->notify_fd >= 0;
}

/* One datagram of text, with fd in SCM_RIGHTS when fd >= 0. */
static int send_text(struct fdstore *fs, const char *text, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = (void *) text, .iov_len = strlen(text)};
	struct msghdr m = {
	    .msg_name = &fs->notify,
	    .msg_namelen = fs->notify_len,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	};

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		u.h.cmsg_level = SOL_SOCKET;
		u.h.cmsg_type = SCM_RIGHTS;
		u.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&u.h), &fd, sizeof(int));
	}
	return sendmsg(fs->notify_fd, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int send_named(struct fdstore *fs, const char *what, const char *name, int fd)
{
	char text[FDSTORE_NAME_MAX + 32];

	if (!name_ok(name))
		return -EINVAL;
	if (!fdstore_active(fs))
		return 0;
	snprintf(text, sizeof(text), "%s\nFDNAME=%s", what, name);
	return send_text(fs, text, fd);
}

int fdstore_put(struct fdstore *fs, const char *name, int fd)
{
	return send_named(fs, "FDSTORE=1", name, fd);
}

int fdstore_remove(struct fdstore *fs, const char *name)
{
	return send_named(fs, "FDSTOREREMOVE=1", name, -1);
}

int fdstore_notify(struct fdstore *fs, const char *state)
{
	return fdstore_active(fs) ? send_text(fs, state, -1) : 0;
}

void fdstore_fini(struct fdstore *fs)
{
	for (size_t i = 0; i < fs->npassed; i++)
		if (fs->passed[i].fd >= 0)
			close(fs->passed[i].fd);
	if (fs->notify_fd >= 0)
		close(fs->notify_fd);
	free(fs->passed);
	memset(fs, 0, sizeof(*fs));
	fs->notify_fd = -1;
}
