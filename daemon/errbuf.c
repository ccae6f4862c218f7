/*
 * errbuf: formatting a failure's message (see errbuf.h). A message longer
 * than ERRBUF_MAX is cut, never overflowed: vsnprintf bounds every write.
 */
#include <stdarg.h>
#include <stdio.h>

#include "daemon/errbuf.h"

int errbuf_set(struct errbuf *e, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void errbuf_copy(const struct errbuf *e, char *buf, size_t len)
{
	if (buf != NULL && len > 0)
		snprintf(buf, len, "%s", e->msg);
}
