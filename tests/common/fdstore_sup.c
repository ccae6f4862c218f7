/*
 * The fd-store supervisor of tests (see fdstore_sup.h): the receiving half
 * of systemd's protocol, written again here on purpose -- the daemon's
 * keeper is what is under test, so this must not share its code.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/common/fdstore_sup.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void store(struct test_sup *s, const char *name, int fd)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->fds[i].name, name) == 0) {
			close(s->fds[i].fd);
			s->fds[i].fd = fd;
			return;
		}
	}
	if (s->n == TEST_SUP_MAX) {
		close(fd);
		return;
	}
	snprintf(s->fds[s->n].name, sizeof(s->fds[s->n].name), "%s", name);
	s->fds[s->n++].fd = fd;
}

static void drop(struct test_sup *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->fds[i].name, name) == 0) {
			close(s->fds[i].fd);
			s->fds[i] = s->fds[--s->n];
			return;
		}
	}
}

void test_sup_collect(struct test_sup *s)
{
	char text[4097], name[256];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;

	for (;;) {
		struct iovec iov = {.iov_base = text, .iov_len = sizeof(text) - 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *c;
		const char *p;
		ssize_t n = recvmsg(s->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int fd = -1;

		if (n < 0)
			return;
		text[n] = '\0';
		c = CMSG_FIRSTHDR(&m);
		if (c != NULL && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		name[0] = '\0';
		p = strstr(text, "FDNAME=");
		if (p != NULL)
			sscanf(p + 7, "%255[^\n]", name);
		if (strstr(text, "READY=1") != NULL)
			s->ready = true;
		if (strncmp(text, "FDSTORE=1", 9) == 0 && fd >= 0 && name[0] != '\0')
			store(s, name, fd);
		else if (fd >= 0)
			close(fd);
		if (strncmp(text, "FDSTOREREMOVE=1", 15) == 0)
			drop(s, name);
	}
}

int test_sup_fd(const struct test_sup *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->fds[i].name, name) == 0)
			return s->fds[i].fd;
	return -1;
}

static void dump_log(const struct test_sup *s)
{
	char buf[8192];
	FILE *f = fopen(s->log, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "--- allocatord log (%s) ---\n%s--- end of log ---\n", s->log, buf);
}

/* Fork and exec allocatord with the store passed, then wait for READY=1. */
static int spawn(struct test_sup *s)
{
	char bin[512];
	int status;

	test_build_path("daemon/allocatord", bin, sizeof(bin));
	s->ready = false;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		char names[TEST_SUP_MAX * 257] = "", num[24];
		int tmp[TEST_SUP_MAX], log = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(log, STDERR_FILENO);
		dup2(log, STDOUT_FILENO);
		for (size_t i = 0; i < s->n; i++)
			tmp[i] = fcntl(s->fds[i].fd, F_DUPFD_CLOEXEC, 3 + (int) s->n);
		for (size_t i = 0; i < s->n; i++) {
			dup2(tmp[i], 3 + (int) i);
			strcat(names, i ? ":" : "");
			strcat(names, s->fds[i].name);
		}
		snprintf(num, sizeof(num), "%d", (int) getpid());
		setenv("LISTEN_PID", num, 1);
		snprintf(num, sizeof(num), "%zu", s->n);
		setenv("LISTEN_FDS", num, 1);
		setenv("LISTEN_FDNAMES", names, 1);
		setenv("NOTIFY_SOCKET", s->notify, 1);
		unsetenv("ALLOCATORD_SOCKET");
		unsetenv("ALLOCATORD_KEEPER");
		/* Under valgrind as the other tests' daemons are: it runs the
		 * program in this very process, so LISTEN_PID still fits. */
		if (test_under_valgrind())
			execlp("valgrind", "valgrind", "--quiet", "--error-exitcode=99",
			       "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
			       bin, "-s", s->socket, "-c", s->config,
			       s->option[0] != '\0' ? s->option : (char *) NULL, (char *) NULL);
		else
			execl(bin, bin, "-s", s->socket, "-c", s->config,
			      s->option[0] != '\0' ? s->option : (char *) NULL, (char *) NULL);
		_exit(127);
	}
	for (int i = 0; i < (test_under_valgrind() ? 6000 : 1000); i++) {
		test_sup_collect(s);
		if (s->ready)
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			fprintf(stderr, "allocatord exited during start (status 0x%x)\n", status);
			dump_log(s);
			s->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "allocatord did not say READY=1 in time\n");
	dump_log(s);
	return -1;
}

int test_sup_start(struct test_sup *s, const char *config_text)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/allocatord-sup.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	chmod(s->dir, 0755);
	snprintf(s->socket, sizeof(s->socket), "%s/sock", s->dir);
	snprintf(s->config, sizeof(s->config), "%s/allocatord.conf", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
	f = fopen(s->config, "w");
	if (f == NULL || fputs(config_text != NULL ? config_text : "", f) < 0 || fclose(f) != 0)
		return -1;
	snprintf(s->notify, sizeof(s->notify), "@allocatord-test-sup-%d-%ld", (int) getpid(),
		 (long) time(NULL));
	memcpy(sun.sun_path + 1, s->notify + 1, strlen(s->notify) - 1);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0 ||
	    bind(s->sock, (struct sockaddr *) &sun,
		 (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(s->notify))) < 0) {
		perror("test_sup_start: notify socket");
		return -1;
	}
	return spawn(s);
}

void test_sup_kill(struct test_sup *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	test_sup_collect(s);
}

int test_sup_restart(struct test_sup *s)
{
	return spawn(s);
}

int test_sup_term(struct test_sup *s)
{
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 2000; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			test_sup_collect(s);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	test_sup_kill(s);
	return -1;
}

void test_sup_fini(struct test_sup *s)
{
	char path[192];

	test_sup_kill(s);
	for (size_t i = 0; i < s->n; i++)
		close(s->fds[i].fd);
	s->n = 0;
	if (s->sock > 0)
		close(s->sock);
	snprintf(path, sizeof(path), "rm -rf '%s'", s->dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
}
