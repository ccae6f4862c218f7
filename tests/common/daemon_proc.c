#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"

static const char *env_dir(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "%s is not set: run the tests through `make check`\n", name);
		abort();
	}
	return v;
}

const char *test_build_path(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", env_dir("top_builddir"), rel);
	return buf;
}

const char *test_src_path(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", env_dir("top_srcdir"), rel);
	return buf;
}

bool test_needs_root(const char *why)
{
	if (geteuid() == 0)
		return false;
	fprintf(stderr, "skipped: %s, which needs root\n", why);
	return true;
}

bool test_under_valgrind(void)
{
	const char *v = getenv("ALLOCATORD_VALGRIND");

	return v != NULL && strcmp(v, "1") == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int accepts(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ok = connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

void test_daemon_log(const struct test_daemon *td, char *buf, size_t len)
{
	FILE *f = fopen(td->log, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

long test_daemon_rss_kib(const struct test_daemon *td)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

#if defined(ALLOCATORD_SANITIZERS)
	return -1;
#endif
	if (test_under_valgrind())
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int) td->pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void dump_log(const struct test_daemon *td)
{
	char buf[8192];

	test_daemon_log(td, buf, sizeof(buf));
	fprintf(stderr, "--- allocatord log (%s) ---\n%s--- end of log ---\n", td->log, buf);
}

int test_daemon_start(struct test_daemon *td, const char *config_text, const char *const *args)
{
	return test_daemon_start_at(td, NULL, config_text, args);
}

int test_daemon_start_small(struct test_daemon *td, const char *settings)
{
	char cfg[1024];

	snprintf(cfg, sizeof(cfg),
		 "%s\n"
		 "regions = ({ name = \"r\"; pools = ({ name = \"p\"; block_size = 64; blocks = "
		 "64; }); });\n",
		 settings);
	return test_daemon_start(td, cfg, NULL);
}

/* In the forked daemon, before exec: the open-file limit, then the user. */
static int become(const struct test_daemon_as *as)
{
	struct rlimit rl = {.rlim_cur = (rlim_t) as->nofile, .rlim_max = (rlim_t) as->nofile};

	if (as->nofile > 0 && setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setresgid(as->gid, as->gid, as->gid) < 0 ||
	    setresuid(as->uid, as->uid, as->uid) < 0)
		return -1;
	return 0;
}

/* With keeper_bin NULL the daemon serves in the process started
 * (--no-keeper), under valgrind when the suite runs under it; else
 * keeper_bin ("" for the build tree's) is started as a keeper, never under
 * valgrind (it would run valgrind's own binary as the serving process). */
static int start(struct test_daemon *td, const char *socket, const struct test_daemon_as *as,
		 const char *config_text, const char *const *args, const char *keeper_bin)
{
	bool valgrind = test_under_valgrind() && keeper_bin == NULL;
	const char *argv[32];
	char bin[512], vglog[192];
	size_t argc = 0;
	FILE *f;

	memset(td, 0, sizeof(*td));
	td->keeper = keeper_bin != NULL;
	snprintf(td->dir, sizeof(td->dir), "/tmp/allocatord-test.XXXXXX");
	if (mkdtemp(td->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	/* World-searchable, so tests that drop privileges reach the socket. */
	chmod(td->dir, 0755);
	if (as != NULL && chown(td->dir, as->uid, as->gid) < 0) {
		perror(td->dir);
		rmdir(td->dir);
		return -1;
	}
	if (socket != NULL)
		snprintf(td->socket, sizeof(td->socket), "%s", socket);
	else
		snprintf(td->socket, sizeof(td->socket), "%s/sock", td->dir);
	snprintf(td->log, sizeof(td->log), "%s/log", td->dir);
	snprintf(td->config, sizeof(td->config), "%s/allocatord.conf", td->dir);
	snprintf(vglog, sizeof(vglog), "--log-file=%s/valgrind.log", td->dir);

	if (valgrind) {
		argv[argc++] = "valgrind";
		argv[argc++] = "--quiet";
		argv[argc++] = "--error-exitcode=99";
		argv[argc++] = "--leak-check=full";
		argv[argc++] = "--errors-for-leak-kinds=definite,indirect";
		argv[argc++] = vglog;
	}
	if (keeper_bin != NULL && *keeper_bin != '\0')
		snprintf(bin, sizeof(bin), "%s", keeper_bin);
	else
		test_build_path("daemon/allocatord", bin, sizeof(bin));
	argv[argc++] = bin;
	if (keeper_bin == NULL)
		argv[argc++] = "--no-keeper";
	argv[argc++] = "-s";
	argv[argc++] = td->socket;
	if (config_text != NULL) {
		f = fopen(td->config, "w");
		if (f == NULL || fputs(config_text, f) < 0 || fclose(f) != 0) {
			perror(td->config);
			return -1;
		}
		argv[argc++] = "-c";
		argv[argc++] = td->config;
	}
	for (size_t i = 0; args != NULL && args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;

	td->pid = fork();
	if (td->pid < 0)
		return -1;
	if (td->pid == 0) {
		int fd = open(td->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		unsetenv("ALLOCATORD_SOCKET");
		if (as != NULL) {
			/* Opened before becoming the other user, who may not
			 * reach the build tree (a clone below /root, 0700):
			 * exec needs only the file's own x bit then. (valgrind
			 * runs it by path: that case needs a reachable tree.) */
			int bin_fd = open(bin, O_RDONLY | O_CLOEXEC);

			if (bin_fd < 0 || become(as) < 0) {
				perror("test_daemon_start_as");
				_exit(127);
			}
			if (!valgrind) {
				fexecve(bin_fd, (char *const *) argv, environ);
				perror(bin);
				_exit(127);
			}
		}
		execvp(argv[0], (char *const *) argv);
		perror(argv[0]);
		_exit(127);
	}
	/* Up to 10 s (60 under valgrind) for the socket to accept. */
	for (int i = 0; i < (valgrind ? 6000 : 1000); i++) {
		int status;

		if (accepts(td->socket))
			return 0;
		if (waitpid(td->pid, &status, WNOHANG) == td->pid) {
			fprintf(stderr, "allocatord exited during start (status %d)\n", status);
			dump_log(td);
			td->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "allocatord did not accept on %s in time\n", td->socket);
	dump_log(td);
	test_daemon_kill(td);
	return -1;
}

int test_daemon_start_at(struct test_daemon *td, const char *socket, const char *config_text,
			 const char *const *args)
{
	return start(td, socket, NULL, config_text, args, NULL);
}

int test_daemon_start_keeper(struct test_daemon *td, const char *bin, const char *config_text,
			     const char *const *args)
{
	return start(td, NULL, NULL, config_text, args, bin != NULL ? bin : "");
}

pid_t test_daemon_serving_pid(const struct test_daemon *td)
{
	char path[64];
	long pid = 0;
	FILE *f;

	if (!td->keeper)
		return td->pid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) td->pid, (int) td->pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t) pid;
}

pid_t test_daemon_next_serving(const struct test_daemon *td, pid_t old)
{
	for (int i = 0; i < 1000; i++) {
		pid_t pid = test_daemon_serving_pid(td);

		if (pid != 0 && pid != old)
			return pid;
		sleep_ms(10);
	}
	return 0;
}

int test_daemon_start_as(struct test_daemon *td, const struct test_daemon_as *as,
			 const char *config_text, const char *const *args)
{
	return start(td, NULL, as, config_text, args, NULL);
}

static void remove_dir(struct test_daemon *td)
{
	char path[192];
	const char *files[] = {"sock", "sock.lock", "log", "allocatord.conf", "valgrind.log"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", td->dir, files[i]);
		unlink(path);
	}
	rmdir(td->dir);
}

int test_daemon_stop(struct test_daemon *td)
{
	return test_daemon_stop_log(td, NULL, 0);
}

int test_daemon_stop_log(struct test_daemon *td, char *log, size_t len)
{
	int status = 0;
	pid_t r = 0;

	if (td->pid <= 0)
		return -1;
	kill(td->pid, SIGTERM);
	for (int i = 0; i < 2000 && r == 0; i++) {
		r = waitpid(td->pid, &status, WNOHANG);
		if (r == 0)
			sleep_ms(10);
	}
	if (r == 0) {
		fprintf(stderr, "allocatord did not stop on SIGTERM\n");
		dump_log(td);
		test_daemon_kill(td);
		return -1;
	}
	td->pid = 0;
	if (log != NULL)
		test_daemon_log(td, log, len);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char vg[192];
		FILE *f;

		fprintf(stderr, "allocatord stopped with status %d\n", status);
		dump_log(td);
		snprintf(vg, sizeof(vg), "%s/valgrind.log", td->dir);
		f = fopen(vg, "r");
		if (f != NULL) {
			char buf[8192];
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fprintf(stderr, "--- valgrind ---\n%s\n", buf);
			fclose(f);
		}
		remove_dir(td);
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	remove_dir(td);
	return 0;
}

void test_daemon_kill(struct test_daemon *td)
{
	/* A keeper's serving process outlives it (its clients go on): the
	 * keeper goes first, so that it starts no other, then its child. */
	pid_t serving = td->keeper && td->pid > 0 ? test_daemon_serving_pid(td) : 0;

	if (td->pid > 0) {
		kill(td->pid, SIGKILL);
		waitpid(td->pid, NULL, 0);
		td->pid = 0;
	}
	if (serving > 0)
		kill(serving, SIGKILL);
	remove_dir(td);
}

/* Read all of fd into buf (NUL-terminated, the rest dropped). */
static void drain(int fd, char *buf, size_t len)
{
	size_t n = 0;
	char sink[4096];
	ssize_t r;

	for (;;) {
		if (buf != NULL && n + 1 < len)
			r = read(fd, buf + n, len - 1 - n);
		else
			r = read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf != NULL && n + 1 < len)
			n += (size_t) r;
	}
	if (buf != NULL && len > 0)
		buf[n] = '\0';
}

int test_run(const char *const *argv, char *out, size_t outlen, char *err, size_t errlen)
{
	int po[2], status;
	char efile[] = "/tmp/allocatord-test-err.XXXXXX";
	pid_t pid;
	int efd;

	/* stderr goes to a file so that a child filling both pipes cannot
	 * deadlock against a parent reading one. */
	efd = mkstemp(efile);
	if (efd < 0 || pipe(po) < 0)
		return -1;
	unlink(efile);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		close(po[0]);
		execv(argv[0], (char *const *) argv);
		perror(argv[0]);
		_exit(127);
	}
	close(po[1]);
	drain(po[0], out, outlen);
	close(po[0]);
	waitpid(pid, &status, 0);
	lseek(efd, 0, SEEK_SET);
	drain(efd, err, errlen);
	close(efd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL)
		return -errno;
	if (fputs(text, f) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

bool test_file_has(const char *path, const char *what)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}
