#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/log.h"

static enum log_level log_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	/* syslog priorities for the journal: err, warning, info, debug. */
	static const int prio[] = {3, 4, 6, 7};
	char line[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line keeps lines whole when stderr is shared. */
	if (getenv("JOURNAL_STREAM") != NULL)
		fprintf(stderr, "<%d>%s\n", prio[level], line);
	else
		fprintf(stderr, "allocatord: %s: %s\n", config_log_levels[level], line);
}
