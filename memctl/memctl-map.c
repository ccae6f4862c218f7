/*
 * memctl-map.c -- `memctl map POOL`: a picture of a pool's block bitmap.
 * One character cell per block, or per run of blocks (a power of two) when
 * the pool does not fit the rows asked for at the terminal's width; each
 * cell is free ('.'), partly used ('+') or fully used ('#'), or has no block
 * in use but some sitting in clients' leased caches ('c'). A cached block
 * is allocated (leased) but not in use: it counts as not used for a cell's
 * glyph, and as used in the counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memctl/memctl.h"

/* Blocks fetched per request batch: 128 KiB of bitmap at a time, so that
 * a pool of 2^32 blocks never needs its whole bitmap in memory. */
#define MAP_CHUNK (UINT64_C(1) << 20)

#define MAP_MAX_ROWS 1000

static const struct cmd_option map_options[] = {
    {"rows", 'r', OPT_COUNT, "N", 1, MAP_MAX_ROWS, "draw at most N rows (default 16)"},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

/* Set bits counted per cell and in all. */
struct tally {
	uint64_t all;
	uint64_t *cells;
};

struct picture {
	uint64_t total, per_cell;
	struct tally used;   /* allocated blocks */
	struct tally cached; /* of those, blocks in a client's cache */
	size_t ncells, cols;
	unsigned digits; /* of the largest block index, for the row labels */
};

static unsigned digits_of(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Blocks in cell i: per_cell, except perhaps the last. */
static uint64_t cell_blocks(const struct picture *p, size_t i)
{
	uint64_t first = (uint64_t) i * p->per_cell;

	return p->total - first < p->per_cell ? p->total - first : p->per_cell;
}

/* The scale, blocks per cell: the least power of two that fits total
 * blocks into rows of the terminal's width less the row labels; and the
 * cells at that scale, zeroed. */
static int choose_scale(struct picture *p, uint64_t rows, unsigned width)
{
	p->digits = digits_of(p->total - 1);
	p->cols = width > p->digits + 1 + 8 ? width - p->digits - 1 : 8;
	p->per_cell = 1;
	while ((p->total + p->per_cell - 1) / p->per_cell > rows * p->cols)
		p->per_cell *= 2;
	p->ncells = (size_t) ((p->total + p->per_cell - 1) / p->per_cell);
	p->used.cells = calloc(p->ncells, sizeof(*p->used.cells));
	p->cached.cells = calloc(p->ncells, sizeof(*p->cached.cells));
	return p->used.cells == NULL || p->cached.cells == NULL ? -ENOMEM : 0;
}

/* Add the set bits of blocks [first, first + count) to t, by cell. */
static void count_bits(const struct picture *p, struct tally *t, uint64_t first, uint64_t count,
		       const uint8_t *bits)
{
	for (uint64_t i = 0; i < count; i += 8) {
		uint64_t blk = first + i, last = blk + (count - i < 8 ? count - i : 8) - 1;
		unsigned byte = bits[i / 8];

		if (count - i < 8)
			byte &= (1u << (count - i)) - 1;
		if (byte == 0)
			continue;
		t->all += (uint64_t) __builtin_popcount(byte);
		if (blk / p->per_cell == last / p->per_cell) {
			t->cells[blk / p->per_cell] += (uint64_t) __builtin_popcount(byte);
			continue;
		}
		for (unsigned b = 0; b < 8; b++)
			if (byte & (1u << b))
				t->cells[(blk + b) / p->per_cell]++;
	}
}

/*
 * The used and cached bitmaps, chunk by chunk. The two are read by two
 * calls: a block may have been cached between them, so that a cell could
 * count more cached than used blocks; cut cached to used, a cached block
 * being a used one.
 */
static int fetch(struct memctl *m, const char *pool, struct picture *p)
{
	uint8_t *bits = malloc(MAP_CHUNK / 8);
	int rc = bits == NULL ? -ENOMEM : 0;

	for (uint64_t first = 0; rc == 0 && first < p->total; first += MAP_CHUNK) {
		uint64_t count = p->total - first < MAP_CHUNK ? p->total - first : MAP_CHUNK;

		rc = mc_pool_map(m->client, pool, first, count, bits, NULL);
		if (rc == 0)
			count_bits(p, &p->used, first, count, bits);
		if (rc == 0)
			rc = mc_pool_cache_map(m->client, pool, first, count, bits, NULL);
		if (rc == 0)
			count_bits(p, &p->cached, first, count, bits);
	}
	free(bits);
	if (rc < 0)
		return memctl_fail(m, rc, "pool", pool);
	p->cached.all = 0;
	for (size_t i = 0; i < p->ncells; i++) {
		if (p->cached.cells[i] > p->used.cells[i])
			p->cached.cells[i] = p->used.cells[i];
		p->cached.all += p->cached.cells[i];
	}
	return 0;
}

/* A tally's cells as a JSON array of counts. */
static json_t *cells_json(const struct picture *p, const struct tally *t)
{
	json_t *cells = json_array();

	for (size_t i = 0; cells != NULL && i < p->ncells; i++)
		if (json_array_append_new(cells, json_count(t->cells[i])) < 0) {
			json_decref(cells);
			cells = NULL;
		}
	return cells;
}

static int print_json(struct memctl *m, const struct mc_stats *st, const struct picture *p)
{
	return memctl_json_print(
	    m, memctl_json_doc("map",
			       json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
					 "pool", st->info.name, "region", st->region, "block_size",
					 json_count(st->info.block_size), "total",
					 json_count(p->total), "used", json_count(p->used.all),
					 "cached", json_count(p->cached.all), "free",
					 json_count(p->total - p->used.all), "blocks_per_cell",
					 json_count(p->per_cell), "cells", cells_json(p, &p->used),
					 "cached_cells", cells_json(p, &p->cached))));
}

/* The glyph of cell i: cached blocks are not in use. */
static char glyph(const struct picture *p, size_t i)
{
	uint64_t in_use = p->used.cells[i] - p->cached.cells[i];

	if (in_use == 0)
		return p->cached.cells[i] > 0 ? 'c' : '.';
	return in_use == cell_blocks(p, i) ? '#' : '+';
}

static void print_text(struct memctl *m, const struct mc_stats *st, const struct picture *p)
{
	char b[32];
	size_t i = 0;

	fprintf(m->out, "pool %s (region %s): %llu blocks of %s, %llu used", st->info.name,
		st->region, (unsigned long long) p->total,
		fmt_bytes(b, sizeof(b), st->info.block_size, false),
		(unsigned long long) p->used.all);
	if (p->cached.all > 0)
		fprintf(m->out, " (%llu of them cached)", (unsigned long long) p->cached.all);
	fprintf(m->out, ", %llu free\n", (unsigned long long) (p->total - p->used.all));
	fprintf(m->out,
		"1 cell = %llu block%s; '.' free, '+' partly used, '#' fully used,"
		" 'c' cached (leased to a client, not in use)\n",
		(unsigned long long) p->per_cell, p->per_cell > 1 ? "s" : "");
	while (i < p->ncells) {
		fprintf(m->out, "%*llu ", (int) p->digits,
			(unsigned long long) ((uint64_t) i * p->per_cell));
		for (size_t end = i + p->cols; i < end && i < p->ncells; i++)
			fputc(glyph(p, i), m->out);
		fputc('\n', m->out);
	}
}

static int map_exec(struct memctl *m, const struct cmd_args *a)
{
	const char *pool = a->argv[0];
	struct picture p = {0};
	struct mc_stats st;
	size_t n = 0;
	int rc = mc_stats(m->client, pool, &st, 1, &n);

	if (rc == 0 && (n != 1 || st.info.kind != MC_POOL))
		rc = -ENOENT; /* a heap or group of that name */
	if (rc < 0)
		return memctl_fail(m, rc, "pool", pool);
	p.total = st.info.total;
	if (p.total == 0) {
		fprintf(stderr, "memctl: pool '%s' has no blocks\n", pool);
		return -EINVAL;
	}
	rc = choose_scale(&p, args_count(a, "rows", 16), memctl_term_width());
	if (rc < 0)
		memctl_fail(m, rc, "pool", pool);
	else
		rc = fetch(m, pool, &p);
	if (rc == 0 && m->json)
		rc = print_json(m, &st, &p);
	else if (rc == 0)
		print_text(m, &st, &p);
	free(p.used.cells);
	free(p.cached.cells);
	return rc;
}

const struct cmd_entry cmd_map_entry = {
    .name = "map",
    .alias = "bitmap",
    .usage = "POOL",
    .args_min = 1,
    .args_max = 1,
    .flags = CMD_LISTING,
    .summary = "a picture of a pool's block bitmap",
    .description = "Draw which blocks of POOL are in use, one character cell per block, or\n"
		   "per run of blocks when the pool does not fit: 1 cell = 2^k blocks, the\n"
		   "least that fits the pool in the rows asked for at the terminal's width\n"
		   "(TIOCGWINSZ, else $COLUMNS, else 80). '.' free, '+' partly used, '#' fully\n"
		   "used, 'c' no block in use but some cached: leased to a client, sitting in\n"
		   "its cache (as the client reports it). Cached blocks count as not in use\n"
		   "for a cell's character, as used in the counts. Each row starts with the\n"
		   "index of its first block. A large pool is read in parts: the picture is\n"
		   "not one instant.",
    .options = map_options,
    .exec = map_exec,
};
