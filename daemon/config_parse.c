/*
 * config_parse: reading the file, libconfig's parse and the literal scan
 * that makes up for its silent integer wrap-around, typed getters with
 * file:line:path messages, size parsing, user and group look-ups.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/config_parse.h"

#define PATH_BUF      256
#define VALUE_MAX     48         /* characters of a string quoted in a message */
#define FILE_SIZE_MAX (1u << 20) /* no config file comes near */

/* Appends to buf (len > 0) at n and returns the new length, clamped so that
 * buf stays terminated whatever the output's size. */
__attribute__((format(printf, 4, 0))) static size_t vappend(char *buf, size_t len, size_t n,
							    const char *fmt, va_list ap)
{
	int w;

	if (n >= len - 1)
		return len - 1;
	w = vsnprintf(buf + n, len - n, fmt, ap);
	if (w < 0)
		return n;
	return (size_t) w >= len - n ? len - 1 : n + (size_t) w;
}

__attribute__((format(printf, 4, 5))) static size_t append(char *buf, size_t len, size_t n,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	n = vappend(buf, len, n, fmt, ap);
	va_end(ap);
	return n;
}

/* "regions.[0].pools.[1]": names for group members, [i] for list elements. */
static size_t path_of(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(s);
	size_t n;

	if (parent == NULL) {
		buf[0] = '\0';
		return 0;
	}
	n = path_of(parent, buf, len);
	if (n > 0)
		n = append(buf, len, n, ".");
	if (config_setting_name(s) != NULL)
		return append(buf, len, n, "%s", config_setting_name(s));
	return append(buf, len, n, "[%d]", config_setting_index(s));
}

const char *cp_quote(const char *s, char buf[CP_VALUE_BUF])
{
	size_t n = 1, i;

	buf[0] = '"';
	for (i = 0; s[i] != '\0' && i < VALUE_MAX; i++)
		buf[n++] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
	append(buf, CP_VALUE_BUF, n, s[i] != '\0' ? "...\"" : "\"");
	return buf;
}

const char *cp_describe(const config_setting_t *s, char buf[CP_VALUE_BUF])
{
	char q[CP_VALUE_BUF];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, CP_VALUE_BUF, "an integer (%lld)", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, CP_VALUE_BUF, "a float (%g)", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, CP_VALUE_BUF, "a string (%s)",
			 cp_quote(config_setting_get_string(s), q));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, CP_VALUE_BUF, "a boolean (%s)",
			 config_setting_get_bool(s) ? "true" : "false");
		break;
	default:
		snprintf(buf, CP_VALUE_BUF, "%s",
			 config_setting_is_group(s)   ? "a group { ... }"
			 : config_setting_is_array(s) ? "an array [ ... ]"
						      : "a list ( ... )");
	}
	return buf;
}

/* "FILE[:LINE]: [PATH: ]message" into ctx->e. */
__attribute__((format(printf, 4, 0))) static void
vmessage(const struct cp_ctx *ctx, int line, const char *path, const char *fmt, va_list ap)
{
	char *msg = ctx->e->msg;
	size_t n, len = sizeof(ctx->e->msg);

	n = append(msg, len, 0, "%s", ctx->file);
	if (line > 0)
		n = append(msg, len, n, ":%d", line);
	n = append(msg, len, n, ": ");
	if (path[0] != '\0')
		n = append(msg, len, n, "%s: ", path);
	vappend(msg, len, n, fmt, ap);
}

int cp_fail(const struct cp_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char path[PATH_BUF];
	va_list ap;

	path_of(s, path, sizeof(path));
	va_start(ap, fmt);
	vmessage(ctx, config_setting_source_line(s), path, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cp_fail_line(const struct cp_ctx *ctx, int line, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(ctx, line, "", fmt, ap);
	va_end(ap);
	return rc;
}

/* A message about parent.name (parent itself when name is NULL), at line. */
__attribute__((format(printf, 5, 6))) static int fail_in(const struct cp_ctx *ctx,
							 const config_setting_t *parent,
							 const char *name, int line,
							 const char *fmt, ...)
{
	char path[PATH_BUF];
	size_t n = path_of(parent, path, sizeof(path));
	va_list ap;

	if (name != NULL)
		append(path, sizeof(path), n, n > 0 ? ".%s" : "%s", name);
	va_start(ap, fmt);
	vmessage(ctx, line, path, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cp_read_file(const struct cp_ctx *ctx, char **text)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *tmp;
	ssize_t got = 1;
	int rc = 0, fd = open(ctx->file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cp_fail_line(ctx, 0, -errno, "%s", strerror(errno));
	while (rc == 0 && got > 0) {
		if (len >= FILE_SIZE_MAX) {
			rc = cp_fail_line(ctx, 0, -EFBIG, "is %u bytes or larger", FILE_SIZE_MAX);
			break;
		}
		if (len + 1 >= cap) {
			/* Up to FILE_SIZE_MAX bytes and the terminating NUL. */
			cap = cap == 0 ? 4096 : 2 * cap;
			cap = cap > FILE_SIZE_MAX ? FILE_SIZE_MAX + 1 : cap;
			tmp = realloc(buf, cap);
			if (tmp == NULL) {
				rc = cp_fail_line(ctx, 0, -ENOMEM, "out of memory");
				break;
			}
			buf = tmp;
		}
		do
			got = read(fd, buf + len, cap - len - 1);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			rc = cp_fail_line(ctx, 0, -errno, "%s", strerror(errno));
		len += got > 0 ? (size_t) got : 0;
	}
	close(fd);
	if (rc == 0 && memchr(buf, '\0', len) != NULL)
		rc = cp_fail_line(ctx, 0, -EINVAL, "contains a NUL byte: not a text file");
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *p, *unit;
	unsigned shift = 0;
	uint64_t v = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (unsigned) (*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned) (*p - '0');
	}
	if (*p != '\0') {
		unit = strchr(units, *p & ~0x20); /* upper case */
		if (unit == NULL || p[1] != '\0')
			return -EINVAL;
		shift = 10 * (unsigned) (unit - units + 1);
	}
	if (v > UINT64_MAX >> shift)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/*
 * One numeric token as libconfig 1.5's scanner reads it: decimal or 0x, then
 * an optional L or LL. Floats, and what libconfig has refused already, pass.
 */
static int check_literal(const struct cp_ctx *ctx, int line, const char *tok, size_t len)
{
	const char *p = tok, *end = tok + len;
	bool neg = false, hex, overflow = false;
	uint64_t v = 0, limit;
	unsigned base;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	hex = end - p > 2 && p[0] == '0' && (p[1] | 0x20) == 'x';
	if (!hex && (memchr(tok, '.', len) || memchr(tok, 'e', len) || memchr(tok, 'E', len)))
		return 0;
	base = hex ? 16 : 10;
	for (p += hex ? 2 : 0; p < end && *p != 'L'; p++) {
		unsigned d =
		    *p <= '9' ? (unsigned) (*p - '0') : (unsigned) ((*p | 0x20) - 'a' + 10);

		if (d >= base)
			return 0;
		overflow |= v > (UINT64_MAX - d) / base;
		v = v * base + d;
	}
	/* Hex literals wrap into negatives too: 0xFFFFFFFF is -1. */
	if (p == end)
		limit = neg ? (uint64_t) INT32_MAX + 1 : INT32_MAX;
	else if (end - p == 1 || (end - p == 2 && p[1] == 'L'))
		limit = neg ? (uint64_t) INT64_MAX + 1 : INT64_MAX;
	else
		return 0;
	if (!overflow && v <= limit)
		return 0;
	if (p == end)
		return cp_fail_line(
		    ctx, line, -EINVAL,
		    "integer %.*s does not fit in 32 bits (libconfig would wrap it): "
		    "write %.*sL, or a size such as \"8G\"",
		    (int) len, tok, (int) len, tok);
	return cp_fail_line(ctx, line, -EINVAL, "integer %.*s does not fit in 64 bits", (int) len,
			    tok);
}

static bool is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '*';
}

/* The lexical side of cp_read_text, on text libconfig has accepted. */
static int scan_literals(const struct cp_ctx *ctx, const char *text)
{
	const char *p = text;
	int line = 1, rc;

	while (*p != '\0') {
		const char *start = p;

		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p += *p != '\0' ? 2 : 0;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				p += *p == '\\' && p[1] != '\0';
				line += *p == '\n';
			}
			p += *p != '\0';
		} else if (strncmp(p, "@include", 8) == 0) {
			return cp_fail_line(ctx, line, -EINVAL,
					    "@include is not supported: allocatord reads one file");
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*') {
			while (is_name_char(*p)) /* a setting name, true, false */
				p++;
		} else if ((*p >= '0' && *p <= '9') ||
			   ((*p == '-' || *p == '+' || *p == '.') && p[1] >= '0' && p[1] <= '9')) {
			/* Digits, letters (x, L, e), dots; a sign only after e. */
			for (p++; is_name_char(*p) || *p == '.' || *p == '+'; p++)
				if ((*p == '-' || *p == '+') && (p[-1] | 0x20) != 'e')
					break;
			rc = check_literal(ctx, line, start, (size_t) (p - start));
			if (rc < 0)
				return rc;
		} else {
			p++;
		}
	}
	/* config_setting_source_line() is an unsigned short. */
	if (line > USHRT_MAX)
		return cp_fail_line(ctx, 0, -EINVAL, "has %d lines, more than libconfig numbers",
				    line);
	return 0;
}

int cp_read_text(const struct cp_ctx *ctx, const char *text, config_t *lc)
{
	const char *what;

	if (config_read_string(lc, text) == CONFIG_TRUE)
		return scan_literals(ctx, text);
	what = config_error_text(lc);
	if (strcmp(what, "syntax error") == 0)
		return cp_fail_line(ctx, config_error_line(lc), -EINVAL, "syntax error");
	return cp_fail_line(ctx, config_error_line(lc), -EINVAL, "syntax error: %s%s", what,
			    strstr(what, "array") == NULL
				? ""
				: " (an array [ ... ] holds one type; "
				  "a list ( ... ) may mix ids and names)");
}

/* parent.name into *out, or NULL: then 1, or an error if required. */
static int member(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
		  bool required, const config_setting_t **out)
{
	*out = config_setting_get_member(parent, name);
	if (*out != NULL)
		return 0;
	if (!required)
		return 1;
	return fail_in(ctx, parent, name, config_setting_source_line(parent),
		       "required setting is missing");
}

static bool is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static int read_number(const struct cp_ctx *ctx, const config_setting_t *s,
		       const struct cp_field *f, uint64_t *out)
{
	char got[CP_VALUE_BUF], a[BYTES_BUF], b[BYTES_BUF], c[BYTES_BUF];
	long long v;

	if (is_integer(s)) {
		v = config_setting_get_int64(s);
		if (v < 0 && f->kind == CP_SIZE)
			return cp_fail(ctx, s, "must not be negative, got %lld", v);
		if (v < 0)
			return cp_fail(ctx, s, "must be in [%" PRIu64 ", %" PRIu64 "], got %lld",
				       f->min, f->max, v);
		*out = (uint64_t) v;
	} else if (f->kind == CP_UINT) {
		return cp_fail(ctx, s, "expected an integer, got %s", cp_describe(s, got));
	} else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		return cp_fail(ctx, s,
			       "expected a size (an integer or a string such as \"64K\"), "
			       "got %s",
			       cp_describe(s, got));
	} else if (config_parse_size(config_setting_get_string(s), out) != 0) {
		return cp_fail(ctx, s,
			       "expected a size such as 65536, \"64K\" or \"16M\" (K, M, G, T: "
			       "powers of 1024), got %s",
			       cp_describe(s, got));
	}
	if (*out >= f->min && *out <= f->max)
		return 0;
	if (f->kind == CP_UINT)
		return cp_fail(ctx, s, "must be in [%" PRIu64 ", %" PRIu64 "], got %" PRIu64,
			       f->min, f->max, *out);
	return cp_fail(ctx, s, "must be in [%s, %s], got %s", bytes_fmt(f->min, BYTES_EXACT, a),
		       bytes_fmt(f->max, BYTES_EXACT, b), bytes_fmt(*out, BYTES_EXACT, c));
}

int cp_fields(const struct cp_ctx *ctx, const config_setting_t *g, const struct cp_field *fields,
	      size_t n, void *obj)
{
	char got[CP_VALUE_BUF], known[PATH_BUF] = "";
	int i, len = config_setting_length(g);
	size_t k, used;

	if (!config_setting_is_group(g))
		return cp_fail(ctx, g, "expected a group { ... }, got %s", cp_describe(g, got));
	for (i = 0; i < len; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);

		for (k = 0, used = 0; k < n && strcmp(fields[k].key, config_setting_name(s)); k++)
			used = append(known, sizeof(known), used, k > 0 ? ", %s" : "%s",
				      fields[k].key);
		/* At g's path: an unknown name is no path. */
		if (k == n)
			return fail_in(ctx, g, NULL, config_setting_source_line(s),
				       "unknown setting '%s' (known here: %s)",
				       config_setting_name(s), known);
	}
	for (k = 0; k < n; k++) {
		const struct cp_field *f = &fields[k];
		char *dst = (char *) obj + f->offset;
		const config_setting_t *s;
		uint64_t v = 0;
		uint32_t v32;
		bool b;
		int rc = f->kind == CP_OTHER ? 1 : member(ctx, g, f->key, f->required, &s);

		if (rc < 0)
			return rc;
		if (rc == 1)
			continue;
		if (f->kind == CP_BOOL && config_setting_type(s) != CONFIG_TYPE_BOOL)
			return cp_fail(ctx, s, "expected a boolean (true or false), got %s",
				       cp_describe(s, got));
		if (f->kind != CP_BOOL && read_number(ctx, s, f, &v) != 0)
			return -EINVAL;
		/* The table's max keeps v within the field's width. */
		if (f->kind == CP_BOOL) {
			b = config_setting_get_bool(s);
			memcpy(dst, &b, sizeof(b));
		} else if (f->width == sizeof(v32)) {
			v32 = (uint32_t) v;
			memcpy(dst, &v32, sizeof(v32));
		} else {
			memcpy(dst, &v, sizeof(v));
		}
	}
	return 0;
}

int cp_elem_string(const struct cp_ctx *ctx, const config_setting_t *s, const char **out)
{
	char got[CP_VALUE_BUF];

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cp_fail(ctx, s, "expected a string, got %s", cp_describe(s, got));
	if (config_setting_get_string(s)[0] == '\0')
		return cp_fail(ctx, s, "must not be empty");
	*out = config_setting_get_string(s);
	return 0;
}

int cp_string(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	      bool required, const char **out)
{
	const config_setting_t *s;
	int rc = member(ctx, parent, name, required, &s);

	return rc != 0 ? rc : cp_elem_string(ctx, s, out);
}

int cp_list(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	    bool any_array, bool required, config_setting_t **out)
{
	const config_setting_t *s;
	char got[CP_VALUE_BUF];
	int rc = member(ctx, parent, name, required, &s);

	if (rc != 0)
		return rc;
	if (!config_setting_is_list(s) && !(any_array && config_setting_is_array(s)))
		return cp_fail(ctx, s, "expected a list ( ... )%s, got %s",
			       any_array ? " or an array [ ... ]" : "", cp_describe(s, got));
	/* The same setting, without the const that member() added. */
	*out = config_setting_get_member(parent, name);
	return 0;
}

/* getpwnam_r / getgrnam_r with a buffer grown until the entry fits.
 * Returns 0, -ENOENT (no such name) or the look-up's error. */
static int lookup(const char *name, bool is_group, uint32_t *out)
{
	size_t len = 1024;
	int rc;

	for (;;) {
		char *buf = malloc(len);
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;

		if (buf == NULL)
			return -ENOMEM;
		if (is_group)
			rc = getgrnam_r(name, &gr, buf, len, &grr);
		else
			rc = getpwnam_r(name, &pw, buf, len, &pwr);
		if (grr != NULL || pwr != NULL)
			*out = is_group ? grr->gr_gid : pwr->pw_uid;
		free(buf);
		if (rc == ERANGE && len < (1u << 20)) {
			len *= 2;
			continue;
		}
		/* getpwnam(3): each of these may mean "not found". */
		if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			return grr != NULL || pwr != NULL ? 0 : -ENOENT;
		return -rc;
	}
}

int cp_id(const struct cp_ctx *ctx, const config_setting_t *s, bool is_group, uint32_t *out)
{
	const char *what = is_group ? "group" : "user", *name;
	char got[CP_VALUE_BUF], *end;
	unsigned long long v;
	int rc;

	if (is_integer(s)) {
		v = config_setting_get_int64(s) < 0
			? ULLONG_MAX
			: (unsigned long long) config_setting_get_int64(s);
	} else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		return cp_fail(ctx, s, "expected a %s name or id, got %s", what,
			       cp_describe(s, got));
	} else if ((name = config_setting_get_string(s))[0] >= '0' && name[0] <= '9') {
		errno = 0;
		v = strtoull(name, &end, 10);
		if (errno != 0 || *end != '\0')
			v = ULLONG_MAX;
	} else {
		rc = lookup(name, is_group, out);
		if (rc == -ENOENT)
			return cp_fail(ctx, s, "unknown %s %s", what, cp_quote(name, got));
		if (rc < 0)
			cp_fail(ctx, s, "looking up %s %s: %s", what, cp_quote(name, got),
				strerror(-rc));
		return rc;
	}
	/* (uid_t) -1 and (gid_t) -1 mean "no change" to chown and the like. */
	if (v >= UINT32_MAX)
		return cp_fail(ctx, s, "must be a %s name or an id in [0, %" PRIu32 "], got %s",
			       what, UINT32_MAX - 1, cp_describe(s, got));
	*out = (uint32_t) v;
	return 0;
}

int cp_ids(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	   bool is_group, uint32_t **out, size_t *n)
{
	config_setting_t *list;
	int i, len, rc = cp_list(ctx, parent, name, true, false, &list);

	if (rc != 0)
		return rc;
	len = config_setting_length(list);
	if (len > 0 && (*out = calloc((size_t) len, sizeof(**out))) == NULL)
		return cp_fail_line(ctx, 0, -ENOMEM, "out of memory");
	for (i = 0; i < len; i++) {
		rc = cp_id(ctx, config_setting_get_elem(list, (unsigned) i), is_group, &(*out)[i]);
		if (rc != 0)
			return rc;
		(*n)++;
	}
	return 0;
}

int cp_mode(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name, mode_t *out)
{
	const config_setting_t *s = config_setting_get_member(parent, name);
	char digits[24], got[CP_VALUE_BUF];
	const char *text = digits;
	unsigned long v;
	char *end;

	if (s == NULL)
		return 1;
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		text = config_setting_get_string(s);
	else if (is_integer(s) && config_setting_get_format(s) != CONFIG_FORMAT_HEX)
		snprintf(digits, sizeof(digits), "%lld", config_setting_get_int64(s));
	else
		return cp_fail(ctx, s, "expected an octal mode such as \"0660\", got %s",
			       cp_describe(s, got));
	errno = 0;
	v = strtoul(text, &end, 8);
	if (text[0] < '0' || text[0] > '7' || *end != '\0' || errno != 0)
		return cp_fail(ctx, s, "expected an octal mode such as \"0660\", got %s",
			       cp_quote(text, got));
	if (v > 0777)
		return cp_fail(ctx, s, "must be at most 0777 (permission bits only), got 0%lo", v);
	*out = (mode_t) v;
	return 0;
}
