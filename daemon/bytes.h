/*
 * bytes: byte counts as people read them, in binary units (1 KiB = 1024 B).
 */
#ifndef ALLOCATORD_DAEMON_BYTES_H
#define ALLOCATORD_DAEMON_BYTES_H

#include <stdint.h>

#define BYTES_BUF 32 /* "16777215 TiB", "8388608.0 TiB" */

enum bytes_style {
	/* "64 KiB" when v is an exact multiple of a unit (up to EiB), else
	 * "1000 B": for settings, which must read back as the value given. */
	BYTES_EXACT,
	/* "64.0 MiB": one decimal in the largest unit up to TiB that v reaches;
	 * "1000 B" below 1 KiB: for the sizes in messages about resources. */
	BYTES_ROUNDED,
};

/* v formatted into buf, which is returned for use in a printf argument. */
const char *bytes_fmt(uint64_t v, enum bytes_style style, char buf[BYTES_BUF]);

#endif
