/*
 * memctl-util.c -- what the commands share: option values, error
 * messages, fetching listings from the daemon, aligned tables, sizes,
 * utilisation bars, the terminal's width and JSON documents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "memctl/memctl.h"

/* --- arguments --- */

static int opt_index(const struct cmd_args *a, const char *name)
{
	const struct cmd_option *o = a->entry->options;

	for (int i = 0; o != NULL && o[i].name != NULL; i++)
		if (strcmp(o[i].name, name) == 0)
			return i;
	return -1;
}

bool args_has(const struct cmd_args *a, const char *name)
{
	int i = opt_index(a, name);

	return i >= 0 && a->opt[i].set;
}

const char *args_str(const struct cmd_args *a, const char *name)
{
	int i = opt_index(a, name);

	return i >= 0 && a->opt[i].set ? a->opt[i].str : NULL;
}

uint64_t args_count(const struct cmd_args *a, const char *name, uint64_t dflt)
{
	int i = opt_index(a, name);

	return i >= 0 && a->opt[i].set ? a->opt[i].count : dflt;
}

double args_seconds(const struct cmd_args *a, const char *name, double dflt)
{
	int i = opt_index(a, name);

	return i >= 0 && a->opt[i].set ? a->opt[i].seconds : dflt;
}

/* --- errors --- */

int memctl_fail(struct memctl *m, int rc, const char *what, const char *name)
{
	const char *path = m->client ? mc_socket_path(m->client) : m->socket;

	if (rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN)
		fprintf(stderr, "memctl: lost the connection to allocatord at %s: %s\n",
			path ? path : "its socket", strerror(-rc));
	else if (rc == -ETIMEDOUT)
		fprintf(stderr,
			"memctl: allocatord at %s did not answer within %g s\n"
			"  is it stopped or hung? --timeout SECONDS waits longer\n",
			path ? path : "its socket", m->timeout_ms / 1000.0);
	else if (rc == -ENOENT && name != NULL)
		fprintf(stderr, "memctl: no %s named '%s'\n", what, name);
	else if (rc == -EACCES && name != NULL)
		fprintf(stderr,
			"memctl: %s '%s': permission denied: its region does not admit uid %u\n",
			what, name, (unsigned) getuid());
	else if (name != NULL)
		fprintf(stderr, "memctl: %s '%s': %s\n", what, name, strerror(-rc));
	else
		fprintf(stderr, "memctl: %s: %s\n", what, strerror(-rc));
	return rc;
}

int memctl_usage(struct memctl *m, const struct cmd_entry *e, const char *fmt, ...)
{
	va_list ap;

	m->usage_error = true;
	fprintf(stderr, "memctl %s: ", e->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: memctl %s [OPTIONS]%s%s\n", e->name, e->usage[0] ? " " : "",
		e->usage);
	fprintf(stderr, "run 'memctl %s --help' for more\n", e->name);
	return -EINVAL;
}

/* --- fetching --- */

static bool arrays_fit(const struct memctl_array *arr, size_t narr)
{
	for (size_t i = 0; i < narr; i++)
		if (arr[i].have > arr[i].max)
			return false;
	return true;
}

/* Room for what was answered and a quarter more: objects are fixed at the
 * daemon's start, but clients come and go between two asks. */
static int arrays_grow(struct memctl_array *arr, size_t narr)
{
	for (size_t i = 0; i < narr; i++) {
		free(arr[i].items);
		arr[i].max = arr[i].have + arr[i].have / 4 + 4;
		arr[i].items = calloc(arr[i].max, arr[i].size);
		if (arr[i].items == NULL)
			return -ENOMEM;
	}
	return 0;
}

int memctl_ask(struct memctl *m, memctl_ask_fn ask, void *ctx, struct memctl_array *arr,
	       size_t narr)
{
	int rc;

	while ((rc = ask(m, ctx, arr)) >= 0 && !arrays_fit(arr, narr))
		if ((rc = arrays_grow(arr, narr)) < 0)
			break;
	for (size_t i = 0; rc < 0 && i < narr; i++) {
		free(arr[i].items);
		arr[i].items = NULL;
		arr[i].max = 0;
	}
	return rc;
}

static int ask_stats(struct memctl *m, void *ctx, struct memctl_array *arr)
{
	return mc_stats(m->client, NULL, arr->items, arr->max, &arr->have);
}

int memctl_fetch_stats(struct memctl *m, struct mc_stats **out, size_t *n)
{
	struct memctl_array arr = {.size = sizeof(**out)};
	int rc = memctl_ask(m, ask_stats, NULL, &arr, 1);

	if (rc < 0)
		return memctl_fail(m, rc, "listing the pools, heaps and groups", NULL);
	*out = arr.items;
	*n = arr.have;
	return 0;
}

static int ask_status(struct memctl *m, void *st, struct memctl_array *arr)
{
	return mc_status(m->client, st, arr->items, arr->max, &arr->have);
}

int memctl_fetch_status(struct memctl *m, struct mc_status *st, struct mc_region_status **regions,
			size_t *n)
{
	struct memctl_array arr = {.size = sizeof(**regions)};
	int rc = memctl_ask(m, ask_status, st, &arr, 1);

	if (rc < 0)
		return memctl_fail(m, rc, "asking for the daemon's status", NULL);
	*regions = arr.items;
	*n = arr.have;
	return 0;
}

static int ask_members(struct memctl *m, void *ctx, struct memctl_array *arr)
{
	const char *const *group = ctx;

	return mc_group_members(m->client, *group, arr->items, arr->max, &arr->have);
}

int memctl_group_members(struct memctl *m, const char *group, char *buf, size_t len,
			 json_t **members)
{
	struct memctl_array arr = {.size = sizeof(char[64])};
	char(*names)[64];
	size_t at = 0;
	json_t *json = NULL;
	int rc = memctl_ask(m, ask_members, &group, &arr, 1);

	if (rc < 0)
		return memctl_fail(m, rc, "group", group);
	names = arr.items;
	if (members != NULL && (json = json_array()) == NULL)
		rc = -ENOMEM;
	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; rc == 0 && i < arr.have; i++) {
		int w = at < len ? snprintf(buf + at, len - at, "%s%s", i ? "," : "", names[i]) : 0;

		at = w < 0 || (size_t) w >= len - at ? len : at + (size_t) w;
		if (json != NULL && json_array_append_new(json, json_string(names[i])) < 0)
			rc = -ENOMEM;
	}
	free(names);
	if (rc < 0) {
		json_decref(json);
		return memctl_fail(m, rc, "group", group);
	}
	if (members != NULL)
		*members = json;
	return 0;
}

const struct mc_stats *memctl_find(const struct mc_stats *s, size_t n, const char *name,
				   enum mc_kind kind)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].info.kind == kind && strcmp(s[i].info.name, name) == 0)
			return &s[i];
	return NULL;
}

const char *memctl_kind_name(enum mc_kind kind)
{
	return kind == MC_POOL ? "pool" : kind == MC_HEAP ? "heap" : "group";
}

int memctl_missing(struct memctl *m, const char *what, const char *name)
{
	struct mc_stats one;
	size_t n = 0;
	int rc = mc_stats(m->client, name, &one, 1, &n);

	/* The daemon says whether it is forbidden (-EACCES) or not there. */
	return memctl_fail(m, rc < 0 ? rc : -ENOENT, what, name);
}

int memctl_select(struct memctl *m, struct mc_stats *s, size_t *n, enum mc_kind kind,
		  char *const *names, int nnames)
{
	size_t kept = 0;

	for (int j = 0; j < nnames; j++)
		if (memctl_find(s, *n, names[j], kind) == NULL)
			return memctl_missing(m, memctl_kind_name(kind), names[j]);
	for (size_t i = 0; i < *n; i++) {
		bool want = s[i].info.kind == kind && nnames == 0;

		for (int j = 0; !want && s[i].info.kind == kind && j < nnames; j++)
			want = strcmp(s[i].info.name, names[j]) == 0;
		if (want)
			s[kept++] = s[i];
	}
	*n = kept;
	return 0;
}

/* --- text --- */

unsigned memctl_term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	char *end;
	unsigned long v;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env != NULL && *env != '\0') {
		v = strtoul(env, &end, 10);
		if (*end == '\0' && v > 0 && v <= 10000)
			return (unsigned) v;
	}
	return 80;
}

const char *fmt_bytes(char *buf, size_t len, uint64_t v, bool exact)
{
	static const char units[][4] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;
	uint64_t unit = 1;

	if (exact) {
		snprintf(buf, len, "%llu", (unsigned long long) v);
		return buf;
	}
	while (u + 1 < sizeof(units) / sizeof(units[0]) && v / unit >= 1024) {
		unit *= 1024;
		u++;
	}
	if (v % unit == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long) (v / unit), units[u]);
	else
		snprintf(buf, len, "%.1f %s", (double) v / (double) unit, units[u]);
	return buf;
}

unsigned pct(uint64_t part, uint64_t total)
{
	if (total == 0)
		return 0;
	/* In floating point: part * 100 could overflow 64 bits. */
	return (unsigned) ((double) part * 100.0 / (double) total);
}

const char *fmt_bar(char *buf, size_t len, uint64_t used, uint64_t total)
{
	enum { CELLS = 10 };
	char cells[CELLS + 1];
	unsigned full = 0;

	/* Round up, so that any use shows. */
	if (total > 0 && used > 0)
		full = (unsigned) ((double) used * CELLS / (double) total + 0.999999);
	if (full > CELLS)
		full = CELLS;
	memset(cells, '#', full);
	memset(cells + full, '.', CELLS - full);
	cells[CELLS] = '\0';
	snprintf(buf, len, "[%s] %3u%%", cells, pct(used, total));
	return buf;
}

const char *fmt_when(char *buf, size_t len, uint64_t unix_ms)
{
	time_t at = (time_t) (unix_ms / 1000);
	struct tm tm;

	if (localtime_r(&at, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

const char *fmt_duration(char *buf, size_t len, uint64_t s)
{
	unsigned long long d = s / 86400, h = s / 3600 % 24, mi = s / 60 % 60, se = s % 60;

	if (d > 0)
		snprintf(buf, len, "%llud %02lluh", d, h);
	else if (h > 0)
		snprintf(buf, len, "%lluh %02llum", h, mi);
	else if (mi > 0)
		snprintf(buf, len, "%llum %02llus", mi, se);
	else
		snprintf(buf, len, "%llus", se);
	return buf;
}

/* --- tables --- */

struct table {
	size_t ncols;
	const char *const *headers;
	char **cells; /* row-major, ncols per row */
	size_t ncells, cap;
	bool failed;
};

struct table *table_new(const char *const *headers, size_t ncols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->ncols = ncols;
		t->headers = headers;
	}
	return t;
}

static void table_put(struct table *t, char *s)
{
	if (t->failed || s == NULL) {
		t->failed = true;
		free(s);
		return;
	}
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16 * t->ncols;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (cells == NULL) {
			t->failed = true;
			free(s);
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	t->cells[t->ncells++] = s;
}

void table_row(struct table *t)
{
	/* Pad a short row so that every row has ncols cells. */
	while (t != NULL && !t->failed && t->ncells % t->ncols != 0)
		table_put(t, strdup(""));
}

void table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (t == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	table_put(t, s);
}

void table_count(struct table *t, uint64_t v)
{
	table_cell(t, "%llu", (unsigned long long) v);
}

int table_print(struct table *t, FILE *f)
{
	size_t width[16] = {0};

	table_row(t);
	if (t == NULL || t->failed || t->ncols > sizeof(width) / sizeof(width[0]))
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++)
		width[c] = strlen(t->headers[c] + (t->headers[c][0] == '>'));
	for (size_t i = 0; i < t->ncells; i++)
		if (strlen(t->cells[i]) > width[i % t->ncols])
			width[i % t->ncols] = strlen(t->cells[i]);
	for (size_t r = 0; r <= t->ncells / t->ncols; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *h = t->headers[c];
			bool right = h[0] == '>';
			const char *s = r == 0 ? h + right : t->cells[(r - 1) * t->ncols + c];
			bool last = c + 1 == t->ncols;

			/* No trailing blanks after a left-aligned last column. */
			if (right)
				fprintf(f, "%s%*s", c ? "  " : "", (int) width[c], s);
			else
				fprintf(f, "%s%-*s", c ? "  " : "", last ? 0 : (int) width[c], s);
		}
		fputc('\n', f);
	}
	return 0;
}

void table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* --- JSON --- */

json_t *json_count(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t) v);
}

json_t *memctl_json_doc(const char *key, json_t *data)
{
	return json_pack("{s:i, s:o}", "version", 1, key, data);
}

int memctl_json_print(struct memctl *m, json_t *doc)
{
	int rc;

	if (doc == NULL)
		return memctl_fail(m, -ENOMEM, "building the JSON output", NULL);
	/* Compact output has no newline: strings escape theirs. */
	rc = json_dumpf(doc, m->out, m->json_lines ? JSON_COMPACT : JSON_INDENT(2)) < 0 ? -ENOMEM
											: 0;
	json_decref(doc);
	if (rc < 0)
		return memctl_fail(m, rc, "writing the JSON output", NULL);
	fputc('\n', m->out);
	return 0;
}

unsigned heap_fragmentation(const struct mc_stats *s)
{
	uint64_t free_bytes = s->info.total - s->info.used;

	if (free_bytes == 0 || s->largest_free >= free_bytes)
		return 0;
	return pct(free_bytes - s->largest_free, free_bytes);
}
