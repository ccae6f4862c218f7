/*
 * Shared by the memctl suites: the daemon they run memctl against, a known
 * set of allocations, and readers for memctl's tables and JSON.
 */
#ifndef ALLOCATORD_TESTS_MEMCTL_FIXTURE_H
#define ALLOCATORD_TESTS_MEMCTL_FIXTURE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/memctl/check_memctl.h"

/* The config of every memctl test (see memctl_fixture.c); its region
 * private admits only the user running the tests (root, or that user: the
 * suite passes as either). */
const char *mt_config(void);

/* What mt_known_allocations() leaves in use. */
#define HEAP_USED (4096 + 1024) /* 4096 and 1000 rounded up to 64 */
#define MAIN_USED (5 * 256 + 3 * 1536 + HEAP_USED)

#define OUT_MAX (64 * 1024)

struct run {
	int status;
	char out[OUT_MAX];
	char err[8192];
};

void mt_memctl(struct run *r, const char *socket, ...);
void mt_ok(const struct run *r);
void mt_known_allocations(mc_client_t *c);
mc_client_t *mt_start_known(struct test_daemon *td);
void mt_finish(struct test_daemon *td, mc_client_t *c);
size_t mt_split(const char *line, char words[][64], size_t max);
size_t mt_line_words(const char *out, int k, char words[][64], size_t max);
size_t mt_row(const char *out, const char *first, char words[][64], size_t max);
void mt_assert_row(const char *out, const char *const *want, size_t n);
int mt_count_of(const char *hay, const char *needle);
json_t *mt_parse(const struct run *r);
json_t *mt_named(json_t *array, const char *name);
long long mt_jint(json_t *o, const char *key);
const char *mt_jstr(json_t *o, const char *key);

/* The client object of pid in a `memctl clients --json` array; fails the
 * test when there is none. */
json_t *mt_client_with_pid(json_t *clients, pid_t pid);

/*
 * A copy of the built memctl that any user may run: its program and the
 * libmemclient it loads, copied into a fresh mode-0755 directory *dir (at
 * least 64 bytes) in /tmp, so that a test that drops privileges does not
 * depend on the modes of the build tree's parents (a clone in /root is
 * below a 0700 directory). Run *bin (len bytes) with LD_LIBRARY_PATH=dir;
 * mt_private_memctl_remove(dir) when done.
 */
void mt_private_memctl(char *dir, char *bin, size_t len);
void mt_private_memctl_remove(const char *dir);

#endif
