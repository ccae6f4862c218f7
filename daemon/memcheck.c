/*
 * memcheck: the memory budget read from /proc, /sys/fs/cgroup and the
 * rlimits, what a configuration needs, and the comparison (see memcheck.h).
 * Sizes in messages are rounded (BYTES_ROUNDED): "33.0 TiB", not KiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/bytes.h"
#include "daemon/log.h"
#include "daemon/memcheck.h"

/* cgroup v1 writes "no limit" as the largest page-aligned long; anything
 * from 2^62 up is no limit a machine has. */
#define CG_UNLIMITED (UINT64_C(1) << 62)

static const char *memcheck_root = "";

void memcheck_set_root(const char *root)
{
	memcheck_root = root;
}

static FILE *open_below_root(const char *path)
{
	char full[512];

	snprintf(full, sizeof(full), "%s%s", memcheck_root, path);
	return fopen(full, "r");
}

/* The first unsigned number of the file below the root: 0, -ENOENT, or
 * -EINVAL for anything else (cgroup v2 writes "max" for no limit). */
static int read_u64(const char *path, uint64_t *out)
{
	FILE *f = open_below_root(path);
	char word[32] = "";
	int rc = -EINVAL;

	if (f == NULL)
		return -ENOENT;
	if (fscanf(f, "%31s", word) == 1 && sscanf(word, "%" SCNu64, out) == 1)
		rc = 0;
	fclose(f);
	return rc;
}

static int read_meminfo(struct memcheck_budget *b)
{
	FILE *f = open_below_root("/proc/meminfo");
	uint64_t free_pages = MEMCHECK_NONE, rsvd = 0;
	char key[64];
	uint64_t v;

	if (f == NULL)
		return -errno;
	while (fscanf(f, "%63s %" SCNu64 "%*[^\n]", key, &v) == 2) {
		if (strcmp(key, "MemTotal:") == 0)
			b->mem_total = v * 1024;
		else if (strcmp(key, "MemAvailable:") == 0)
			b->mem_available = v * 1024;
		else if (strcmp(key, "Hugepagesize:") == 0)
			b->huge_page = v * 1024;
		else if (strcmp(key, "HugePages_Free:") == 0)
			free_pages = v;
		else if (strcmp(key, "HugePages_Rsvd:") == 0)
			rsvd = v;
	}
	fclose(f);
	/* Reserved pages are free but promised to mappings already made. */
	if (free_pages != MEMCHECK_NONE)
		b->huge_free = free_pages > rsvd ? free_pages - rsvd : 0;
	return 0;
}

/* The memory controller's hierarchy of this process from proc/self/cgroup:
 * a v1 line "N:...memory...:/path" wins over the v2 line "0::/path" (on a
 * hybrid system memory is v1's). 0 with *v2 and path set, or -ENOENT. */
static int find_cgroup(bool *v2, char *path, size_t len)
{
	FILE *f = open_below_root("/proc/self/cgroup");
	char line[1024];
	int rc = -ENOENT;

	if (f == NULL)
		return -ENOENT;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "hierarchy-id:controllers:path" */
		char *ctl = strchr(line, ':'), *p = ctl ? strchr(ctl + 1, ':') : NULL;
		char *tok, *save = NULL;

		if (p == NULL)
			continue;
		*ctl++ = '\0';
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (*ctl == '\0' && strcmp(line, "0") == 0 && rc < 0) {
			*v2 = true;
			snprintf(path, len, "%s", p);
			rc = 0;
			continue;
		}
		for (tok = strtok_r(ctl, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (strcmp(tok, "memory") == 0) {
				*v2 = false;
				snprintf(path, len, "%s", p);
				fclose(f);
				return 0;
			}
		}
	}
	fclose(f);
	return rc;
}

/* The tightest limit from the process's cgroup up to the hierarchy's root:
 * the level with the least room (limit - usage) sets cg_limit, cg_usage
 * and cg_file. Levels whose files are missing (a path from outside a
 * container's cgroup namespace, the root itself) are skipped. */
static void read_cgroup(struct memcheck_budget *b)
{
	const char *base, *limit_file, *usage_file;
	uint64_t best_room = MEMCHECK_NONE;
	char path[512], file[768];
	bool v2 = false;

	if (find_cgroup(&v2, path, sizeof(path)) < 0)
		return;
	base = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
	limit_file = v2 ? "memory.max" : "memory.limit_in_bytes";
	usage_file = v2 ? "memory.current" : "memory.usage_in_bytes";
	for (;;) {
		uint64_t limit, usage, room;
		size_t n = strlen(path);

		while (n > 1 && path[n - 1] == '/') /* "/a/b/" is "/a/b" */
			path[--n] = '\0';
		snprintf(file, sizeof(file), "%s%s/%s", base, n > 1 ? path : "", limit_file);
		if (read_u64(file, &limit) == 0 && limit < CG_UNLIMITED) {
			snprintf(file, sizeof(file), "%s%s/%s", base, n > 1 ? path : "",
				 usage_file);
			if (read_u64(file, &usage) < 0)
				usage = 0;
			room = usage < limit ? limit - usage : 0;
			if (room < best_room) {
				best_room = room;
				b->cg_limit = limit;
				b->cg_usage = usage;
				snprintf(b->cg_file, sizeof(b->cg_file), "%s%s/%s", base,
					 n > 1 ? path : "", limit_file);
			}
		}
		if (n <= 1)
			break;
		*strrchr(path, '/') = '\0';
		if (path[0] == '\0')
			snprintf(path, sizeof(path), "/");
	}
}

static uint64_t rlimit_of(int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return MEMCHECK_NONE;
	return (uint64_t) rl.rlim_cur;
}

int memcheck_read(struct memcheck_budget *b)
{
	uint64_t pages;
	FILE *f;

	memset(b, 0, sizeof(*b));
	b->mem_total = b->mem_available = b->cg_limit = MEMCHECK_NONE;
	b->huge_page = b->huge_free = MEMCHECK_NONE;
	b->fsize_limit = rlimit_of(RLIMIT_FSIZE);
	b->as_limit = rlimit_of(RLIMIT_AS);
	f = open_below_root("/proc/self/statm");
	if (f != NULL) {
		if (fscanf(f, "%" SCNu64, &pages) == 1)
			b->as_used = pages * (uint64_t) sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	read_cgroup(b);
	return read_meminfo(b);
}

void memcheck_need(const struct config *c, struct memcheck_need *n)
{
	uint64_t page = 0;

	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < c->nregions; i++) {
		const struct cfg_region *r = &c->regions[i];

		if (r->hugepages)
			n->huge += r->size;
		else
			n->shared += r->size;
		n->shared += r->bits_size;
		n->mapped += r->size + r->bits_size;
		if (r->size > n->largest || n->largest_name == NULL) {
			n->largest = r->size;
			n->largest_name = r->name;
		}
		/* lease_page_layout: each pool's slots on their own 64 bytes */
		for (size_t j = 0; j < r->npools; j++)
			page += ((uint64_t) r->pools[j].cache_max * 4 + 63) & ~UINT64_C(63);
	}
	n->leases = page * c->max_clients;
}

uint64_t memcheck_reserve(const struct memcheck_budget *b)
{
	return b->mem_total == MEMCHECK_NONE ? 0 : b->mem_total / 64;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

uint64_t memcheck_room(const struct memcheck_budget *b, bool huge)
{
	uint64_t room = MEMCHECK_NONE;

	if (huge)
		return b->huge_page == MEMCHECK_NONE || b->huge_free == MEMCHECK_NONE
			   ? MEMCHECK_NONE
			   : b->huge_free * b->huge_page;
	if (b->mem_available != MEMCHECK_NONE)
		room = sub_sat(b->mem_available, memcheck_reserve(b));
	if (b->cg_limit != MEMCHECK_NONE && sub_sat(b->cg_limit, b->cg_usage) < room)
		room = sub_sat(b->cg_limit, b->cg_usage);
	return room;
}

int memcheck_fits(const char *file, const struct memcheck_need *n, const struct memcheck_budget *b,
		  struct errbuf *e)
{
	char s1[BYTES_BUF], s2[BYTES_BUF], s3[BYTES_BUF], s4[BYTES_BUF], s5[BYTES_BUF];
	uint64_t pages = b->huge_page == MEMCHECK_NONE || b->huge_page == 0
			     ? 0
			     : (n->huge + b->huge_page - 1) / b->huge_page;

	if (n->largest > b->fsize_limit)
		return errbuf_set(e, -EFBIG,
				  "%s: region '%s' is %s, over the file size limit RLIMIT_FSIZE "
				  "of %s (ulimit -f): its memfd could not be sized",
				  file, n->largest_name, bytes_fmt(n->largest, BYTES_ROUNDED, s1),
				  bytes_fmt(b->fsize_limit, BYTES_ROUNDED, s2));
	if (n->huge > 0 && memcheck_room(b, true) != MEMCHECK_NONE &&
	    n->huge > memcheck_room(b, true))
		return errbuf_set(e, -ENOMEM,
				  "%s: hugepage regions need %s, %" PRIu64
				  " huge page%s of %s, and %" PRIu64
				  " %s free: reserve them (sysctl vm.nr_hugepages)",
				  file, bytes_fmt(n->huge, BYTES_ROUNDED, s1), pages, log_s(pages),
				  bytes_fmt(b->huge_page, BYTES_ROUNDED, s2), b->huge_free,
				  b->huge_free == 1 ? "is" : "are");
	if (b->mem_available != MEMCHECK_NONE &&
	    n->shared > sub_sat(b->mem_available, memcheck_reserve(b)))
		return errbuf_set(e, -ENOMEM,
				  "%s: the regions need %s of shared memory, more than the %s "
				  "that may be used (MemAvailable %s less %s, 1/64 of MemTotal "
				  "%s, left to the rest of the system)",
				  file, bytes_fmt(n->shared, BYTES_ROUNDED, s1),
				  bytes_fmt(memcheck_room(b, false), BYTES_ROUNDED, s2),
				  bytes_fmt(b->mem_available, BYTES_ROUNDED, s3),
				  bytes_fmt(memcheck_reserve(b), BYTES_ROUNDED, s4),
				  bytes_fmt(b->mem_total, BYTES_ROUNDED, s5));
	if (b->cg_limit != MEMCHECK_NONE && n->shared > sub_sat(b->cg_limit, b->cg_usage))
		return errbuf_set(e, -ENOMEM,
				  "%s: the regions need %s of shared memory, more than the %s "
				  "the daemon's cgroup may still use (%s: %s, %s in use)",
				  file, bytes_fmt(n->shared, BYTES_ROUNDED, s1),
				  bytes_fmt(sub_sat(b->cg_limit, b->cg_usage), BYTES_ROUNDED, s2),
				  b->cg_file, bytes_fmt(b->cg_limit, BYTES_ROUNDED, s3),
				  bytes_fmt(b->cg_usage, BYTES_ROUNDED, s4));
	if (b->as_limit != MEMCHECK_NONE && n->mapped > sub_sat(b->as_limit, b->as_used))
		return errbuf_set(e, -ENOMEM,
				  "%s: the regions map %s, more than the %s of address space "
				  "left under RLIMIT_AS (ulimit -v: %s, %s mapped)",
				  file, bytes_fmt(n->mapped, BYTES_ROUNDED, s1),
				  bytes_fmt(sub_sat(b->as_limit, b->as_used), BYTES_ROUNDED, s2),
				  bytes_fmt(b->as_limit, BYTES_ROUNDED, s3),
				  bytes_fmt(b->as_used, BYTES_ROUNDED, s4));
	return 0;
}

int memcheck_config(const struct config *c, struct errbuf *e)
{
	struct memcheck_budget b;
	struct memcheck_need n;
	char s1[BYTES_BUF], s2[BYTES_BUF];
	int rc;

	/* Without /proc/meminfo nothing is known: the limits alone apply. */
	memcheck_read(&b);
	memcheck_need(c, &n);
	rc = memcheck_fits(c->file, &n, &b, e);
	if (rc == 0 && n.shared + n.leases > memcheck_room(&b, false))
		log_warn("%s: lease pages of %" PRIu32 " clients could take %s more, and "
			 "only %s is left after the regions",
			 c->file, c->max_clients, bytes_fmt(n.leases, BYTES_ROUNDED, s1),
			 bytes_fmt(memcheck_room(&b, false) - n.shared, BYTES_ROUNDED, s2));
	return rc;
}

static const char *or_none(uint64_t v, char buf[BYTES_BUF])
{
	return v == MEMCHECK_NONE ? "none" : bytes_fmt(v, BYTES_ROUNDED, buf);
}

void memcheck_print(const struct memcheck_need *n, const struct memcheck_budget *b, FILE *out)
{
	char s1[BYTES_BUF], s2[BYTES_BUF], s3[BYTES_BUF], s4[BYTES_BUF];

	fprintf(out,
		"memory: %s reserved at start (%s of it in huge pages), %s mapped; "
		"lease pages at most %s\n",
		bytes_fmt(n->shared + n->huge, BYTES_ROUNDED, s1),
		bytes_fmt(n->huge, BYTES_ROUNDED, s2), bytes_fmt(n->mapped, BYTES_ROUNDED, s3),
		bytes_fmt(n->leases, BYTES_ROUNDED, s4));
	fprintf(out, "may use: %s of memory (MemAvailable less 1/64 of MemTotal",
		or_none(memcheck_room(b, false), s1));
	if (b->cg_limit != MEMCHECK_NONE)
		fprintf(out, ", cgroup %s %s", b->cg_file,
			bytes_fmt(b->cg_limit, BYTES_ROUNDED, s2));
	fprintf(out, "), %s of huge pages, RLIMIT_AS %s, RLIMIT_FSIZE %s\n",
		or_none(memcheck_room(b, true), s1), or_none(b->as_limit, s3),
		or_none(b->fsize_limit, s4));
}
