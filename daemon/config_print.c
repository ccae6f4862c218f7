/*
 * config_print: the layout of a loaded configuration, for --check-config.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/config_parse.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static void print_ids(FILE *out, const char *what, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%" PRIu32, i == 0 ? what : ", ", ids[i]);
}

static void print_region(const struct cfg_region *r, FILE *out)
{
	char a[BYTES_BUF], b[BYTES_BUF];
	int w = 4; /* the name column */
	size_t i;

	for (i = 0; i < r->npools + r->nheaps; i++)
		w = MAX(w, (int) strlen(i < r->npools ? r->pools[i].name
						      : r->heaps[i - r->npools].name));
	fprintf(out, "region %s: %s (hugepages: %s), allowed:%s", r->name,
		bytes_fmt(r->size, BYTES_EXACT, a), r->hugepages ? "yes" : "no",
		r->n_allow_uids + r->n_allow_gids ? "" : " everyone");
	print_ids(out, " uids ", r->allow_uids, r->n_allow_uids);
	print_ids(out, r->n_allow_uids > 0 ? "; gids " : " gids ", r->allow_gids, r->n_allow_gids);
	fprintf(out, "; max_holds %" PRIu32 ", uid_holds %" PRIu32 "\n", r->max_holds,
		r->uid_holds);
	for (i = 0; i < r->npools; i++) {
		const struct cfg_pool *p = &r->pools[i];

		fprintf(out,
			"  pool  %-*s  offset 0x%-10" PRIx64 " %s x %" PRIu64
			" blocks (align %" PRIu64 ") = %s, quota ",
			w, p->name, p->offset, bytes_fmt(p->block_size, BYTES_EXACT, a), p->blocks,
			p->align, bytes_fmt(p->block_size * p->blocks, BYTES_EXACT, b));
		if (p->quota == 0)
			fprintf(out, "none");
		else
			fprintf(out, "%" PRIu64 " blocks", p->quota);
		fprintf(out, ", uid_quota %" PRIu64 " blocks\n", p->uid_quota);
		fprintf(out, "        %-*s  cache_max %" PRIu32 ", client_cache %" PRIu32 "\n", w,
			"", p->cache_max, p->client_cache);
	}
	for (i = 0; i < r->nheaps; i++) {
		const struct cfg_heap *h = &r->heaps[i];

		fprintf(out,
			"  heap  %-*s  offset 0x%-10" PRIx64 " %s (granule %" PRIu32
			", max %" PRIu32 " allocations), quota %s",
			w, h->name, h->offset, bytes_fmt(h->size, BYTES_EXACT, a), h->granule,
			h->max_allocs,
			h->quota == 0 ? "none" : bytes_fmt(h->quota, BYTES_EXACT, b));
		fprintf(out, ", uid_quota %s\n", bytes_fmt(h->uid_quota, BYTES_EXACT, b));
	}
}

void config_print(const struct config *c, FILE *out)
{
	char a[BYTES_BUF], b[BYTES_BUF];
	size_t i, j;

	fprintf(out, "config %s: OK\n", c->file);
	if (c->socket_path != NULL)
		fprintf(out, "socket %s (mode 0%03o", c->socket_path, (unsigned) c->socket_mode);
	else
		fprintf(out, "socket: default (mode 0%03o", (unsigned) c->socket_mode);
	if (c->socket_group_set)
		fprintf(out, ", group %u", (unsigned) c->socket_group);
	fprintf(out, ")\n");
	fprintf(out,
		"log_level %s, max_frame %s, max_clients %" PRIu32 ", hello_timeout_ms %" PRIu32
		", max_output %s\n",
		log_level_name(c->log_level), bytes_fmt(c->max_frame, BYTES_EXACT, a),
		c->max_clients, c->hello_timeout_ms, bytes_fmt(c->max_output, BYTES_EXACT, b));
	fprintf(out,
		"admin_slots %" PRIu32 ", max_clients_per_uid %" PRIu32
		", administrators: uid 0, the daemon's uid",
		c->admin_slots, c->max_clients_per_uid);
	print_ids(out, ", gids ", c->admin_gids, c->n_admin_gids);
	fputc('\n', out);
	for (i = 0; i < c->nregions; i++)
		print_region(&c->regions[i], out);
	for (i = 0; i < c->ngroups; i++) {
		const struct cfg_group *g = &c->groups[i];

		fprintf(out, "group %s:", g->name);
		for (j = 0; j < g->nmembers; j++)
			fprintf(out, "%s%s", j > 0 ? ", " : " ", g->members[j]);
		if (g->choice != NULL)
			fprintf(out, " (choice %s)\n", g->choice);
		else if (g->plugin_arg != NULL)
			fprintf(out, " (plugin %s, arg \"%s\")\n", g->plugin, g->plugin_arg);
		else
			fprintf(out, " (plugin %s)\n", g->plugin);
	}
}
