/*
 * memctl-stats.c -- `memctl stats`: every number at once. Plain: one line of
 * key=value pairs per daemon, region, pool, heap and group (for grep and
 * awk); --prometheus: the Prometheus text exposition format, for
 * node_exporter's textfile collector; --json: status, regions, pools, heaps
 * and groups in one document.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memctl/memctl.h"

static const struct cmd_option stats_options[] = {
    {"prometheus", 'p', OPT_FLAG, NULL, 0, 0,
     "Prometheus text format (node_exporter textfile collector)"},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

/* What a per-object metric reports. */
enum field {
	F_BLOCK_SIZE,
	F_TOTAL,
	F_USED,
	F_CACHED,
	F_FREE,
	F_PEAK,
	F_FAILED,
	F_QUOTA,
	F_LARGEST,
	F_LIVE,
	F_FRAGMENTS,
};

static uint64_t field(const struct mc_stats *s, enum field f)
{
	switch (f) {
	case F_BLOCK_SIZE:
		return s->info.block_size;
	case F_TOTAL:
		return s->info.total;
	case F_USED:
		return s->info.used;
	case F_CACHED:
		return s->cached;
	case F_FREE:
		return s->info.total - s->info.used;
	case F_PEAK:
		return s->peak;
	case F_FAILED:
		return s->failed;
	case F_QUOTA:
		return s->quota;
	case F_LARGEST:
		return s->largest_free;
	case F_LIVE:
		return s->live;
	case F_FRAGMENTS:
		return s->free_blocks;
	}
	return 0;
}

struct object_metric {
	enum mc_kind kind;
	const char *name, *type;
	enum field field;
	const char *help;
};

/* Names carry the unit; only counters end in _total (Prometheus naming;
 * earlier builds named three sizes *_total: see memctl(1)). */
static const struct object_metric object_metrics[] = {
    {MC_POOL, "allocatord_pool_block_size_bytes", "gauge", F_BLOCK_SIZE, "Bytes per block."},
    {MC_POOL, "allocatord_pool_blocks", "gauge", F_TOTAL, "Blocks in the pool."},
    {MC_POOL, "allocatord_pool_blocks_used", "gauge", F_USED, "Blocks allocated now."},
    {MC_POOL, "allocatord_pool_blocks_cached", "gauge", F_CACHED,
     "Of the blocks allocated, those sitting in clients' leased caches (as the clients"
     " report it: display only)."},
    {MC_POOL, "allocatord_pool_blocks_free", "gauge", F_FREE, "Blocks free now."},
    {MC_POOL, "allocatord_pool_blocks_peak", "gauge", F_PEAK,
     "Most blocks allocated at once since the start."},
    {MC_POOL, "allocatord_pool_client_quota_blocks", "gauge", F_QUOTA,
     "Blocks one client may hold (0: no limit)."},
    {MC_POOL, "allocatord_pool_alloc_failures_total", "counter", F_FAILED,
     "Allocations refused for lack of free blocks."},
    {MC_HEAP, "allocatord_heap_size_bytes", "gauge", F_TOTAL, "Bytes in the heap."},
    {MC_HEAP, "allocatord_heap_used_bytes", "gauge", F_USED, "Bytes allocated now."},
    {MC_HEAP, "allocatord_heap_free_bytes", "gauge", F_FREE, "Bytes free now."},
    {MC_HEAP, "allocatord_heap_largest_free_bytes", "gauge", F_LARGEST,
     "A lower bound on the largest free block."},
    {MC_HEAP, "allocatord_heap_free_fragments", "gauge", F_FRAGMENTS,
     "Free blocks the free bytes are split into."},
    {MC_HEAP, "allocatord_heap_peak_used_bytes", "gauge", F_PEAK,
     "Most bytes allocated at once since the start."},
    {MC_HEAP, "allocatord_heap_live_allocations", "gauge", F_LIVE, "Allocations live now."},
    {MC_HEAP, "allocatord_heap_client_quota_bytes", "gauge", F_QUOTA,
     "Bytes one client may hold (0: no limit)."},
    {MC_HEAP, "allocatord_heap_alloc_failures_total", "counter", F_FAILED,
     "Allocations refused for lack of free memory."},
    {MC_GROUP, "allocatord_group_blocks", "gauge", F_TOTAL, "Blocks in the group's member pools."},
    {MC_GROUP, "allocatord_group_blocks_used", "gauge", F_USED,
     "Blocks allocated now in the member pools."},
    {MC_GROUP, "allocatord_group_blocks_cached", "gauge", F_CACHED,
     "Of those, blocks sitting in clients' leased caches (display only)."},
    {MC_GROUP, "allocatord_group_alloc_failures_total", "counter", F_FAILED,
     "Allocations through the group refused."},
};

/* A label value per the exposition format: \\, \" and \n escaped. */
static void put_label(FILE *f, const char *key, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", key);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* allocatord_up, the one metric written whether or not the daemon could be
 * read: a scrape of a file left from the last good run must not say 1. */
static void prom_up(FILE *f, bool up)
{
	put_family(f, "allocatord_up", "gauge", "1 when memctl could read the daemon's state.");
	fprintf(f, "allocatord_up %d\n", up ? 1 : 0);
}

static void prom_daemon(FILE *f, const struct mc_status *st, const struct mc_region_status *r,
			size_t nr)
{
	prom_up(f, true);
	put_family(f, "allocatord_info", "gauge", "The daemon's version, as a label.");
	fputs("allocatord_info{", f);
	put_label(f, "version", st->daemon_version, true);
	fputs("} 1\n", f);
	put_family(f, "allocatord_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(f, "allocatord_uptime_seconds %.3f\n", (double) st->uptime_ms / 1000.0);
	put_family(f, "allocatord_clients", "gauge", "Clients connected now.");
	fprintf(f, "allocatord_clients %u\n", (unsigned) st->clients);
	put_family(f, "allocatord_clients_max", "gauge", "Most clients that may connect at once.");
	fprintf(f, "allocatord_clients_max %u\n", (unsigned) st->max_clients);
	put_family(f, "allocatord_requests_total", "counter", "Requests served since the start.");
	fprintf(f, "allocatord_requests_total %llu\n", (unsigned long long) st->requests);
	put_family(f, "allocatord_reclaimed_holds_total", "counter",
		   "Holds dropped because their client went away.");
	fprintf(f, "allocatord_reclaimed_holds_total %llu\n", (unsigned long long) st->reclaimed);
	put_family(f, "allocatord_takeovers_total", "counter",
		   "Serving processes replaced while the state lived on, since it was created.");
	fprintf(f, "allocatord_takeovers_total %llu\n", (unsigned long long) st->takeovers);
	put_family(f, "allocatord_last_takeover_timestamp_seconds", "gauge",
		   "When the last takeover was, seconds since the epoch; 0: none.");
	fprintf(f, "allocatord_last_takeover_timestamp_seconds %.3f\n",
		(double) st->last_takeover_unix_ms / 1000.0);
	put_family(f, "allocatord_detached_clients", "gauge",
		   "Sessions waiting for their client to resume after a takeover.");
	fprintf(f, "allocatord_detached_clients %u\n", (unsigned) st->detached);
	for (int pass = 0; pass < 2 && nr > 0; pass++) {
		const char *name =
		    pass == 0 ? "allocatord_region_size_bytes" : "allocatord_region_used_bytes";

		put_family(f, name, "gauge",
			   pass == 0 ? "Bytes in the region."
				     : "Bytes allocated in the region's pools and heaps.");
		for (size_t i = 0; i < nr; i++) {
			fprintf(f, "%s{", name);
			put_label(f, "region", r[i].name, true);
			fprintf(f, "} %llu\n",
				(unsigned long long) (pass == 0 ? r[i].size : r[i].used));
		}
	}
}

static void prom_objects(FILE *f, const struct mc_stats *s, size_t n)
{
	for (size_t k = 0; k < sizeof(object_metrics) / sizeof(object_metrics[0]); k++) {
		const struct object_metric *om = &object_metrics[k];
		const char *label = memctl_kind_name(om->kind);
		bool any = false;

		for (size_t i = 0; i < n; i++) {
			if (s[i].info.kind != om->kind)
				continue;
			if (!any)
				put_family(f, om->name, om->type, om->help);
			any = true;
			fprintf(f, "%s{", om->name);
			put_label(f, label, s[i].info.name, true);
			put_label(f, "region", s[i].region, false);
			fprintf(f, "} %llu\n", (unsigned long long) field(&s[i], om->field));
		}
	}
}

static void plain_objects(FILE *f, const struct mc_stats *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct mc_stats *o = &s[i];
		const struct mc_info *in = &o->info;
		unsigned long long free_ = in->total - in->used;

		if (in->kind == MC_POOL)
			fprintf(
			    f,
			    "pool name=%s region=%s block_size=%llu total=%llu used=%llu free=%llu"
			    " peak=%llu quota=%llu failed=%llu\n",
			    in->name, o->region, (unsigned long long) in->block_size,
			    (unsigned long long) in->total, (unsigned long long) in->used, free_,
			    (unsigned long long) o->peak, (unsigned long long) o->quota,
			    (unsigned long long) o->failed);
		else if (in->kind == MC_HEAP)
			fprintf(
			    f,
			    "heap name=%s region=%s size=%llu used=%llu free=%llu largest_free=%llu"
			    " fragmentation_percent=%u live=%llu free_blocks=%llu peak=%llu"
			    " quota=%llu failed=%llu\n",
			    in->name, o->region, (unsigned long long) in->total,
			    (unsigned long long) in->used, free_,
			    (unsigned long long) o->largest_free, heap_fragmentation(o),
			    (unsigned long long) o->live, (unsigned long long) o->free_blocks,
			    (unsigned long long) o->peak, (unsigned long long) o->quota,
			    (unsigned long long) o->failed);
		else
			fprintf(
			    f,
			    "group name=%s region=%s block_size=%llu total=%llu used=%llu free=%llu"
			    " peak=%llu failed=%llu choice=%s\n",
			    in->name, o->region, (unsigned long long) in->block_size,
			    (unsigned long long) in->total, (unsigned long long) in->used, free_,
			    (unsigned long long) o->peak, (unsigned long long) o->failed,
			    o->choice);
	}
}

static void plain_daemon(FILE *f, const struct mc_status *st, const struct mc_region_status *r,
			 size_t nr)
{
	fprintf(f,
		"daemon version=%s pid=%u uptime_ms=%llu clients=%u max_clients=%u requests=%llu"
		" reclaimed=%llu takeovers=%llu last_takeover_unix_ms=%llu keeper_pid=%u"
		" detached=%u\n",
		st->daemon_version, (unsigned) st->pid, (unsigned long long) st->uptime_ms,
		(unsigned) st->clients, (unsigned) st->max_clients,
		(unsigned long long) st->requests, (unsigned long long) st->reclaimed,
		(unsigned long long) st->takeovers, (unsigned long long) st->last_takeover_unix_ms,
		(unsigned) st->keeper_pid, (unsigned) st->detached);
	for (size_t i = 0; i < nr; i++)
		fprintf(f, "region name=%s size=%llu used=%llu hugepages=%d objects=%u\n",
			r[i].name, (unsigned long long) r[i].size, (unsigned long long) r[i].used,
			r[i].hugepages ? 1 : 0, (unsigned) r[i].objects);
}

/* The listings' JSON side by side: one document with everything. */
static int print_json(struct memctl *m, const struct mc_status *st,
		      const struct mc_region_status *r, size_t nr, struct mc_stats *s, size_t n)
{
	struct mc_stats *pools = malloc((n ? n : 1) * sizeof(*s) * 3);
	struct mc_stats *heaps = pools + n, *groups = heaps + n;
	size_t np = n, nh = n, ng = n;
	json_t *jgroups = NULL;
	int rc = pools == NULL ? memctl_fail(m, -ENOMEM, "building the JSON output", NULL) : 0;

	if (rc == 0) {
		memcpy(pools, s, n * sizeof(*s));
		memcpy(heaps, s, n * sizeof(*s));
		memcpy(groups, s, n * sizeof(*s));
		memctl_select(m, pools, &np, MC_POOL, NULL, 0);
		memctl_select(m, heaps, &nh, MC_HEAP, NULL, 0);
		memctl_select(m, groups, &ng, MC_GROUP, NULL, 0);
		rc = groups_json(m, groups, ng, &jgroups);
	}
	if (rc == 0)
		rc = memctl_json_print(m, json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "version", 1,
						    "status", status_json(st), "regions",
						    regions_json(r, nr), "pools",
						    pools_json(pools, np), "heaps",
						    heaps_json(heaps, nh), "groups", jgroups));
	free(pools);
	return rc;
}

static int stats_exec(struct memctl *m, const struct cmd_args *a)
{
	struct mc_region_status *r = NULL;
	struct mc_stats *s = NULL;
	struct mc_status st;
	size_t nr = 0, n = 0;
	int rc;

	if (m->json && args_has(a, "prometheus"))
		return memctl_usage(m, a->entry, "--json and --prometheus exclude each other");
	rc = memctl_connect(m);
	if (rc == 0)
		rc = memctl_fetch_status(m, &st, &r, &nr);
	if (rc == 0)
		rc = memctl_fetch_stats(m, &s, &n);
	/* Whatever failed has been said on stderr; the exit status is 1. */
	if (rc < 0 && args_has(a, "prometheus")) {
		prom_up(m->out, false);
	} else if (rc == 0 && m->json) {
		rc = print_json(m, &st, r, nr, s, n);
	} else if (rc == 0 && args_has(a, "prometheus")) {
		prom_daemon(m->out, &st, r, nr);
		prom_objects(m->out, s, n);
	} else if (rc == 0) {
		plain_daemon(m->out, &st, r, nr);
		plain_objects(m->out, s, n);
	}
	free(r);
	free(s);
	return rc;
}

const struct cmd_entry cmd_stats_entry = {
    .name = "stats",
    .alias = "metrics",
    .usage = "",
    .args_min = 0,
    .args_max = 0,
    /* Connects by itself: --prometheus writes allocatord_up 0 when it
     * cannot. */
    .flags = CMD_LISTING | CMD_NO_CONNECT,
    .summary = "every number at once: key=value, Prometheus or JSON",
    .description = "Print the daemon's, the regions' and every pool's, heap's and group's\n"
		   "numbers. Plain: one line per thing, its kind then key=value pairs, exact\n"
		   "integers (sizes in bytes, pools and groups in blocks). With --prometheus:\n"
		   "the Prometheus text format with HELP and TYPE lines, for node_exporter's\n"
		   "textfile collector (write to a temporary file, then rename it into the\n"
		   "collector's directory, whatever the exit status: with no daemon to read,\n"
		   "it writes allocatord_up 0 and exits 1). With --json: one document holding\n"
		   "the status, regions, pools, heaps and groups listings. See memctl(1) for\n"
		   "the names.",
    .options = stats_options,
    .exec = stats_exec,
};
