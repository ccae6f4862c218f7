/*
 * config_print: the layout of a loaded configuration, for --check-config.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/config_parse.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define SIZE_BUF (2 * BYTES_BUF + 4)

/* A size as exact as the config wrote it, and readable: "9 MiB" when that
 * is exact, else "33.0 TiB (35433480196 KiB)" rather than a bare count of
 * KiB nobody can read at a glance. */
static const char *size_fmt(uint64_t v, char buf[SIZE_BUF])
{
	char exact[BYTES_BUF], rounded[BYTES_BUF];

	bytes_fmt(v, BYTES_EXACT, exact);
	bytes_fmt(v, BYTES_ROUNDED, rounded);
	if (strcmp(strrchr(exact, ' '), strrchr(rounded, ' ')) == 0)
		snprintf(buf, SIZE_BUF, "%s", exact);
	else
		snprintf(buf, SIZE_BUF, "%s (%s)", rounded, exact);
	return buf;
}

/* "uids 0 (root), 1000": each id once (a list may name one user by number
 * and by name), with its name where the system knows one. */
static void print_ids(FILE *out, const char *what, const uint32_t *ids, size_t n, bool users)
{
	size_t shown = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = NULL;
		size_t j;

		for (j = 0; j < i && ids[j] != ids[i]; j++)
			;
		if (j < i)
			continue;
		if (users) {
			struct passwd *pw = getpwuid(ids[i]);

			name = pw ? pw->pw_name : NULL;
		} else {
			struct group *gr = getgrgid(ids[i]);

			name = gr ? gr->gr_name : NULL;
		}
		fprintf(out, "%s%" PRIu32, shown++ == 0 ? what : ", ", ids[i]);
		if (name != NULL)
			fprintf(out, " (%s)", name);
	}
}

static void print_region(const struct cfg_region *r, FILE *out)
{
	char a[BYTES_BUF], s[SIZE_BUF];
	int w = 4; /* the name column */
	size_t i;

	for (i = 0; i < r->npools + r->nheaps; i++)
		w = MAX(w, (int) strlen(i < r->npools ? r->pools[i].name
						      : r->heaps[i - r->npools].name));
	fprintf(out, "region %s: %s (hugepages: %s), allowed:%s", r->name, size_fmt(r->size, s),
		r->hugepages ? "yes" : "no", r->n_allow_uids + r->n_allow_gids ? "" : " everyone");
	print_ids(out, " uids ", r->allow_uids, r->n_allow_uids, true);
	print_ids(out, r->n_allow_uids > 0 ? "; gids " : " gids ", r->allow_gids, r->n_allow_gids,
		  false);
	fprintf(out, "; max_holds %" PRIu32 ", uid_holds %" PRIu32 "\n", r->max_holds,
		r->uid_holds);
	for (i = 0; i < r->npools; i++) {
		const struct cfg_pool *p = &r->pools[i];

		fprintf(out,
			"  pool  %-*s  offset 0x%-10" PRIx64 " %s x %" PRIu64
			" blocks (align %" PRIu64 ") = %s, quota ",
			w, p->name, p->offset, bytes_fmt(p->block_size, BYTES_EXACT, a), p->blocks,
			p->align, size_fmt(p->block_size * p->blocks, s));
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
			w, h->name, h->offset, size_fmt(h->size, s), h->granule, h->max_allocs,
			h->quota == 0 ? "none" : bytes_fmt(h->quota, BYTES_EXACT, a));
		fprintf(out, ", uid_quota %s\n", bytes_fmt(h->uid_quota, BYTES_EXACT, a));
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
		", max_output %s",
		log_level_name(c->log_level), bytes_fmt(c->max_frame, BYTES_EXACT, a),
		c->max_clients, c->hello_timeout_ms, bytes_fmt(c->max_output, BYTES_EXACT, b));
	fprintf(out,
		", max_output_total %s, max_bad_frames %" PRIu32 ", max_unread_hellos %" PRIu32
		"\n",
		bytes_fmt(c->max_output_total, BYTES_EXACT, a), c->max_bad_frames,
		c->max_unread_hellos);
	fprintf(out,
		"admin_slots %" PRIu32 ", max_clients_per_uid %" PRIu32
		", administrators: uid 0, the daemon's uid",
		c->admin_slots, c->max_clients_per_uid);
	print_ids(out, ", gids ", c->admin_gids, c->n_admin_gids, false);
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
