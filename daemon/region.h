/*
 * region: one shared-memory region, a memfd that clients map.
 *
 * The memory is reserved at creation (fallocate), so a full /dev/shm or too
 * few huge pages is an error at start instead of a SIGBUS in a client later,
 * and sealed against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL) so no client can truncate it under the others.
 *
 * The daemon itself maps the region PROT_NONE: it needs addresses for the
 * core allocators' pointer arithmetic, and must never read or write what
 * clients put there.
 *
 * Each region has a second memfd, its "shared bits" (cfg->bits_size bytes):
 * per pool a bitmap, bit set while the block has two or more holders, that
 * only the daemon writes and clients map read-only. It must stay writable
 * for the next serving process after a takeover, so it is not sealed
 * against writes (F_SEAL_FUTURE_WRITE would forbid that process's writable
 * mapping too): it is sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, its
 * mode is 0400, and clients get a second, read-only open file description
 * of it (bits_ro_fd). A read-only description cannot be mapped writable,
 * mprotect'ed writable, truncated or punched, and opening it again through
 * /proc/PID/fd for writing is refused by the 0400 mode to everyone but
 * root -- whom the daemon trusts anyway -- and the daemon's own uid.
 */
#ifndef ALLOCATORD_DAEMON_REGION_H
#define ALLOCATORD_DAEMON_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/fdstore.h"

struct region {
	const struct cfg_region *cfg; /* name, allow-lists */
	uint32_t index;
	bool gone;     /* removed by a reload (object_table_remove_region) */
	bool adopted;  /* fd taken over from the fd store, not made here */
	int fd;        /* memfd, -1 when not created */
	uint8_t *base; /* PROT_NONE mapping of [0, size) */
	uint64_t size;
	int64_t blocks;        /* st_blocks of fd once reserved: the whole region */
	uint64_t fill_at;      /* region_fill's progress while filling */
	bool filling;          /* holes found, being filled (region_fill) */
	bool fill_failed;      /* the last region_fill could not reserve */
	uint64_t punched;      /* holes found since the last line logged */
	uint64_t punch_log_ms; /* loop time of that line */
	int bits_fd;           /* shared-bits memfd (read/write), -1 when not
				* created: the daemon's and the fd store's */
	int bits_ro_fd;        /* the same file opened read-only: the one
				* clients are sent; -1 with bits_fd */
	uint64_t *bits;        /* RW mapping of its bits_size bytes, or NULL
				* when 0; dry run: private anonymous memory */
	uint64_t bits_size;    /* cfg->bits_size at creation: the memfd is
				* sealed at that size, whatever a reload adds */
	uint32_t holds;        /* hold-table entries on its objects, at most
				* cfg->max_holds (ops keeps the count) */
};

/*
 * Create, reserve, seal and map the region of cfg and its shared bits, and
 * hand the memfd to the fd store fs as "region.<name>" (fdstore.h; nothing
 * when fs is NULL or has no store). When fs was passed that name (a
 * takeover), serve that memfd instead -- the memory clients still map --
 * after checking that it is cfg->size bytes and sealed as region_create
 * seals (-EINVAL naming the region otherwise); the shared bits are always
 * new (fdstore.h says why). With dry_run only reserve address space (fd and
 * bits_fd stay -1; the bits are anonymous memory, so that the daemon's
 * logic runs the same): for --check-config, tests and fuzzers. Returns 0, or
 * a negative errno with a message naming the region and the cause in e
 * (e.g. -ENOSPC "region 'main': cannot reserve 64.0 MiB: No space left on
 * device (is /dev/shm full?)"). On error nothing is left open.
 */
int region_create(struct region *r, const struct cfg_region *cfg, uint32_t index, bool dry_run,
		  struct fdstore *fs, struct errbuf *e);

/* The fd store's name of region's memfd, "region.<region>", or with bits of
 * its shared bits, "bits.<region>". */
void region_store_name(const char *region, bool bits, char name[FDSTORE_NAME_MAX]);

/*
 * Holes. No seal stops a member that maps the region writable from punching
 * holes in it (fallocate FALLOC_FL_PUNCH_HOLE, or madvise MADV_REMOVE):
 * F_SEAL_WRITE and F_SEAL_FUTURE_WRITE would, but also forbid the writable
 * mappings clients need, and fallocate needs only the write access every
 * such mapping has. A hole gives its pages back (on a hugepage region, to
 * the pool where anyone may take them) and reads as zeros.
 *
 * region_holes finds them in O(1): the bytes the region's memfd has fewer
 * than reserved (fstat), 0 when whole (always for a dry-run region). Where
 * they are cannot be told cheaply (SEEK_HOLE and mincore count reserved but
 * never written pages as holes), so region_fill reserves the whole region
 * again, max bytes per call (fallocate mode 0 fills holes and leaves the
 * rest; it still walks every page, ~4 ms per 16 MiB, hence the steps):
 * from fill_at, which it advances. Returns 1 while there is more to do, 0
 * once it has reached the end (filling is then false), or a negative errno
 * if reserving failed (the holes are still there).
 */
int64_t region_holes(const struct region *r);
int region_fill(struct region *r, uint64_t max);

/* Unmap and close. Safe on a zeroed struct with fd = bits_fd = bits_ro_fd = -1. */
void region_destroy(struct region *r);

/* May a peer with these credentials use the region? Root always may; with
 * no allow-lists everyone may; else the uid, the gid or one of the
 * supplementary groups must be listed. */
bool region_allows(const struct region *r, uid_t uid, gid_t gid, const gid_t *groups,
		   size_t ngroups);

#endif
