/*
 * memctl-pools.c -- `memctl pools [POOL...]`: the block pools, their use in
 * blocks (and of that, the blocks sitting in clients' leased caches), peak,
 * per-client quota and refused allocations, with a bar.
 */
#include <stdlib.h>

#include "memctl/memctl.h"

json_t *pools_json(const struct mc_stats *s, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++) {
		const struct mc_stats *p = &s[i];
		json_t *o = json_pack(
		    "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", p->info.name,
		    "region", p->region, "block_size", json_count(p->info.block_size), "total",
		    json_count(p->info.total), "used", json_count(p->info.used), "cached",
		    json_count(p->cached), "free", json_count(p->info.total - p->info.used), "peak",
		    json_count(p->peak), "quota", json_count(p->quota), "failed",
		    json_count(p->failed));

		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static int pools_print_text(struct memctl *m, const struct mc_stats *s, size_t n)
{
	static const char *const plain[] = {"NAME",  "REGION", ">BLOCK", ">TOTAL",  ">USED",
					    ">FREE", ">PEAK",  ">QUOTA", ">FAILED", "USE"};
	static const char *const with_cached[] = {"NAME",   "REGION",  ">BLOCK", ">TOTAL",
						  ">USED",  ">CACHED", ">FREE",  ">PEAK",
						  ">QUOTA", ">FAILED", "USE"};
	bool cached = false;
	struct table *t;
	char bar[32];
	int rc;

	/* CACHED only while some client caches: the table stays as it was
	 * for daemons whose clients use no cache (--json always has it). */
	for (size_t i = 0; i < n; i++)
		cached = cached || s[i].cached > 0;
	t = cached ? table_new(with_cached, 11) : table_new(plain, 10);
	for (size_t i = 0; i < n; i++) {
		const struct mc_stats *p = &s[i];

		table_row(t);
		table_cell(t, "%s", p->info.name);
		table_cell(t, "%s", p->region);
		table_count(t, p->info.block_size);
		table_count(t, p->info.total);
		table_count(t, p->info.used);
		if (cached)
			table_count(t, p->cached);
		table_count(t, p->info.total - p->info.used);
		table_count(t, p->peak);
		if (p->quota)
			table_count(t, p->quota);
		else
			table_cell(t, "-");
		table_count(t, p->failed);
		table_cell(t, "%s", fmt_bar(bar, sizeof(bar), p->info.used, p->info.total));
	}
	rc = table_print(t, m->out);
	table_free(t);
	return rc < 0 ? memctl_fail(m, rc, "printing the pools", NULL) : 0;
}

static int pools_exec(struct memctl *m, const struct cmd_args *a)
{
	struct mc_stats *s;
	size_t n;
	int rc = memctl_fetch_stats(m, &s, &n);

	if (rc < 0)
		return rc;
	rc = memctl_select(m, s, &n, MC_POOL, a->argv, a->argc);
	if (rc == 0 && m->json)
		rc = memctl_json_print(m, memctl_json_doc("pools", pools_json(s, n)));
	else if (rc == 0)
		rc = pools_print_text(m, s, n);
	free(s);
	return rc;
}

const struct cmd_entry cmd_pools_entry = {
    .name = "pools",
    .alias = NULL,
    .usage = "[POOL...]",
    .args_min = 0,
    .args_max = -1,
    .flags = CMD_LISTING,
    .summary = "block pools: blocks used, cached, free, peak, quota, failures",
    .description = "List the block pools this user may see (or only the POOLs named): region,\n"
		   "block size in bytes, blocks in all, used, free and the most ever used\n"
		   "at once (peak), the per-client quota in blocks ('-': none), allocations\n"
		   "refused for lack of blocks (failed), and a utilisation bar.\n"
		   "Used blocks are held by clients, including the blocks leased to their\n"
		   "caches; while any pool has some, a CACHED column says how many of the\n"
		   "used blocks sit in clients' caches, not in use (as the clients report\n"
		   "it: for display only).",
    .options = NULL,
    .exec = pools_exec,
};
