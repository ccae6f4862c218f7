/*
 * memctl-heaps.c -- `memctl heaps [HEAP...]`: the TLSF heaps, their bytes
 * used and free, the largest free block (a lower bound), fragmentation,
 * live allocations, peak and refused allocations.
 */
#include <stdlib.h>

#include "memctl/memctl.h"

static const struct cmd_option heaps_options[] = {
    {"bytes", 'b', OPT_FLAG, NULL, 0, 0, "sizes in bytes, not KiB/MiB/..."},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

json_t *heaps_json(const struct mc_stats *s, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++) {
		const struct mc_stats *h = &s[i];
		json_t *o = json_pack(
		    "{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "name",
		    h->info.name, "region", h->region, "size", json_count(h->info.total), "used",
		    json_count(h->info.used), "free", json_count(h->info.total - h->info.used),
		    "largest_free", json_count(h->largest_free), "fragmentation_percent",
		    (json_int_t) heap_fragmentation(h), "live", json_count(h->live), "free_blocks",
		    json_count(h->free_blocks), "peak", json_count(h->peak), "quota",
		    json_count(h->quota), "failed", json_count(h->failed));

		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static int heaps_print_text(struct memctl *m, const struct mc_stats *s, size_t n, bool exact)
{
	static const char *const headers[] = {"NAME",  "REGION",   ">SIZE",  ">USED",
					      ">FREE", ">LARGEST", ">FRAG",  ">LIVE",
					      ">PEAK", ">QUOTA",   ">FAILED"};
	struct table *t = table_new(headers, 11);
	char b[32];
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct mc_stats *h = &s[i];

		table_row(t);
		table_cell(t, "%s", h->info.name);
		table_cell(t, "%s", h->region);
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), h->info.total, exact));
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), h->info.used, exact));
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), h->info.total - h->info.used, exact));
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), h->largest_free, exact));
		table_cell(t, "%u%%", heap_fragmentation(h));
		table_count(t, h->live);
		table_cell(t, "%s", fmt_bytes(b, sizeof(b), h->peak, exact));
		table_cell(t, "%s", h->quota ? fmt_bytes(b, sizeof(b), h->quota, exact) : "-");
		table_count(t, h->failed);
	}
	rc = table_print(t, m->out);
	table_free(t);
	return rc < 0 ? memctl_fail(m, rc, "printing the heaps", NULL) : 0;
}

static int heaps_exec(struct memctl *m, const struct cmd_args *a)
{
	struct mc_stats *s;
	size_t n;
	int rc = memctl_fetch_stats(m, &s, &n);

	if (rc < 0)
		return rc;
	rc = memctl_select(m, s, &n, MC_HEAP, a->argv, a->argc);
	if (rc == 0 && m->json)
		rc = memctl_json_print(m, memctl_json_doc("heaps", heaps_json(s, n)));
	else if (rc == 0)
		rc = heaps_print_text(m, s, n, args_has(a, "bytes"));
	free(s);
	return rc;
}

const struct cmd_entry cmd_heaps_entry = {
    .name = "heaps",
    .alias = NULL,
    .usage = "[HEAP...]",
    .args_min = 0,
    .args_max = -1,
    .flags = CMD_LISTING,
    .summary = "TLSF heaps: bytes used and free, fragmentation, live allocations",
    .description = "List the heaps this user may see (or only the HEAPs named): region, size,\n"
		   "bytes used and free, the largest free block (a lower bound: a larger one\n"
		   "may exist), fragmentation = 1 - largest/free (so an upper bound; 0 when\n"
		   "nothing is free), live allocations, the most bytes ever used at once\n"
		   "(peak), the per-client quota ('-': none) and allocations refused.",
    .options = heaps_options,
    .exec = heaps_exec,
};
