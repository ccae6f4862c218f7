/*
 * log: one line per event on stderr, with a level, e.g.
 *   allocatord: warn: client 7 (pid 1234): frame of 70000 bytes over max_frame 65536
 * Under systemd (JOURNAL_STREAM set) lines carry a <N> syslog prefix instead, so
 * the journal records the level.
 */
#ifndef ALLOCATORD_DAEMON_LOG_H
#define ALLOCATORD_DAEMON_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* "error", "warn", "info" or "debug": the names the config file and -l use. */
const char *log_level_name(enum log_level level);

/* The level named s into *out: 0, or -EINVAL for any other string. */
int log_level_parse(const char *s, enum log_level *out);

/* Lines above this level are dropped. Process-wide: there is one stderr. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/*
 * Copy src into dst (len bytes, always NUL-terminated, cut to fit) with
 * every byte that is not printable ASCII -- control characters, escape
 * sequences, bytes >= 0x7f -- replaced by '?'. The one sanitizer for every
 * string a client chooses (its process name, its hello's client name, an
 * object name it asks for) before the daemon logs, lists or quotes it, so
 * that no client can write terminal escapes into a log or a memctl table.
 */
void log_sanitize(char *dst, size_t len, const char *src);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "" or "s": log lines say "1 client", "2 clients". */
static inline const char *log_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
