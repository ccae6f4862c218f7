/*
 * memctl-clients.c -- `memctl clients [--pool NAME]`: who is connected and
 * what each one holds, per pool (blocks) and heap (bytes), with the number
 * of allocations and the blocks sitting in its leased cache. With a pool or
 * heap named: only its holders, most first -- the answer to "who drained
 * this pool?".
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memctl/memctl.h"

static const struct cmd_option clients_options[] = {
    {"pool", 'p', OPT_STRING, "NAME", 0, 0,
     "only the holders of pool or heap NAME, most first (also as an argument)"},
    {"bytes", 'b', OPT_FLAG, NULL, 0, 0, "sizes in bytes, not KiB/MiB/..."},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

/* One client and where its holdings are in the holdings array; with a
 * filter, held is its holding of that object. */
struct client_row {
	const struct mc_client_info *ci;
	const struct mc_holding *h;
	size_t nh;
	const struct mc_holding *held;
};

struct listing {
	struct mc_client_info *ci;
	struct mc_holding *h;
	size_t n, hn;
	struct mc_stats *s;
	size_t ns;
	struct client_row *rows;
	size_t nrows;
};

static int ask_clients(struct memctl *m, void *ctx, struct memctl_array *arr)
{
	return mc_clients(m->client, arr[0].items, arr[0].max, &arr[0].have, arr[1].items,
			  arr[1].max, &arr[1].have);
}

static int fetch(struct memctl *m, struct listing *l)
{
	struct memctl_array arr[] = {{.size = sizeof(*l->ci)}, {.size = sizeof(*l->h)}};
	int rc = memctl_ask(m, ask_clients, NULL, arr, 2);

	if (rc < 0)
		return memctl_fail(m, rc, "listing the clients", NULL);
	l->ci = arr[0].items;
	l->n = arr[0].have;
	l->h = arr[1].items;
	l->hn = arr[1].have;
	return memctl_fetch_stats(m, &l->s, &l->ns);
}

/* The pool or heap a holding is of (NULL: neither, which the daemon does
 * not send). */
static const struct mc_stats *object_of(const struct listing *l, const char *name)
{
	const struct mc_stats *o = memctl_find(l->s, l->ns, name, MC_POOL);

	return o != NULL ? o : memctl_find(l->s, l->ns, name, MC_HEAP);
}

static uint64_t held_bytes(const struct listing *l, const struct mc_holding *h)
{
	const struct mc_stats *o = object_of(l, h->name);

	return o != NULL && o->info.kind == MC_POOL ? h->amount * o->info.block_size : h->amount;
}

static int by_amount(const void *a, const void *b)
{
	const struct client_row *x = a, *y = b;

	if (x->held->amount != y->held->amount)
		return x->held->amount < y->held->amount ? 1 : -1;
	return x->ci->id < y->ci->id ? -1 : x->ci->id > y->ci->id;
}

/* One row per client; with filter, only its holders, most first. */
static int make_rows(struct listing *l, const char *filter)
{
	size_t at = 0;

	l->rows = calloc(l->n ? l->n : 1, sizeof(*l->rows));
	if (l->rows == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		struct client_row r = {.ci = &l->ci[i], .h = &l->h[at], .nh = l->ci[i].nholdings};

		at += r.nh;
		for (size_t j = 0; filter != NULL && j < r.nh; j++)
			if (strcmp(r.h[j].name, filter) == 0)
				r.held = &r.h[j];
		if (filter == NULL || r.held != NULL)
			l->rows[l->nrows++] = r;
	}
	if (filter != NULL)
		qsort(l->rows, l->nrows, sizeof(*l->rows), by_amount);
	return 0;
}

static const char *user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r((uid_t) uid, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL)
		return NULL;
	snprintf(buf, len, "%s", pw.pw_name);
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static json_t *holding_json(const struct listing *l, const struct mc_holding *h)
{
	const struct mc_stats *o = object_of(l, h->name);
	const char *kind = o == NULL ? "unknown" : memctl_kind_name(o->info.kind);

	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "name", h->name, "kind", kind, "amount",
			 json_count(h->amount), "bytes", json_count(held_bytes(l, h)),
			 "allocations", json_count(h->holds), "cached", json_count(h->cached));
}

static json_t *client_json(const struct listing *l, const struct client_row *r, uint64_t now)
{
	const struct mc_client_info *ci = r->ci;
	json_t *holdings = json_array();
	char user[256];

	for (size_t j = 0; holdings != NULL && j < r->nh; j++) {
		if (r->held != NULL && &r->h[j] != r->held)
			continue;
		if (json_array_append_new(holdings, holding_json(l, &r->h[j])) < 0) {
			json_decref(holdings);
			holdings = NULL;
		}
	}
	return json_pack("{s:o, s:I, s:I, s:I, s:s?, s:s, s:s, s:b, s:o, s:o, s:o}", "id",
			 json_count(ci->id), "pid", (json_int_t) ci->pid, "uid",
			 (json_int_t) ci->uid, "gid", (json_int_t) ci->gid, "user",
			 user_name(ci->uid, user, sizeof(user)), "comm", ci->comm, "name", ci->name,
			 "detached", ci->detached, "since_unix_ms", json_count(ci->since_unix_ms),
			 "connected_seconds",
			 json_count(now > ci->since_unix_ms ? (now - ci->since_unix_ms) / 1000 : 0),
			 "holdings", holdings);
}

static int print_json(struct memctl *m, const struct listing *l)
{
	json_t *arr = json_array();
	uint64_t now = now_ms();

	for (size_t i = 0; arr != NULL && i < l->nrows; i++)
		if (json_array_append_new(arr, client_json(l, &l->rows[i], now)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	return memctl_json_print(m, memctl_json_doc("clients", arr));
}

/* The cells every client row starts with. */
static void client_cells(struct table *t, const struct mc_client_info *ci)
{
	char user[256];

	table_row(t);
	table_count(t, ci->id);
	table_count(t, ci->pid);
	if (user_name(ci->uid, user, sizeof(user)) != NULL)
		table_cell(t, "%u(%s)", (unsigned) ci->uid, user);
	else
		table_count(t, ci->uid);
	table_cell(t, "%s", ci->comm);
	table_cell(t, "%s%s", ci->name, ci->detached ? " (detached)" : "");
}

static void time_cells(struct table *t, const struct mc_client_info *ci, uint64_t now)
{
	time_t since = (time_t) (ci->since_unix_ms / 1000);
	char when[32] = "?", dur[32];
	struct tm tm;

	if (localtime_r(&since, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	table_cell(t, "%s", when);
	table_cell(t, "%s",
		   fmt_duration(dur, sizeof(dur),
				now > ci->since_unix_ms ? (now - ci->since_unix_ms) / 1000 : 0));
}

/* BLOCKS, BYTES and ALLOCATIONS of one holding. */
static void held_cells(struct table *t, const struct listing *l, const struct mc_holding *h,
		       bool exact)
{
	const struct mc_stats *o = object_of(l, h->name);
	char b[32];

	if (o != NULL && o->info.kind == MC_POOL)
		table_count(t, h->amount);
	else
		table_cell(t, "-");
	table_cell(t, "%s", fmt_bytes(b, sizeof(b), held_bytes(l, h), exact));
	table_count(t, h->holds);
}

/* The CACHED cell of a holding: its blocks in a leased cache ('-' for a
 * heap, which has no cache). */
static void cached_cell(struct table *t, const struct listing *l, const struct mc_holding *h)
{
	const struct mc_stats *o = object_of(l, h->name);

	if (o != NULL && o->info.kind == MC_POOL)
		table_count(t, h->cached);
	else
		table_cell(t, "-");
}

/*
 * Whether the tables get a CACHED column: only while a holding shown has
 * blocks in a cache, so that they stay as they were for clients that use
 * no cache (--json always has "cached").
 */
static bool any_cached(const struct listing *l)
{
	for (size_t i = 0; i < l->nrows; i++) {
		const struct client_row *r = &l->rows[i];

		for (size_t j = 0; j < r->nh; j++)
			if ((r->held == NULL || &r->h[j] == r->held) && r->h[j].cached > 0)
				return true;
	}
	return false;
}

static int print_holders(struct memctl *m, const struct listing *l, bool exact)
{
	static const char *const plain[] = {">ID",       ">PID",    "USER",   "COMM",
					    "NAME",      ">BLOCKS", ">BYTES", ">ALLOCATIONS",
					    "CONNECTED", "FOR"};
	static const char *const with_cached[] = {">ID",     ">PID",      "USER",   "COMM",
						  "NAME",    ">BLOCKS",   ">BYTES", ">ALLOCATIONS",
						  ">CACHED", "CONNECTED", "FOR"};
	bool cached = any_cached(l);
	struct table *t = cached ? table_new(with_cached, 11) : table_new(plain, 10);
	uint64_t now = now_ms();
	int rc;

	for (size_t i = 0; i < l->nrows; i++) {
		client_cells(t, l->rows[i].ci);
		held_cells(t, l, l->rows[i].held, exact);
		if (cached)
			cached_cell(t, l, l->rows[i].held);
		time_cells(t, l->rows[i].ci, now);
	}
	rc = table_print(t, m->out);
	table_free(t);
	return rc < 0 ? memctl_fail(m, rc, "printing the clients", NULL) : 0;
}

static int print_all(struct memctl *m, const struct listing *l, bool exact)
{
	static const char *const headers[] = {">ID",  ">PID",      "USER", "COMM",
					      "NAME", "CONNECTED", "FOR"};
	static const char *const hheaders[] = {">CLIENT", ">PID",   "OBJECT",       "KIND",
					       ">BLOCKS", ">BYTES", ">ALLOCATIONS", ">CACHED"};
	bool cached = any_cached(l);
	/* Without a cache in use, the holdings table stops before CACHED. */
	struct table *t = table_new(headers, 7), *h = table_new(hheaders, cached ? 8 : 7);
	uint64_t now = now_ms();
	size_t nheld = 0;
	int rc;

	for (size_t i = 0; i < l->nrows; i++) {
		const struct client_row *r = &l->rows[i];

		client_cells(t, r->ci);
		time_cells(t, r->ci, now);
		for (size_t j = 0; j < r->nh; j++, nheld++) {
			const struct mc_stats *o = object_of(l, r->h[j].name);

			table_row(h);
			table_count(h, r->ci->id);
			table_count(h, r->ci->pid);
			table_cell(h, "%s", r->h[j].name);
			table_cell(h, "%s", o == NULL ? "?" : memctl_kind_name(o->info.kind));
			held_cells(h, l, &r->h[j], exact);
			if (cached)
				cached_cell(h, l, &r->h[j]);
		}
	}
	rc = table_print(t, m->out);
	if (rc == 0 && nheld > 0) {
		fputc('\n', m->out);
		rc = table_print(h, m->out);
	}
	table_free(t);
	table_free(h);
	return rc < 0 ? memctl_fail(m, rc, "printing the clients", NULL) : 0;
}

static int clients_exec(struct memctl *m, const struct cmd_args *a)
{
	const char *filter = args_str(a, "pool");
	struct listing l = {0};
	int rc;

	if (filter != NULL && a->argc > 0)
		return memctl_usage(m, a->entry, "name the pool either with --pool or as argument");
	if (a->argc > 0)
		filter = a->argv[0];
	rc = fetch(m, &l);
	if (rc == 0 && filter != NULL && object_of(&l, filter) == NULL) {
		if (memctl_find(l.s, l.ns, filter, MC_GROUP) == NULL) {
			rc = memctl_missing(m, "pool or heap", filter);
		} else {
			fprintf(stderr,
				"memctl: '%s' is a group: holdings are counted per pool;"
				" name one of its pools\n",
				filter);
			rc = -EINVAL;
		}
	}
	if (rc == 0 && (rc = make_rows(&l, filter)) < 0)
		memctl_fail(m, rc, "listing the clients", NULL);
	if (rc == 0 && m->json)
		rc = print_json(m, &l);
	else if (rc == 0 && filter != NULL)
		rc = print_holders(m, &l, args_has(a, "bytes"));
	else if (rc == 0)
		rc = print_all(m, &l, args_has(a, "bytes"));
	free(l.rows);
	free(l.s);
	free(l.ci);
	free(l.h);
	return rc;
}

const struct cmd_entry cmd_clients_entry = {
    .name = "clients",
    .alias = "who",
    .usage = "[POOL]",
    .args_min = 0,
    .args_max = 1,
    .flags = CMD_LISTING,
    .summary = "who is connected and what each client holds",
    .description = "List the connected clients: id, pid, uid (and user name), process name,\n"
		   "the name the client gave, when it connected (local time) and how long ago;\n"
		   "then what each holds: blocks of pools, bytes of heaps, and in how many\n"
		   "allocations (an allocation held by two clients counts for both). Only\n"
		   "pools and heaps this user may see are shown. While a client has blocks\n"
		   "in a leased cache, a CACHED column says how many of its blocks of each\n"
		   "pool sit there, not in use (as the client reports it: display only).\n"
		   "With a POOL (or heap), only its holders, the one holding most first.",
    .options = clients_options,
    .exec = clients_exec,
};
