/*
 * config_parse: from a file to checked values, for config.c -- reading the
 * file, libconfig's parse, typed getters that turn a wrong type, a missing
 * setting or an out-of-range value into one message, and the checks
 * libconfig 1.5 does not make itself.
 *
 * Messages are "FILE:LINE: PATH: what is wrong, got VALUE". PATH is the
 * setting's place in the tree with list elements by index, the form
 * libconfig's config_lookup() accepts: regions.[0].pools.[1].align. LINE is
 * the setting's line, or its parent's when the setting is missing; a missing
 * top-level setting has no line ("FILE: regions: ..."). Messages about no
 * setting in particular (syntax, the file itself) have no PATH.
 *
 * Functions returning int return 0 or a negative errno after writing the
 * message (-EINVAL for anything wrong in the text); the getters return 1
 * when an optional setting is absent, leaving *out alone.
 */
#ifndef ALLOCATORD_DAEMON_CONFIG_PARSE_H
#define ALLOCATORD_DAEMON_CONFIG_PARSE_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/bytes.h"
#include "daemon/config.h"
#include "daemon/errbuf.h"

struct cp_ctx {
	const char *file; /* the name messages start with */
	struct errbuf *e; /* where they go */
};

#define CP_VALUE_BUF 96 /* cp_quote, cp_describe */

/* A string from the file as a message may show it: quoted, cut at 48
 * characters, control characters as '?'. */
const char *cp_quote(const char *s, char buf[CP_VALUE_BUF]);
/* What s holds, for "expected X, got Y": "an integer (5)", "a list ( ... )". */
const char *cp_describe(const config_setting_t *s, char buf[CP_VALUE_BUF]);

/* The message about setting s; returns -EINVAL. */
int cp_fail(const struct cp_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A message naming no setting, at line (none if 0); returns rc. */
int cp_fail_line(const struct cp_ctx *ctx, int line, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The whole file at ctx->file into *text (free it), NUL-terminated. Refuses
 * files of 1 MiB or more (-EFBIG) and files holding a NUL byte (-EINVAL);
 * open and read errors as their errno ("FILE: No such file or directory"). */
int cp_read_file(const struct cp_ctx *ctx, char **text);

/*
 * libconfig's parse of text into lc (config_init'ed by the caller), with
 * "FILE:LINE: syntax error[: reason]" on failure. Then two checks libconfig
 * 1.5 lacks, over the text, in O(length): an integer literal without the L
 * suffix must fit in 32 bits and one with L in 64, since libconfig silently
 * wraps them (`size = 5000000000;` would be 705032704); and @include is
 * refused, since its text would escape that check.
 */
int cp_read_text(const struct cp_ctx *ctx, const char *text, config_t *lc);

enum cp_kind {
	CP_OTHER, /* read by the caller; listed so that it is a known key */
	CP_BOOL,  /* true or false, into a bool */
	CP_UINT,  /* an integer in [min, max] */
	CP_SIZE,  /* an integer or a config_parse_size() string, in [min, max] */
};

/* One setting of a group: its key and, for the typed kinds, its range and
 * where its value goes in the object being filled. */
struct cp_field {
	const char *key;
	enum cp_kind kind;
	bool required;
	uint64_t min, max; /* max must fit in the field */
	size_t offset;
	size_t width;              /* of the field: sizeof(bool), 4 or 8 */
	enum config_reload reload; /* what a reload may do with it */
};

#define CP_AT(type, m) offsetof(type, m), sizeof(((type *) NULL)->m)

/*
 * Checks that g is a group { ... } with no setting outside fields[0..n),
 * so that a misspelt setting never passes silently, then reads the typed
 * fields into obj in table order. A missing required field is an error; a
 * missing optional one leaves obj alone. O(settings * n).
 */
int cp_fields(const struct cp_ctx *ctx, const config_setting_t *g, const struct cp_field *fields,
	      size_t n, void *obj);

/*
 * Getters for parent.name (cp_elem_string: for s itself). Absent: -EINVAL
 * if required, else 1. A wrong type is an error naming the type expected.
 *   string: a non-empty string; the pointer lives as long as the tree.
 *   list:   a list ( ... ), or also an array [ ... ] when any_array.
 *   ids:    a list or array of user (is_group false) or group ids, each an
 *           integer, a numeric string or a name looked up with getpwnam_r /
 *           getgrnam_r; into a new array *out (free it) of *n. An unknown
 *           name is -EINVAL, a failing look-up its errno.
 *   id:     one such id (s itself).
 *   mode:   file permission bits as an octal string ("0660"), or an integer
 *           read digit by digit as octal: libconfig has no octal literals
 *           and gives `mode = 0660;` as 660.
 */
int cp_string(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	      bool required, const char **out);
int cp_elem_string(const struct cp_ctx *ctx, const config_setting_t *s, const char **out);
int cp_list(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	    bool any_array, bool required, config_setting_t **out);
int cp_ids(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	   bool is_group, uint32_t **out, size_t *n);
int cp_id(const struct cp_ctx *ctx, const config_setting_t *s, bool is_group, uint32_t *out);
int cp_mode(const struct cp_ctx *ctx, const config_setting_t *parent, const char *name,
	    mode_t *out);

/* The schema's tables, one per level of the file, for config_diff.c. */
enum cp_level { CP_ROOT, CP_SOCKET, CP_REGION, CP_POOL, CP_HEAP, CP_GROUP };
const struct cp_field *config__fields(enum cp_level level, size_t *n);

#endif
