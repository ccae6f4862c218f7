/*
 * keeper: runs the serving process and keeps its fd store (see keeper.h).
 * One thread, one poll over two descriptors: the notify socket and a
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR2 are blocked and read
 * from it, so no handler runs between the two).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/keeper.h"
#include "daemon/log.h"

/* Longest datagram read: an FDNAME line and a STATUS= line fit. */
#define KEEPER_MSG_MAX 4096
/* Descriptors accepted per datagram (one is stored; more are refused). */
#define KEEPER_MSG_FDS        16
#define KEEPER_BACKOFF_MAX_MS 5000

struct kept {
	char name[FDSTORE_NAME_MAX];
	int fd;
};

struct keeper {
	char exe[PATH_MAX];
	char **argv;
	char notify[108]; /* "@allocatord-keeper-..." */
	int sock;
	int sigfd;
	sigset_t oldmask;
	struct kept store[KEEPER_STORE_MAX];
	size_t nstore;
	pid_t child;         /* the serving process, 0 while none runs */
	uint64_t started_ms; /* when it was started */
	bool ready;          /* it said READY=1 */
	bool stopping;       /* SIGTERM/SIGINT forwarded */
	unsigned fast;       /* fast deaths in a row */
	uint64_t ignored;    /* messages not from the serving process */
	unsigned starts;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void store_put(struct keeper *k, const char *name, int fd)
{
	for (size_t i = 0; i < k->nstore; i++) {
		if (strcmp(k->store[i].name, name) == 0) {
			close(k->store[i].fd);
			k->store[i].fd = fd;
			return;
		}
	}
	if (k->nstore == KEEPER_STORE_MAX) {
		log_error("keeper: fd store full (%d descriptors): \"%s\" refused and closed; "
			  "it will not survive a restart",
			  KEEPER_STORE_MAX, name);
		close(fd);
		return;
	}
	snprintf(k->store[k->nstore].name, FDSTORE_NAME_MAX, "%s", name);
	k->store[k->nstore++].fd = fd;
	log_debug("keeper: stored \"%s\" (%zu stored)", name, k->nstore);
}

static void store_remove(struct keeper *k, const char *name)
{
	for (size_t i = 0; i < k->nstore; i++) {
		if (strcmp(k->store[i].name, name) == 0) {
			close(k->store[i].fd);
			k->store[i] = k->store[--k->nstore];
			log_debug("keeper: removed \"%s\"", name);
			return;
		}
	}
}

/* The value of "KEY=" among text's lines, into out; false when absent. */
static bool field(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl != NULL ? (size_t) (nl - p) : strlen(p);

		if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int) (ll - kl - 1), p + kl + 1);
			return true;
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

/* One message of the serving process: text, with nfds descriptors. */
static void obey(struct keeper *k, const char *text, int *fds, size_t nfds)
{
	char name[FDSTORE_NAME_MAX], v[8];
	bool named = field(text, "FDNAME", name, sizeof(name));

	if (field(text, "READY", v, sizeof(v)) && strcmp(v, "1") == 0)
		k->ready = true;
	if (field(text, "STATUS", v, sizeof(v)))
		log_debug("keeper: %s", text);
	if (field(text, "FDSTOREREMOVE", v, sizeof(v)) && strcmp(v, "1") == 0 && named)
		store_remove(k, name);
	if (field(text, "FDSTORE", v, sizeof(v)) && strcmp(v, "1") == 0 && nfds > 0) {
		if (nfds == 1 && named && strchr(name, ':') == NULL) {
			store_put(k, name, fds[0]);
			return;
		}
		log_warn("keeper: FDSTORE of %zu descriptors named \"%s\" refused: one with "
			 "a name per message",
			 nfds, named ? name : "");
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Read every queued datagram. Those of anyone but the serving process (pid
 * from SCM_CREDENTIALS, which the kernel fills in) are dropped: the socket
 * is abstract, so any local process could send to it. */
static void keeper_read(struct keeper *k, pid_t from)
{
	char text[KEEPER_MSG_MAX + 1];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * KEEPER_MSG_FDS)];
	} u;

	for (;;) {
		struct iovec iov = {.iov_base = text, .iov_len = KEEPER_MSG_MAX};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen = sizeof(u.buf)};
		int fds[KEEPER_MSG_FDS];
		size_t nfds = 0;
		pid_t pid = 0;
		ssize_t n = recvmsg(k->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return; /* EAGAIN: all read */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
				struct ucred cr;

				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				pid = cr.pid;
			} else if (c->cmsg_type == SCM_RIGHTS) {
				size_t more = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				memcpy(fds + nfds, CMSG_DATA(c), more * sizeof(int));
				nfds += more;
			}
		}
		text[n] = '\0';
		if (pid == 0 || pid != from || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			/* Anyone may send: the 1st, 2nd, 4th, 8th ... are logged,
			 * so that a flood cannot flood the log. */
			k->ignored++;
			if ((k->ignored & (k->ignored - 1)) == 0)
				log_warn("keeper: ignored a message from pid %d%s (%llu so far)",
					 (int) pid,
					 (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
					     ? " (truncated)"
					     : " (not the serving process)",
					 (unsigned long long) k->ignored);
			while (nfds > 0)
				close(fds[--nfds]);
			continue;
		}
		obey(k, text, fds, nfds);
	}
}

/* In the forked child: the stored descriptors as 3, 4, ... (above the
 * range first, so that none overwrites another), named in LISTEN_*. */
static void child_pass_fds(struct keeper *k)
{
	char names[KEEPER_STORE_MAX * FDSTORE_NAME_MAX], num[24];
	size_t at = 0;
	int tmp[KEEPER_STORE_MAX];

	for (size_t i = 0; i < k->nstore; i++)
		tmp[i] = fcntl(k->store[i].fd, F_DUPFD_CLOEXEC, FDSTORE_FIRST_FD + (int) k->nstore);
	names[0] = '\0';
	for (size_t i = 0; i < k->nstore; i++) {
		dup2(tmp[i], FDSTORE_FIRST_FD + (int) i); /* without FD_CLOEXEC */
		at += (size_t) snprintf(names + at, sizeof(names) - at, "%s%s", i ? ":" : "",
					k->store[i].name);
	}
	snprintf(num, sizeof(num), "%d", (int) getpid());
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%zu", k->nstore);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

static int keeper_start(struct keeper *k)
{
	char num[24];
	pid_t pid = fork();

	if (pid < 0) {
		log_error("keeper: cannot start the serving process: fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &k->oldmask, NULL);
		snprintf(num, sizeof(num), "%d", (int) getppid());
		setenv("NOTIFY_SOCKET", k->notify, 1);
		setenv(FDSTORE_KEEPER_ENV, num, 1);
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		if (k->nstore > 0)
			child_pass_fds(k);
		execv(k->exe, k->argv);
		log_error("keeper: cannot run %s: %s", k->exe, strerror(errno));
		_exit(127);
	}
	k->child = pid;
	k->ready = false;
	k->started_ms = now_ms();
	k->starts++;
	log_info("keeper: serving process %d started (%s, %zu descriptor%s passed)", (int) pid,
		 k->exe, k->nstore, log_s(k->nstore));
	return 0;
}

/*
 * An upgrade, once the serving process has handed over: the keeper runs
 * the binary now on disk in its own place (same pid, so whoever started it
 * still waits for it), which starts the new serving process. The store
 * goes across the exec as it is, listed in KEEPER_STORE_ENV as
 * "fd=name:fd=name..."; its signals stay blocked, so one sent meanwhile
 * waits for the new keeper. Returns only if the exec failed (logged): the
 * store is as it was and this keeper carries on.
 */
static void keeper_reexec(struct keeper *k)
{
	char list[KEEPER_STORE_MAX * (FDSTORE_NAME_MAX + 16)];
	size_t at = 0;

	list[0] = '\0';
	for (size_t i = 0; i < k->nstore; i++) {
		fcntl(k->store[i].fd, F_SETFD, 0);
		at += (size_t) snprintf(list + at, sizeof(list) - at, "%s%d=%s", i ? ":" : "",
					k->store[i].fd, k->store[i].name);
	}
	setenv(KEEPER_STORE_ENV, list, 1);
	execv(k->exe, k->argv);
	log_error("keeper: cannot run %s: %s: this keeper goes on", k->exe, strerror(errno));
	unsetenv(KEEPER_STORE_ENV);
	for (size_t i = 0; i < k->nstore; i++)
		fcntl(k->store[i].fd, F_SETFD, FD_CLOEXEC);
}

/* The store a keeper before this exec passed in KEEPER_STORE_ENV. */
static void keeper_adopt_store(struct keeper *k)
{
	const char *p = getenv(KEEPER_STORE_ENV);
	char name[FDSTORE_NAME_MAX];
	int fd, used;

	while (p != NULL && *p != '\0') {
		if (sscanf(p, "%d=%255[^:]%n", &fd, name, &used) != 2 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			log_error("keeper: %s is malformed at '%s': the rest is not kept",
				  KEEPER_STORE_ENV, p);
			break;
		}
		store_put(k, name, fd);
		p += used;
		p += *p == ':';
	}
	unsetenv(KEEPER_STORE_ENV);
}

/* What became of the serving process, for the log. */
static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended (wait status 0x%x)", (unsigned) status);
}

/* The serving process ended with status: -1 to start another after
 * *delay_ms, or the keeper's exit status. */
static int keeper_reaped(struct keeper *k, int status, uint64_t *delay_ms)
{
	uint64_t lived = now_ms() - k->started_ms;
	char what[96];

	describe(status, what, sizeof(what));
	k->child = 0;
	if (k->stopping) {
		log_info("keeper: serving process %s: stopped", what);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("keeper: serving process stopped cleanly: stopping");
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && !k->ready) {
		log_error("keeper: serving process failed at start-up (exit status 1, see above): "
			  "not restarting");
		return 1;
	}
	*delay_ms = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == FDSTORE_EXIT_HANDOVER) {
		k->fast = 0;
		log_info("keeper: serving process handed over: running %s", k->exe);
		keeper_reexec(k);
		return -1;
	}
	k->fast = lived < KEEPER_FAST_MS ? k->fast + 1 : 0;
	if (k->fast > 2) {
		*delay_ms = (uint64_t) 100 << (k->fast - 3 < 6 ? k->fast - 3 : 6);
		if (*delay_ms > KEEPER_BACKOFF_MAX_MS)
			*delay_ms = KEEPER_BACKOFF_MAX_MS;
	}
	if (*delay_ms > 0)
		log_warn("keeper: serving process %s after %llu ms: starting another in %llu ms "
			 "(%u fast deaths in a row)",
			 what, (unsigned long long) lived, (unsigned long long) *delay_ms, k->fast);
	else
		log_warn("keeper: serving process %s after %llu ms: starting another", what,
			 (unsigned long long) lived);
	return -1;
}

/* One signal from the signalfd: -1 to go on, or the keeper's exit status. */
static int keeper_signal(struct keeper *k, int sig, uint64_t *delay_ms)
{
	int status;
	pid_t pid;

	switch (sig) {
	case SIGCHLD:
		/* Its last messages were sent before it died: read them first. */
		keeper_read(k, k->child);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == k->child)
				return keeper_reaped(k, status, delay_ms);
		return -1;
	case SIGTERM:
	case SIGINT:
		if (k->child == 0) {
			log_info("keeper: caught %s while no serving process runs: stopping",
				 strsignal(sig));
			return 0;
		}
		log_info("keeper: caught %s: stopping the serving process", strsignal(sig));
		k->stopping = true;
		kill(k->child, SIGTERM);
		return -1;
	default: /* SIGHUP, SIGUSR2 */
		if (k->child != 0) {
			log_info("keeper: caught %s: passed on to the serving process",
				 strsignal(sig));
			kill(k->child, sig);
		}
		return -1;
	}
}

static int keeper_loop(struct keeper *k)
{
	uint64_t delay = 0, due = 0;
	int rc = -1;

	while (rc < 0) {
		struct pollfd p[2] = {{.fd = k->sigfd, .events = POLLIN},
				      {.fd = k->sock, .events = POLLIN}};
		struct signalfd_siginfo si;
		int timeout = -1;

		if (k->child == 0) {
			uint64_t now = now_ms();

			if (now >= due) {
				if (keeper_start(k) < 0)
					return 1;
			} else {
				timeout = (int) (due - now);
			}
		}
		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			log_error("keeper: poll: %s", strerror(errno));
			return 1;
		}
		if (p[1].revents & POLLIN)
			keeper_read(k, k->child);
		if ((p[0].revents & POLLIN) && read(k->sigfd, &si, sizeof(si)) == sizeof(si)) {
			rc = keeper_signal(k, (int) si.ssi_signo, &delay);
			if (rc < 0 && k->child == 0)
				due = now_ms() + delay;
		}
	}
	return rc;
}

/* The notify socket: abstract, a random name, credentials on. */
static int keeper_socket(struct keeper *k)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	unsigned char rnd[8];
	int one = 1;
	size_t len;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	snprintf(k->notify, sizeof(k->notify),
		 "@allocatord-keeper-%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int) getpid(), rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	len = strlen(k->notify);
	memcpy(sun.sun_path + 1, k->notify + 1, len - 1);
	k->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (k->sock < 0)
		return -errno;
	if (setsockopt(k->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(k->sock, (struct sockaddr *) &sun,
		 (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		return -errno;
	return 0;
}

int keeper_run(char **argv, struct fdstore *passed)
{
	static struct keeper k; /* the store is a few KiB: not on the stack */
	sigset_t set;
	ssize_t n;
	int rc;

	memset(&k, 0, sizeof(k));
	k.argv = argv;
	k.sock = k.sigfd = -1;
	n = readlink("/proc/self/exe", k.exe, sizeof(k.exe) - 1);
	if (n <= 0 || (size_t) n >= sizeof(k.exe) - 1) {
		log_error("keeper: cannot find its own binary (/proc/self/exe): %s",
			  n < 0 ? strerror(errno) : "path too long");
		return 1;
	}
	k.exe[n] = '\0';
	rc = keeper_socket(&k);
	if (rc < 0) {
		log_error("keeper: cannot make its notify socket: %s", strerror(-rc));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &k.oldmask);
	/* After an upgrade's exec they arrive blocked already (keeper_reexec):
	 * the serving process must get them unblocked all the same. */
	sigdelset(&k.oldmask, SIGCHLD);
	sigdelset(&k.oldmask, SIGTERM);
	sigdelset(&k.oldmask, SIGINT);
	sigdelset(&k.oldmask, SIGHUP);
	sigdelset(&k.oldmask, SIGUSR2);
	k.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (k.sigfd < 0) {
		log_error("keeper: signalfd: %s", strerror(errno));
		close(k.sock);
		return 1;
	}
	/* What it was given (socket activation without NOTIFY_SOCKET) is
	 * passed on to every serving process. */
	for (size_t i = 0; i < passed->npassed && k.nstore < KEEPER_STORE_MAX; i++) {
		k.store[k.nstore] = (struct kept){.fd = passed->passed[i].fd};
		memcpy(k.store[k.nstore++].name, passed->passed[i].name, FDSTORE_NAME_MAX);
		passed->passed[i].fd = -1;
	}
	keeper_adopt_store(&k);
	log_info("keeper %d: running %s", (int) getpid(), k.exe);
	rc = keeper_loop(&k);
	for (size_t i = 0; i < k.nstore; i++)
		close(k.store[i].fd);
	close(k.sigfd);
	close(k.sock);
	return rc;
}
