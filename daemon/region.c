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

/* The shared bits: zeroed (a new memfd or anonymous memory), mapped RW,
 * then sealed so that nobody else can ever write them. */
static int bits_create(struct region *r, const struct cfg_region *cfg, bool dry_run,
		       struct errbuf *e)
{
	const unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	size_t size = cfg->bits_size;
	char name[WIRE_NAME_MAX + 8];
	void *p = NULL;
	int rc = 0;

	if (dry_run) {
		if (size > 0)
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
		if (p == MAP_FAILED)
			rc = -errno;
	} else {
		snprintf(name, sizeof(name), "%s.bits", cfg->name);
		r->bits_fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (r->bits_fd < 0 || ftruncate(r->bits_fd, (off_t) size) < 0)
			rc = -errno;
		if (rc == 0 && size > 0) {
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->bits_fd, 0);
			if (p == MAP_FAILED)
				rc = -errno;
		}
		/* After the mapping: F_SEAL_FUTURE_WRITE spares mappings made before. */
		if (rc == 0 && fcntl(r->bits_fd, F_ADD_SEALS, seals) < 0) {
			rc = -errno;
			if (p != NULL)
				munmap(p, size);
		}
	}
	if (rc < 0)
		return errbuf_set(e, rc,
				  "region '%s': cannot set up its %zu bytes of shared bits: %s",
				  cfg->name, size, strerror(-rc));
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

	region_store_name(cfg->name, name);
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
	rc = bits_create(r, cfg, dry_run, e);
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

void region_store_name(const char *region, char name[FDSTORE_NAME_MAX])
{
	snprintf(name, FDSTORE_NAME_MAX, "region.%s", region);
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
	r->base = NULL;
	r->bits = NULL;
	r->fd = r->bits_fd = -1;
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
