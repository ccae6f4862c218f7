/*
 * The memctl suites' fixture: see memctl_fixture.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/memctl/memctl_fixture.h"

/*
 * Region main: small 256 B x 1024, packets 1536 B x 64 (quota 32), bits
 * 64 B x 64 (for exact maps), wide 64 B x 4096 (for scaled maps), heap
 * 1 MiB; group buffers = small + packets. Region private: only the user
 * running the tests (%u), so that every table looks the same for root and
 * for an ordinary user.
 */
static const char config_format[] =
    "log_level = \"warn\";\n"
    "socket = { mode = \"0666\"; };\n"
    "regions = (\n"
    "  { name = \"main\";\n"
    "    pools = (\n"
    "      { name = \"small\"; block_size = 256; blocks = 1024; },\n"
    "      { name = \"packets\"; block_size = 1536; blocks = 64; align = 512;"
    " client_quota = 32; },\n"
    "      { name = \"bits\"; block_size = 64; blocks = 64; },\n"
    "      { name = \"wide\"; block_size = 64; blocks = 4096; }\n"
    "    );\n"
    "    heaps = ( { name = \"heap\"; size = \"1M\"; granule = 64; } );\n"
    "  },\n"
    "  { name = \"private\"; allow_uids = ( %u );\n"
    "    pools = ( { name = \"secret\"; block_size = 256; blocks = 4; } ); }\n"
    ");\n"
    "groups = ( { name = \"buffers\"; pools = [ \"small\", \"packets\" ];"
    " choice = \"by_size\"; } );\n";

const char *mt_config(void)
{
	static char text[2048];

	snprintf(text, sizeof(text), config_format, (unsigned) geteuid());
	return text;
}

/* Run memctl [-s socket] args... (NULL-terminated); socket NULL: no -s. */
void mt_memctl(struct run *r, const char *socket, ...)
{
	const char *argv[32];
	char bin[512];
	size_t argc = 0;
	const char *arg;
	va_list ap;

	argv[argc++] = test_build_path("memctl/memctl", bin, sizeof(bin));
	if (socket != NULL) {
		argv[argc++] = "-s";
		argv[argc++] = socket;
	}
	va_start(ap, socket);
	while ((arg = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = arg;
	va_end(ap);
	argv[argc] = NULL;
	r->status = test_run(argv, r->out, sizeof(r->out), r->err, sizeof(r->err));
}

/* Assert a clean run: exit 0, nothing on stderr. */
void mt_ok(const struct run *r)
{
	ck_assert_msg(r->status == 0, "memctl exited %d: %s", r->status, r->err);
	ck_assert_msg(r->err[0] == '\0', "memctl said on stderr: %s", r->err);
}

/* 5 blocks of small, 3 of packets, 4096 + 1000 bytes of heap. */
void mt_known_allocations(mc_client_t *c)
{
	uint64_t off[5], h;

	ck_assert_int_eq(mc_alloc(c, "small", 5, off), 0);
	ck_assert_int_eq(mc_alloc(c, "packets", 3, off), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 4096, 0, &h), 0);
	ck_assert_int_eq(mc_heap_alloc(c, "heap", 1000, 0, &h), 0);
}

mc_client_t *mt_start_known(struct test_daemon *td)
{
	mc_client_t *c;

	client_start(td, mt_config());
	c = client_connect(td);
	mt_known_allocations(c);
	return c;
}

void mt_finish(struct test_daemon *td, mc_client_t *c)
{
	mc_close(c);
	client_stop(td);
}

/* The whitespace-separated words of line (up to its newline) into words
 * (at most max); how many. */
size_t mt_split(const char *line, char words[][64], size_t max)
{
	size_t n = 0, len = strcspn(line, "\n");
	char buf[1024], *save;

	ck_assert_uint_lt(len, sizeof(buf));
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *w = strtok_r(buf, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
		snprintf(words[n++], 64, "%s", w);
	return n;
}

/* The words of line number k (0: the first) of out. */
size_t mt_line_words(const char *out, int k, char words[][64], size_t max)
{
	for (; k > 0 && strchr(out, '\n') != NULL; k--)
		out = strchr(out, '\n') + 1;
	ck_assert_int_eq(k, 0);
	return mt_split(out, words, max);
}

/* The words of the line of out whose first word is first; 0 if none. */
size_t mt_row(const char *out, const char *first, char words[][64], size_t max)
{
	for (const char *line = out; *line != '\0';) {
		size_t n = mt_split(line, words, max);

		if (n > 0 && strcmp(words[0], first) == 0)
			return n;
		line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "";
	}
	return 0;
}

/* Assert the row of first reads exactly want[0..n). */
void mt_assert_row(const char *out, const char *const *want, size_t n)
{
	char words[16][64];
	size_t got = mt_row(out, want[0], words, 16);

	ck_assert_msg(got == n, "row '%s': %zu words, want %zu, in:\n%s", want[0], got, n, out);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(words[i], want[i]) == 0, "row '%s' word %zu: '%s', want '%s'",
			      want[0], i, words[i], want[i]);
}

int mt_count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Parse r's output as a version-1 document; the caller decrefs. */
json_t *mt_parse(const struct run *r)
{
	json_error_t e;
	json_t *doc;

	mt_ok(r);
	doc = json_loads(r->out, 0, &e);
	ck_assert_msg(doc != NULL, "bad JSON at line %d: %s\n%s", e.line, e.text, r->out);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
	return doc;
}

/* The member of array whose "name" is name. */
json_t *mt_named(json_t *array, const char *name)
{
	size_t i;
	json_t *v;

	ck_assert_msg(json_is_array(array), "not an array");
	json_array_foreach(array, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return v;
	}
	ck_abort_msg("no '%s' in the array", name);
	return NULL;
}

long long mt_jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "'%s' is not an integer", key);
	return json_integer_value(v);
}

const char *mt_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "'%s' is not a string", key);
	return json_string_value(v);
}

json_t *mt_client_with_pid(json_t *clients, pid_t pid)
{
	size_t i;
	json_t *v;

	json_array_foreach(clients, i, v)
	{
		if (mt_jint(v, "pid") == pid)
			return v;
	}
	ck_abort_msg("no client with pid %d", (int) pid);
	return NULL;
}

/* Copy file from to to (mode 0755), following symlinks. */
static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	ck_assert_msg(in >= 0, "%s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ck_assert_msg(out >= 0, "%s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t) n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
}

void mt_private_memctl(char *dir, char *bin, size_t len)
{
	char from[512], to[512];
	struct dirent *e;
	DIR *libs;

	strcpy(dir, "/tmp/memctl-bin.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	/* With a shared libmemclient, memctl/memctl is libtool's wrapper
	 * script and the program is in .libs. */
	test_build_path("memctl/.libs/memctl", from, sizeof(from));
	if (access(from, X_OK) != 0)
		test_build_path("memctl/memctl", from, sizeof(from));
	snprintf(bin, len, "%s/memctl", dir);
	copy_file(from, bin);
	libs = opendir(test_build_path("client/.libs", from, sizeof(from)));
	while (libs != NULL && (e = readdir(libs)) != NULL) {
		if (strncmp(e->d_name, "libmemclient.so", 15) != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s",
			 test_build_path("client/.libs", to, sizeof(to)), e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dir, e->d_name);
		copy_file(from, to);
	}
	if (libs != NULL)
		closedir(libs);
}

void mt_private_memctl_remove(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}
