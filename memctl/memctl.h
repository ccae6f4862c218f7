/*
 * memctl.h -- what the parts of memctl share: the command entry every
 * memctl/memctl-<command>.c defines (the tmux cmd_entry model), the parsed
 * arguments handed to it, the run context, and the helpers of
 * memctl-util.c (tables, sizes, bars, JSON documents, error messages).
 *
 * memctl uses only the public client/memclient.h. Functions return 0 or a
 * negative errno; a command that fails has already said why on stderr, and
 * main() turns the result into the exit status: 0, 1 (error) or 2 (usage).
 */
#ifndef MEMCTL_H
#define MEMCTL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/memclient.h"

/* How an option's argument is read; bad values are usage errors. */
enum cmd_opt_type {
	OPT_FLAG,    /* no argument */
	OPT_STRING,  /* any text */
	OPT_COUNT,   /* an integer from min to max */
	OPT_SECONDS, /* a decimal number of seconds, over 0, at most max */
};

struct cmd_option {
	const char *name; /* long name, without "--" */
	int letter;       /* short option, or 0 for none */
	enum cmd_opt_type type;
	const char *arg; /* the argument's name in help texts */
	uint64_t min, max;
	const char *help;
};

/* Commands may have at most this many options of their own. */
#define CMD_MAX_OPTIONS 6

enum cmd_flags {
	CMD_LISTING = 1 << 0,     /* prints one listing: may run under watch */
	CMD_STOP_AT_ARG = 1 << 1, /* options end at the first argument */
	CMD_NO_CONNECT = 1 << 2,  /* connects by itself (memctl_connect) */
};

struct cmd_args;
struct memctl;

struct cmd_entry {
	const char *name;
	const char *alias;                /* another name, matched exactly; or NULL */
	const char *usage;                /* the arguments after the options, e.g. "POOL" */
	int args_min;                     /* positional arguments */
	int args_max;                     /* -1: no limit */
	int flags;                        /* enum cmd_flags */
	const char *summary;              /* one line, for `memctl --help` */
	const char *description;          /* for `memctl CMD --help` */
	const struct cmd_option *options; /* ends with a NULL name; may be NULL */
	int (*exec)(struct memctl *m, const struct cmd_args *a);
};

struct cmd_args {
	const struct cmd_entry *entry;
	struct {
		bool set;
		const char *str;
		uint64_t count;
		double seconds;
	} opt[CMD_MAX_OPTIONS];
	int argc; /* positional arguments */
	char **argv;
};

/* memctl's own timeout when --timeout is not given: short, since a person
 * (or a monitoring job) is waiting. */
#define MEMCTL_TIMEOUT_MS 5000

/* One run of memctl. */
struct memctl {
	const char *socket; /* -s PATH, or NULL for the library's default */
	mc_client_t *client;
	FILE *out; /* where listings go (watch renders into memory) */
	bool json;
	bool json_lines;  /* JSON documents on one line each (watch) */
	int timeout_ms;   /* --timeout, for mc_connect_with and messages */
	bool usage_error; /* the failure was a usage error: exit status 2 */
};

extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_pools_entry;
extern const struct cmd_entry cmd_heaps_entry;
extern const struct cmd_entry cmd_groups_entry;
extern const struct cmd_entry cmd_clients_entry;
extern const struct cmd_entry cmd_map_entry;
extern const struct cmd_entry cmd_watch_entry;
extern const struct cmd_entry cmd_stats_entry;

/* --- memctl.c --- */

/* The command named name: exact name or alias, else a unique prefix. NULL
 * (having said why: unknown, with a suggestion, or ambiguous) otherwise. */
const struct cmd_entry *cmd_find(const char *name);

/* Parse argv (argv[0] is the command's name) into a. 0; 1 if --help was
 * asked for and printed; -EINVAL for a usage error (said, and
 * m->usage_error set). */
int cmd_parse(struct memctl *m, const struct cmd_entry *e, int argc, char **argv,
	      struct cmd_args *a);

/* Connect to m->socket (or the default) if not connected yet, with
 * m->timeout_ms. On failure, says which socket was tried and why: the
 * daemon's reason when it refused, else how to point elsewhere. */
int memctl_connect(struct memctl *m);

/* --timeout's argument: seconds over 0, at most a day, into *ms (rounded
 * up to a whole ms). false if it is not that. */
bool memctl_parse_timeout(const char *arg, int *ms);

/* --- memctl-util.c: arguments --- */

bool args_has(const struct cmd_args *a, const char *name);
const char *args_str(const struct cmd_args *a, const char *name);
uint64_t args_count(const struct cmd_args *a, const char *name, uint64_t dflt);
double args_seconds(const struct cmd_args *a, const char *name, double dflt);

/* --- memctl-util.c: errors --- */

/* Say what went wrong with rc (a library error) about the object named
 * name of kind what ("pool", "pool or heap", ...; NULL: not about an
 * object) and return rc. */
int memctl_fail(struct memctl *m, int rc, const char *what, const char *name);

/* A usage error of command e: the message, then how to get help. -EINVAL. */
int memctl_usage(struct memctl *m, const struct cmd_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- memctl-util.c: fetching --- */

/*
 * An array a listing call of libmemclient fills: room for max items of
 * size bytes at items (malloc'd; NULL while max is 0); the call sets have
 * to how many there are, which may be more than max.
 */
struct memctl_array {
	void *items;
	size_t size, max, have;
};

/* One listing call into arr[] (ctx: what the call needs besides). */
typedef int (*memctl_ask_fn)(struct memctl *m, void *ctx, struct memctl_array *arr);

/* Ask, grow, ask again: call ask until every answer fits its array,
 * growing the arrays (their contents dropped) to what the last answer
 * needed and some. 0 (the caller frees each items), or ask's error or
 * -ENOMEM with every array freed; says nothing. */
int memctl_ask(struct memctl *m, memctl_ask_fn ask, void *ctx, struct memctl_array *arr,
	       size_t narr);

/* Detailed stats of every visible object into *out (malloc'd, sorted by
 * name as the daemon lists them), *n of them. */
int memctl_fetch_stats(struct memctl *m, struct mc_stats **out, size_t *n);

/* Daemon status and its regions into *regions (malloc'd), *n of them. */
int memctl_fetch_status(struct memctl *m, struct mc_status *st, struct mc_region_status **regions,
			size_t *n);

/* Members of group, comma-separated, into buf (len bytes, cut to fit; 0:
 * not wanted); and as a JSON array into *members when members is not NULL. */
int memctl_group_members(struct memctl *m, const char *group, char *buf, size_t len,
			 json_t **members);

/* "pool", "heap" or "group", as listings and messages name a kind. */
const char *memctl_kind_name(enum mc_kind kind);

/* The entry of name of the given kind in s[0..n), or NULL. */
const struct mc_stats *memctl_find(const struct mc_stats *s, size_t n, const char *name,
				   enum mc_kind kind);

/* Say that there is no what named name (or that it is forbidden, as the
 * daemon tells) and return -ENOENT or -EACCES: for a name a listing lacks. */
int memctl_missing(struct memctl *m, const char *what, const char *name);

/* Keep in s[0..*n) only the objects of kind, and of those only the ones
 * named in names[0..nnames) when nnames > 0 (each must exist: else
 * memctl_missing). */
int memctl_select(struct memctl *m, struct mc_stats *s, size_t *n, enum mc_kind kind,
		  char *const *names, int nnames);

/* --- memctl-util.c: text --- */

/* Columns of the terminal on stdout: TIOCGWINSZ, else $COLUMNS, else 80. */
unsigned memctl_term_width(void);

/* v bytes for people: "512 B", "4 KiB", "1.5 MiB"; exact digits when
 * exact. Returns buf. */
const char *fmt_bytes(char *buf, size_t len, uint64_t v, bool exact);

/* "[#####.....]  50%" for used of total. Returns buf. */
const char *fmt_bar(char *buf, size_t len, uint64_t used, uint64_t total);

/* Whole percent of part in total, rounded down; 0 when total is 0. */
unsigned pct(uint64_t part, uint64_t total);

/* A duration for people: "12s", "5m 03s", "2h 07m", "3d 04h". */
const char *fmt_duration(char *buf, size_t len, uint64_t seconds);

/* A wall-clock time (ms since the epoch) for people, local time:
 * "2026-12-03 14:50:02" ("?" when it cannot be shown). Returns buf. */
const char *fmt_when(char *buf, size_t len, uint64_t unix_ms);

/*
 * An aligned table. Columns are named by headers; a header starting with
 * '>' is right-aligned (numbers), the '>' is not printed. Cells are added
 * row by row; a failed allocation is remembered and reported by
 * table_print, so that building needs no checks.
 */
struct table;

struct table *table_new(const char *const *headers, size_t ncols);
void table_row(struct table *t);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void table_count(struct table *t, uint64_t v); /* a cell with a number */
/* Print the header and the rows (nothing but the header when empty):
 * 0 or -ENOMEM. */
int table_print(struct table *t, FILE *f);
void table_free(struct table *t);

/* --- memctl-util.c: JSON --- */

/* A JSON integer from a counter (json_int_t is signed 64-bit). */
json_t *json_count(uint64_t v);

/* {"version": 1, key: data} (data: a new reference, stolen). */
json_t *memctl_json_doc(const char *key, json_t *data);

/* Print doc (stolen) to m->out, indented, or on one line when
 * m->json_lines; -ENOMEM if doc is NULL or it cannot be dumped. */
int memctl_json_print(struct memctl *m, json_t *doc);

/* --- the listings' JSON, shared by their commands and `stats --json` --- */

json_t *pools_json(const struct mc_stats *s, size_t n);
json_t *heaps_json(const struct mc_stats *s, size_t n);
int groups_json(struct memctl *m, const struct mc_stats *s, size_t n, json_t **out);
json_t *status_json(const struct mc_status *st);
json_t *regions_json(const struct mc_region_status *r, size_t n);

/* Heap fragmentation in whole percent: 1 - largest_free / free (an upper
 * bound, since largest_free is a lower bound); 0 when nothing is free. */
unsigned heap_fragmentation(const struct mc_stats *s);

#endif
