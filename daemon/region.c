/*
 * region: creating, reserving, sealing and mapping a region's memfd, and the
 * allow-list check (see region.h). On any failure nothing stays open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/bytes.h"
#include "daemon/fdstore.h"
#include "daemon/memcheck.h"
#include "daemon/region.h"

#define BITS_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* A new shared-bits memfd of size bytes, zeroed, mode 0400 and sealed
 * (region.h says why not against writes). 0 or a negative errno. */
static int bits_make(struct region *r, const char *name, size_t size)
{
	r->bits_fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->bits_fd < 0 || ftruncate(r->bits_fd, (off_t) size) < 0 ||
	    fchmod(r->bits_fd, S_IRUSR) < 0 || fcntl(r->bits_fd, F_ADD_SEALS, BITS_SEALS) < 0)
		return -errno;
	return 0;
}

/* The bits memfd fd of a takeover: sealed as bits_make seals, so that no
 * client can have shrunk it under the mapping. Its size is the one it was
 * made with; pools past it (a reload's, then a restart) keep private bits
 * as after the reload (object_table.c). 0 or -EINVAL. */
static int bits_adopt(struct region *r, int fd, size_t *size)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	r->bits_fd = fd;
	if (seals < 0 || fstat(fd, &st) < 0)
		return -errno;
	if ((seals & BITS_SEALS) != BITS_SEALS || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -EINVAL;
	*size = (size_t) st.st_size;
	return 0;
}

/* The shared bits: taken over from fs ("bits.<region>") or made new and put
 * there, mapped RW, and opened a second time read-only for clients. A bits
 * file taken over keeps what it says until the books are rebuilt, which
 * rewrites every word (so that no client ever reads a bit cleared on the
 * way). Dry run: private anonymous memory. */
static int bits_create(struct region *r, const struct cfg_region *cfg, bool dry_run,
		       struct fdstore *fs, struct errbuf *e)
{
	char name[FDSTORE_NAME_MAX], path[64];
	size_t size = cfg->bits_size;
	void *p = NULL;
	int rc = 0, fd;

	if (dry_run) {
		if (size > 0)
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
		if (p == MAP_FAILED)
			rc = -errno;
	} else {
		region_store_name(cfg->name, true, name);
		fd = fdstore_take(fs, name);
		rc = fd >= 0 ? bits_adopt(r, fd, &size) : bits_make(r, name, size);
		if (rc == 0 && fd < 0)
			rc = fdstore_put(fs, name, r->bits_fd);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", r->bits_fd);
		if (rc == 0) {
			r->bits_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
			rc = r->bits_ro_fd < 0 ? -errno : 0;
		}
		if (rc == 0 && size > 0) {
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->bits_fd, 0);
			if (p == MAP_FAILED)
				rc = -errno;
		}
	}
	if (rc < 0)
		return errbuf_set(
		    e, rc, "region '%s': cannot set up its %zu bytes of shared bits: %s", cfg->name,
		    size,
		    rc == -EINVAL ? "the memfd taken over is not sealed as allocatord "
				    "seals shared bits"
				  : strerror(-rc));
	r->bits = p;
	r->bits_size = size;
	return 0;
}

/* Reserve the memfd in MEMCHECK_STEP steps, looking before each at what may
 * still be reserved: memory taken by others since the start-up check stops
 * the start here, with what was reserved so far, before the machine runs
 * short. A full reservation also means no SIGBUS in a client on first
 * touch. */
static int region_reserve(struct region *r, const struct cfg_region *cfg, struct errbuf *e)
{
	char s1[BYTES_BUF], s2[BYTES_BUF], s3[BYTES_BUF];
	struct memcheck_budget b;
	uint64_t done, step, room;
	int rc;

	for (done = 0; done < cfg->size; done += step) {
		step = cfg->size - done < MEMCHECK_STEP ? cfg->size - done : MEMCHECK_STEP;
		memcheck_read(&b);
		room = memcheck_room(&b, cfg->hugepages);
		if (room < cfg->size - done)
			return errbuf_set(e, -ENOMEM,
					  "region '%s': stopped reserving at %s of %s: only %s %s "
					  "left for the remaining %s",
					  cfg->name, bytes_fmt(done, BYTES_ROUNDED, s1),
					  bytes_fmt(cfg->size, BYTES_ROUNDED, s2),
					  bytes_fmt(room, BYTES_ROUNDED, s3),
					  cfg->hugepages ? "of huge pages" : "of memory",
					  bytes_fmt(cfg->size - done, BYTES_ROUNDED, s1));
		rc = posix_fallocate(r->fd, (off_t) done, (off_t) step);
		if (rc != 0)
			return errbuf_set(e, -rc, "region '%s': cannot reserve %s: %s%s", cfg->name,
					  bytes_fmt(cfg->size, BYTES_ROUNDED, s1), strerror(rc),
					  cfg->hugepages
					      ? " (reserve huge pages: sysctl vm.nr_hugepages=N)"
					      : "");
	}
	return 0;
}

/* The seals region_create sets: what an adopted memfd must show. */
#define REGION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Serve the memfd a previous serving process made (fd, ours now): the
 * same memory clients map, so it must be what this config describes. */
static int region_adopt(struct region *r, const struct cfg_region *cfg, int fd, struct errbuf *e)
{
	char s1[BYTES_BUF], s2[BYTES_BUF];
	struct stat st;
	int seals, rc;

	r->fd = fd;
	seals = fcntl(fd, F_GET_SEALS);
	if (fstat(fd, &st) < 0 || seals < 0) {
		rc = -errno;
		errbuf_set(e, rc, "region '%s': the memfd taken over: %s", cfg->name,
			   strerror(-rc));
		goto fail;
	}
	if ((uint64_t) st.st_size != cfg->size) {
		rc = errbuf_set(e, -EINVAL,
				"region '%s': the memfd taken over is %s, the configuration "
				"says %s: a region's size changes only with a restart that "
				"drops the state",
				cfg->name, bytes_fmt((uint64_t) st.st_size, BYTES_EXACT, s1),
				bytes_fmt(cfg->size, BYTES_EXACT, s2));
		goto fail;
	}
	if ((seals & REGION_SEALS) != REGION_SEALS) {
		rc = errbuf_set(e, -EINVAL,
				"region '%s': the memfd taken over is not sealed against "
				"shrinking and growing (seals 0x%x): not a region allocatord made",
				cfg->name, (unsigned) seals);
		goto fail;
	}
	/* A hole a member punched while nobody served is found and filled by
	 * the periodic check: count the reservation as whole. (hugetlbfs
	 * reserves whole pages or fails, so there st_blocks is the truth.) */
	r->blocks = (int64_t) st.st_blocks;
	if (!cfg->hugepages && (int64_t) (cfg->size / 512) > r->blocks)
		r->blocks = (int64_t) (cfg->size / 512);
	r->adopted = true;
	return 0;

fail:
	close(fd);
	r->fd = -1;
	return rc;
}

/* A new memfd, reserved and sealed. */
static int region_make(struct region *r, const struct cfg_region *cfg, struct errbuf *e)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char human[BYTES_BUF];
	struct stat st;
	int rc;

	bytes_fmt(cfg->size, BYTES_ROUNDED, human);
	if (cfg->hugepages)
		flags |= MFD_HUGETLB;
	r->fd = memfd_create(cfg->name, flags);
	if (r->fd < 0) {
		rc = -errno;
		return errbuf_set(e, rc, "region '%s': memfd_create: %s%s", cfg->name,
				  strerror(-rc),
				  cfg->hugepages ? " (does the kernel support hugetlbfs?)" : "");
	}
	if (ftruncate(r->fd, (off_t) cfg->size) < 0) {
		rc = -errno;
		errbuf_set(
		    e, rc, "region '%s': cannot size to %s: %s%s", cfg->name, human, strerror(-rc),
		    cfg->hugepages ? " (size must be a multiple of the huge page size)" : "");
		goto fail;
	}
	rc = region_reserve(r, cfg, e);
	if (rc < 0)
		goto fail;
	if (fstat(r->fd, &st) < 0) {
		rc = -errno;
		errbuf_set(e, rc, "region '%s': fstat: %s", cfg->name, strerror(-rc));
		goto fail;
	}
	r->blocks = (int64_t) st.st_blocks;
	if (fcntl(r->fd, F_ADD_SEALS, REGION_SEALS) < 0) {
		rc = -errno;
		errbuf_set(e, rc, "region '%s': cannot seal: %s", cfg->name, strerror(-rc));
		goto fail;
	}
	return 0;

fail:
	close(r->fd);
	r->fd = -1;
	return rc;
}

int region_create(struct region *r, const struct cfg_region *cfg, uint32_t index, bool dry_run,
		  struct fdstore *fs, struct errbuf *e)
{
	char name[FDSTORE_NAME_MAX], human[BYTES_BUF];
	int fd, rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->bits_fd = -1;
	r->bits_ro_fd = -1;
	r->cfg = cfg;
	r->index = index;
	r->size = cfg->size;
	bytes_fmt(cfg->size, BYTES_ROUNDED, human);
	if (dry_run) {
		r->base = mmap(NULL, cfg->size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r->base == MAP_FAILED) {
			rc = -errno;
			r->base = NULL;
			return errbuf_set(e, rc,
					  "region '%s': cannot reserve %s of address space: %s",
					  cfg->name, human, strerror(-rc));
		}
		goto bits;
	}

	region_store_name(cfg->name, false, name);
	fd = fdstore_take(fs, name);
	rc = fd >= 0 ? region_adopt(r, cfg, fd, e) : region_make(r, cfg, e);
	if (rc < 0)
		return rc;
	/* A region taken over is in the store already. */
	rc = fd >= 0 ? 0 : fdstore_put(fs, name, r->fd);
	if (rc < 0) {
		errbuf_set(e, rc, "region '%s': cannot hand its memfd to the fd store: %s",
			   cfg->name, strerror(-rc));
		goto fail;
	}
	r->base = mmap(NULL, cfg->size, PROT_NONE, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED) {
		rc = -errno;
		r->base = NULL;
		errbuf_set(e, rc, "region '%s': cannot map %s: %s", cfg->name, human,
			   strerror(-rc));
		goto fail;
	}
bits:
	rc = bits_create(r, cfg, dry_run, fs, e);
	if (rc < 0)
		region_destroy(r);
	return rc;

fail:
	close(r->fd);
	r->fd = -1;
	return rc;
}

int64_t region_holes(const struct region *r)
{
	struct stat st;

	if (r->fd < 0 || fstat(r->fd, &st) < 0 || (int64_t) st.st_blocks >= r->blocks)
		return 0;
	return (r->blocks - (int64_t) st.st_blocks) * 512;
}

int region_fill(struct region *r, uint64_t max)
{
	uint64_t len = r->size - r->fill_at < max ? r->size - r->fill_at : max;

	if (len > 0 && fallocate(r->fd, 0, (off_t) r->fill_at, (off_t) len) < 0)
		return -errno;
	r->fill_at += len;
	if (r->fill_at < r->size)
		return 1;
	r->filling = false;
	r->fill_at = 0;
	return 0;
}

void region_store_name(const char *region, bool bits, char name[FDSTORE_NAME_MAX])
{
	snprintf(name, FDSTORE_NAME_MAX, "%s.%s", bits ? "bits" : "region", region);
}

void region_destroy(struct region *r)
{
	if (r->base != NULL)
		munmap(r->base, r->size);
	if (r->fd >= 0)
		close(r->fd);
	if (r->bits != NULL)
		munmap(r->bits, r->bits_size);
	if (r->bits_fd >= 0)
		close(r->bits_fd);
	if (r->bits_ro_fd >= 0)
		close(r->bits_ro_fd);
	r->base = NULL;
	r->bits = NULL;
	r->fd = r->bits_fd = r->bits_ro_fd = -1;
}

bool region_allows(const struct region *r, uid_t uid, gid_t gid, const gid_t *groups,
		   size_t ngroups)
{
	const struct cfg_region *c = r->cfg;

	if (uid == 0 || (c->n_allow_uids == 0 && c->n_allow_gids == 0))
		return true;
	for (size_t i = 0; i < c->n_allow_uids; i++)
		if (c->allow_uids[i] == uid)
			return true;
	for (size_t i = 0; i < c->n_allow_gids; i++) {
		if (c->allow_gids[i] == gid)
			return true;
		for (size_t j = 0; j < ngroups; j++)
			if (c->allow_gids[i] == groups[j])
				return true;
	}
	return false;
}
