/*
 * memctl-groups.c -- `memctl groups [GROUP...]`: the groups of pools, their
 * block size (or "mixed"), blocks over all members, the members and the
 * choice function that picks among them.
 */
#include <errno.h>
#include <stdlib.h>

#include "memctl/memctl.h"

int groups_json(struct memctl *m, const struct mc_stats *s, size_t n, json_t **out)
{
	json_t *arr = json_array();
	int rc = 0;

	if (arr == NULL)
		return memctl_fail(m, -ENOMEM, "building the JSON output", NULL);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct mc_stats *g = &s[i];
		json_t *members, *o;

		rc = memctl_group_members(m, g->info.name, NULL, 0, &members);
		if (rc < 0)
			break;
		o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o}", "name",
			      g->info.name, "region", g->region, "block_size",
			      json_count(g->info.block_size), "total", json_count(g->info.total),
			      "used", json_count(g->info.used), "cached", json_count(g->cached),
			      "free", json_count(g->info.total - g->info.used), "peak",
			      json_count(g->peak), "failed", json_count(g->failed), "choice",
			      g->choice, "members", members);
		if (json_array_append_new(arr, o) < 0)
			rc = memctl_fail(m, -ENOMEM, "building the JSON output", NULL);
	}
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

static int groups_print_text(struct memctl *m, const struct mc_stats *s, size_t n)
{
	static const char *const headers[] = {"NAME",  "REGION",  ">BLOCK", ">TOTAL", ">USED",
					      ">FREE", ">FAILED", "USE",    "CHOICE", "MEMBERS"};
	struct table *t = table_new(headers, 10);
	char members[1024], bar[32];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct mc_stats *g = &s[i];

		rc = memctl_group_members(m, g->info.name, members, sizeof(members), NULL);
		table_row(t);
		table_cell(t, "%s", g->info.name);
		table_cell(t, "%s", g->region);
		if (g->info.block_size)
			table_count(t, g->info.block_size);
		else
			table_cell(t, "mixed");
		table_count(t, g->info.total);
		table_count(t, g->info.used);
		table_count(t, g->info.total - g->info.used);
		table_count(t, g->failed);
		table_cell(t, "%s", fmt_bar(bar, sizeof(bar), g->info.used, g->info.total));
		table_cell(t, "%s", g->choice);
		table_cell(t, "%s", members);
	}
	if (rc == 0 && (rc = table_print(t, m->out)) < 0)
		memctl_fail(m, rc, "printing the groups", NULL);
	table_free(t);
	return rc;
}

static int groups_exec(struct memctl *m, const struct cmd_args *a)
{
	struct mc_stats *s;
	json_t *arr;
	size_t n;
	int rc = memctl_fetch_stats(m, &s, &n);

	if (rc < 0)
		return rc;
	rc = memctl_select(m, s, &n, MC_GROUP, a->argv, a->argc);
	if (rc == 0 && m->json) {
		rc = groups_json(m, s, n, &arr);
		if (rc == 0)
			rc = memctl_json_print(m, memctl_json_doc("groups", arr));
	} else if (rc == 0) {
		rc = groups_print_text(m, s, n);
	}
	free(s);
	return rc;
}

const struct cmd_entry cmd_groups_entry = {
    .name = "groups",
    .alias = NULL,
    .usage = "[GROUP...]",
    .args_min = 0,
    .args_max = -1,
    .flags = CMD_LISTING,
    .summary = "groups of pools: members, choice function, blocks used",
    .description = "List the groups this user may see (or only the GROUPs named): region,\n"
		   "block size ('mixed' when the members differ), blocks in all members,\n"
		   "used and free, allocations refused, a utilisation bar, the choice\n"
		   "function that picks a member for each request, and the members in order.\n"
		   "Members may belong to several groups: their blocks count in each.",
    .options = NULL,
    .exec = groups_exec,
};
