/*
 * bytes: the one formatter of byte counts for the daemon's messages, the
 * config's and --check-config's. Both styles share the unit names; what they
 * print is pinned by tests and by what operators grep for, so neither
 * changes.
 */
#include <inttypes.h>
#include <stdio.h>

#include "daemon/bytes.h"

const char *bytes_fmt(uint64_t v, enum bytes_style style, char buf[BYTES_BUF])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;
	double x = (double) v;

	if (style == BYTES_EXACT) {
		for (; v != 0 && v % 1024 == 0 && u + 1 < sizeof(units) / sizeof(units[0]); u++)
			v /= 1024;
		snprintf(buf, BYTES_BUF, "%" PRIu64 " %s", v, units[u]);
		return buf;
	}
	for (; x >= 1024 && u < 4; u++)
		x /= 1024;
	snprintf(buf, BYTES_BUF, u == 0 ? "%.0f %s" : "%.1f %s", x, units[u]);
	return buf;
}
