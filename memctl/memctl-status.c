/*
 * memctl-status.c -- `memctl status`: the daemon (version, pid of the
 * serving process, uptime, socket, clients, requests, reclaimed holds, the
 * configuration and its reloads, takeovers and the keeper) and its regions
 * with their size and use, plus totals.
 */
#include <stdlib.h>

#include "memctl/memctl.h"

static const struct cmd_option status_options[] = {
    {"bytes", 'b', OPT_FLAG, NULL, 0, 0, "sizes in bytes, not KiB/MiB/..."},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

json_t *status_json(const struct mc_status *st)
{
	json_t *o = json_pack(
	    "{s:s, s:I, s:o, s:s, s:I, s:I, s:o, s:o}", "daemon_version", st->daemon_version, "pid",
	    (json_int_t) st->pid, "uptime_ms", json_count(st->uptime_ms), "socket", st->socket,
	    "clients", (json_int_t) st->clients, "max_clients", (json_int_t) st->max_clients,
	    "requests", json_count(st->requests), "reclaimed", json_count(st->reclaimed));
	json_t *cfg = json_pack("{s:s, s:o, s:o, s:o, s:s}", "file", st->config_file, "generation",
				json_count(st->config_generation), "loaded_unix_ms",
				json_count(st->config_loaded_unix_ms), "reloads_refused",
				json_count(st->reloads_refused), "reload_error", st->reload_error);
	json_t *take =
	    json_pack("{s:o, s:o, s:o, s:I, s:I}", "takeovers", json_count(st->takeovers),
		      "last_takeover_unix_ms", json_count(st->last_takeover_unix_ms),
		      "state_since_unix_ms", json_count(st->state_since_unix_ms), "keeper_pid",
		      (json_int_t) st->keeper_pid, "detached", (json_int_t) st->detached);

	if (o == NULL || cfg == NULL || take == NULL || json_object_update(o, take) < 0 ||
	    json_object_set_new(o, "config", cfg) < 0) {
		json_decref(take);
		json_decref(o);
		return NULL;
	}
	json_decref(take);
	return o;
}

/* "config:  FILE, generation N, loaded WHEN" and, after a refused reload,
 * why; nothing from a daemon that does not reload (generation 0). */
static void status_print_config(struct memctl *m, const struct mc_status *st)
{
	char when[32];

	if (st->config_generation == 0)
		return;
	fprintf(m->out, "config:    %s, generation %llu, loaded %s\n", st->config_file,
		(unsigned long long) st->config_generation,
		fmt_when(when, sizeof(when), st->config_loaded_unix_ms));
	if (st->reloads_refused > 0)
		fprintf(m->out, "reloads:   %llu refused%s%s\n",
			(unsigned long long) st->reloads_refused,
			st->reload_error[0] != '\0' ? "; the last: " : "", st->reload_error);
}

/* "takeovers: N (last: WHEN), state since WHEN", the keeper, and the
 * sessions waiting to resume; nothing from a daemon without a state. */
static void status_print_takeovers(struct memctl *m, const struct mc_status *st)
{
	char last[32], since[32];

	if (st->state_since_unix_ms == 0)
		return;
	fprintf(m->out, "takeovers: %llu (last: %s), state since %s\n",
		(unsigned long long) st->takeovers,
		st->last_takeover_unix_ms != 0
		    ? fmt_when(last, sizeof(last), st->last_takeover_unix_ms)
		    : "none",
		fmt_when(since, sizeof(since), st->state_since_unix_ms));
	if (st->keeper_pid != 0)
		fprintf(m->out, "keeper:    pid %u\n", (unsigned) st->keeper_pid);
	else
		fprintf(m->out, "keeper:    none (no keeper restarts the serving process)\n");
	if (st->detached > 0)
		fprintf(m->out, "detached:  %u session%s waiting for %s client%s to resume\n",
			(unsigned) st->detached, st->detached == 1 ? "" : "s",
			st->detached == 1 ? "its" : "their", st->detached == 1 ? "" : "s");
}

json_t *regions_json(const struct mc_region_status *r, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++) {
		json_t *o =
		    json_pack("{s:s, s:o, s:o, s:b, s:I}", "name", r[i].name, "size",
			      json_count(r[i].size), "used", json_count(r[i].used), "hugepages",
			      r[i].hugepages, "objects", (json_int_t) r[i].objects);

		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static int status_print_json(struct memctl *m, const struct mc_status *st,
			     const struct mc_region_status *r, size_t n, uint64_t size,
			     uint64_t used)
{
	json_t *doc = json_pack("{s:i, s:o, s:o, s:{s:o, s:o}}", "version", 1, "status",
				status_json(st), "regions", regions_json(r, n), "totals", "size",
				json_count(size), "used", json_count(used));

	return memctl_json_print(m, doc);
}

static int status_print_text(struct memctl *m, const struct mc_status *st,
			     const struct mc_region_status *r, size_t n, uint64_t size,
			     uint64_t used, bool exact)
{
	uint64_t objects = 0;
	static const char *const headers[] = {"REGION", ">SIZE", ">USED",
					      "USE",    "PAGES", ">OBJECTS"};
	struct table *t = table_new(headers, 6);
	char b[32], up[32];
	int rc;

	fprintf(m->out, "allocatord %s, pid %u, up %s\n", st->daemon_version, (unsigned) st->pid,
		fmt_duration(up, sizeof(up), st->uptime_ms / 1000));
	fprintf(m->out, "socket:    %s\n", st->socket);
	fprintf(m->out, "clients:   %u of at most %u\n", (unsigned) st->clients,
		(unsigned) st->max_clients);
	fprintf(m->out, "requests:  %llu served\n", (unsigned long long) st->requests);
	fprintf(m->out, "reclaimed: %llu holds of clients that went away\n",
		(unsigned long long) st->reclaimed);
	status_print_config(m, st);
	status_print_takeovers(m, st);
	fputc('\n', m->out);
	for (size_t i = 0; i < n; i++) {
		table_row(t);
		table_cell(t, "%s", r[i].name);
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), r[i].size, exact));
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), r[i].used, exact));
		table_cell(t, "%s", fmt_bar(b, sizeof(b), r[i].used, r[i].size));
		table_cell(t, "%s", r[i].hugepages ? "huge" : "4K");
		table_count(t, r[i].objects);
		objects += r[i].objects;
	}
	table_row(t);
	table_cell(t, "total");
	table_cell(t, "%s", fmt_bytes(b, sizeof(b), size, exact));
	table_cell(t, "%s", fmt_bytes(b, sizeof(b), used, exact));
	table_cell(t, "%s", fmt_bar(b, sizeof(b), used, size));
	table_cell(t, "%s", "");
	table_count(t, objects);
	rc = table_print(t, m->out);
	table_free(t);
	return rc < 0 ? memctl_fail(m, rc, "printing the regions", NULL) : 0;
}

static int status_exec(struct memctl *m, const struct cmd_args *a)
{
	struct mc_region_status *r;
	struct mc_status st;
	uint64_t size = 0, used = 0;
	size_t n;
	int rc = memctl_fetch_status(m, &st, &r, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		size += r[i].size;
		used += r[i].used;
	}
	if (m->json)
		rc = status_print_json(m, &st, r, n, size, used);
	else
		rc = status_print_text(m, &st, r, n, size, used, args_has(a, "bytes"));
	free(r);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
    .name = "status",
    .alias = "info",
    .usage = "",
    .args_min = 0,
    .args_max = 0,
    .flags = CMD_LISTING,
    .summary = "the daemon, its clients and its regions",
    .description = "Show the daemon's version, the pid of the process serving clients, its\n"
		   "uptime and socket, how many clients are connected (and the limit),\n"
		   "requests served, holds reclaimed from clients that went away, the\n"
		   "configuration and its reloads, how many takeovers (a new serving process\n"
		   "taking over the state) happened and when, the keeper's pid, and each\n"
		   "region this user may see with its size and the bytes in use in its pools\n"
		   "and heaps, with totals.",
    .options = status_options,
    .exec = status_exec,
};
