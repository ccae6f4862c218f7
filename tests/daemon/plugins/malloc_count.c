/*
 * An LD_PRELOAD shim for the daemon's no-malloc-per-request test: counts
 * malloc, calloc and realloc calls and, on SIGUSR1, writes the count to the
 * file named by $ALLOCATORD_MALLOC_COUNT_FILE (async-signal-safe: open,
 * write, close only).
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static unsigned long calls;
static const char *count_file;

void *malloc(size_t n)
{
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return __libc_realloc(p, n);
}

static void write_count(int sig)
{
	char buf[32], *p = buf + sizeof(buf);
	unsigned long v = __atomic_load_n(&calls, __ATOMIC_RELAXED);
	int fd;

	(void) sig;
	*--p = '\n';
	do
		*--p = (char) ('0' + v % 10);
	while ((v /= 10) != 0);
	fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, p, (size_t) (buf + sizeof(buf) - p)) < 0)
			_exit(98);
		close(fd);
	}
}

__attribute__((constructor)) static void malloc_count_init(void)
{
	count_file = getenv("ALLOCATORD_MALLOC_COUNT_FILE");
	if (count_file != NULL)
		signal(SIGUSR1, write_count);
}
