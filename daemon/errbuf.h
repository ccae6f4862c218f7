/*
 * errbuf: the one way a daemon module hands a failure's message to its
 * caller. A function that can fail returns a negative errno and, through a
 * struct errbuf *, one line saying what failed and why; the caller logs it,
 * replies with it or prefixes it, never rewords it.
 *
 * ERRBUF_MAX holds any message the daemon writes whole (a config error
 * names a file, a line and a setting; a plug-in error quotes dlerror()).
 */
#ifndef ALLOCATORD_DAEMON_ERRBUF_H
#define ALLOCATORD_DAEMON_ERRBUF_H

#include <stddef.h>

#define ERRBUF_MAX 512

struct errbuf {
	char msg[ERRBUF_MAX];
};

/* Write the message into e and return rc, so that a failure reads
 * `return errbuf_set(e, -ENOENT, "no pool named '%s'", name);`. */
int errbuf_set(struct errbuf *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy e's message into a caller's buffer of len bytes (cut to fit; nothing
 * when buf is NULL or len 0): for the entry points whose callers pass their
 * own buffer. */
void errbuf_copy(const struct errbuf *e, char *buf, size_t len);

#endif
