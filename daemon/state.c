/*
 * state: the state memfd's file header and its life -- create, validate,
 * commit, close (see state.h); the directory's meaning is state_dir.c's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/state_dir.h"

#define DIR_ALIGN 64u

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

#define FNV_BASIS UINT64_C(0xcbf29ce484222325)

static uint64_t slot_hash(const struct state_prefix *p, const struct state_slot *s)
{
	return fnv1a(fnv1a(FNV_BASIS, p, sizeof(*p)), s, offsetof(struct state_slot, hash));
}

static struct state_slot *slot_at(const struct state *st, uint32_t i)
{
	return (struct state_slot *) (st->map + STATE_SLOT_OFFSET(i));
}

static uint64_t dir_bytes(uint32_t nregions, uint32_t nobjects)
{
	return (uint64_t) nregions * sizeof(struct state_region) +
	       (uint64_t) nobjects * sizeof(struct state_object);
}

static void unmap(struct state *st)
{
	if (st->map != NULL)
		munmap(st->map, st->mapped);
	st->map = NULL;
	st->mapped = 0;
}

void state_close(struct state *st)
{
	/* map is set iff fd is ours: a zeroed struct has fd 0 and no map. */
	if (st->map != NULL && st->fd >= 0)
		close(st->fd);
	unmap(st);
	free(st->regions);
	free(st->objects);
	memset(st, 0, sizeof(*st));
	st->fd = -1;
}

/* The memfd at least need bytes long, mapped whole. */
static int grow(struct state *st, uint64_t need)
{
	uint64_t size = st->mapped;
	void *m;

	if (need <= size)
		return 0;
	while (size < need)
		size = size < 65536 ? 65536 : size * 2;
	if (ftruncate(st->fd, (off_t) size) < 0)
		return -errno;
	m = mremap(st->map, st->mapped, size, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return -errno;
	st->map = m;
	st->mapped = size;
	return 0;
}

/* Where the next directory of size bytes goes: right after the header
 * when it fits before the current one, else after the current one. */
static uint64_t next_place(const struct state *st, uint64_t size)
{
	if (st->seq == 0 || STATE_HEADER_SIZE + size <= st->dir_offset)
		return STATE_HEADER_SIZE;
	return (st->dir_offset + st->dir_size + DIR_ALIGN - 1) / DIR_ALIGN * DIR_ALIGN;
}

/* Write the directory where it does not overlap the current one, then the
 * other slot, its hash last: a kill at any point leaves the old state or
 * the new one. */
static int commit(struct state *st, struct errbuf *e)
{
	uint64_t size = dir_bytes(st->nregions, st->nobjects), at;
	const struct state_prefix *p;
	struct state_slot *s;
	uint32_t next = st->slot ^ 1u;
	int rc;

	at = next_place(st, size);
	rc = grow(st, at + size);
	if (rc < 0)
		return errbuf_set(e, rc, "state: cannot grow to %llu bytes: %s",
				  (unsigned long long) (at + size), strerror(-rc));
	if (st->nregions > 0)
		memcpy(st->map + at, st->regions, st->nregions * sizeof(*st->regions));
	if (st->nobjects > 0)
		memcpy(st->map + at + st->nregions * sizeof(*st->regions), st->objects,
		       st->nobjects * sizeof(*st->objects));
	p = (const struct state_prefix *) st->map; /* grow may move it */
	s = slot_at(st, next);
	s->hash = 0; /* invalid while it is written */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->seq = st->seq + 1;
	s->total_size = at + size;
	s->dir_offset = at;
	s->dir_size = size;
	s->nregions = st->nregions;
	s->nobjects = st->nobjects;
	s->dir_hash = fnv1a(FNV_BASIS, st->map + at, size);
	s->takeovers = st->takeovers;
	s->last_takeover_ms = st->last_takeover_ms;
	s->created_ms = st->created_ms;
	s->keeper_pid = st->keeper_pid;
	s->pad = 0;
	__atomic_store_n(&s->hash, slot_hash(p, s), __ATOMIC_RELEASE);
	st->slot = next;
	st->seq++;
	st->dir_offset = at;
	st->dir_size = size;
	return 0;
}

/* A new, empty state: a memfd with the prefix written (slots invalid). */
static int create(struct state *st, struct errbuf *e)
{
	struct state_prefix *p;
	int fd = memfd_create("allocatord-state", MFD_CLOEXEC);

	if (fd < 0)
		return errbuf_set(e, -errno, "state: memfd_create: %s", strerror(errno));
	st->fd = fd;
	st->map = mmap(NULL, STATE_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st->map == MAP_FAILED || ftruncate(fd, STATE_HEADER_SIZE) < 0) {
		int rc = -errno;

		if (st->map == MAP_FAILED)
			st->map = NULL;
		close(fd);
		unmap(st);
		st->fd = -1;
		return errbuf_set(e, rc, "state: %s", strerror(-rc));
	}
	st->mapped = STATE_HEADER_SIZE;
	p = (struct state_prefix *) st->map;
	memcpy(p->magic, STATE_MAGIC, sizeof(p->magic));
	p->format = STATE_FORMAT;
	p->header_size = STATE_HEADER_SIZE;
	st->slot = 1; /* the first commit writes slot 0 */
	return 0;
}

/* The valid slot with the higher sequence number, or NULL. */
static const struct state_slot *current_slot(struct state *st)
{
	const struct state_prefix *p = (const struct state_prefix *) st->map;
	const struct state_slot *best = NULL;

	for (uint32_t i = 0; i < 2; i++) {
		const struct state_slot *s = slot_at(st, i);

		if (s->seq != 0 && s->hash == slot_hash(p, s) &&
		    (best == NULL || s->seq > best->seq)) {
			best = s;
			st->slot = i;
		}
	}
	return best;
}

/* The header of the state mapped in st, checked, into st. */
static int read_header(struct state *st, struct errbuf *e)
{
	const struct state_prefix *p = (const struct state_prefix *) st->map;
	const struct state_slot *s;

	if (st->mapped < sizeof(*p))
		return errbuf_set(e, -EINVAL,
				  "state: truncated: %llu bytes, smaller than its %u-byte header",
				  (unsigned long long) st->mapped, STATE_HEADER_SIZE);
	if (memcmp(p->magic, STATE_MAGIC, sizeof(p->magic)) != 0)
		return errbuf_set(e, -EINVAL, "state: bad magic: not an allocatord state");
	if (p->format > STATE_FORMAT)
		return errbuf_set(e, -ENOEXEC,
				  "state format %u is newer than this allocatord (format %u)",
				  p->format, STATE_FORMAT);
	if (p->format == 0 || p->header_size != STATE_HEADER_SIZE)
		return errbuf_set(e, -EINVAL, "state: format %u with a %u-byte header is damaged",
				  p->format, p->header_size);
	if (st->mapped < STATE_HEADER_SIZE)
		return errbuf_set(e, -EINVAL,
				  "state: truncated: %llu bytes, smaller than its %u-byte header",
				  (unsigned long long) st->mapped, STATE_HEADER_SIZE);
	s = current_slot(st);
	if (s == NULL)
		return errbuf_set(e, -EINVAL, "state: header hash mismatch: the header is damaged");
	if (s->total_size > st->mapped)
		return errbuf_set(e, -EINVAL, "state: truncated: %llu bytes, its header says %llu",
				  (unsigned long long) st->mapped,
				  (unsigned long long) s->total_size);
	if (s->nregions > WIRE_MAX_REGIONS || s->dir_offset < STATE_HEADER_SIZE ||
	    s->dir_offset > s->total_size || s->dir_size > s->total_size - s->dir_offset ||
	    s->dir_size != dir_bytes(s->nregions, s->nobjects))
		return errbuf_set(e, -EINVAL, "state: the header's directory bounds are damaged");
	st->seq = s->seq;
	st->dir_offset = s->dir_offset;
	st->dir_size = s->dir_size;
	st->nregions = s->nregions;
	st->nobjects = s->nobjects;
	st->takeovers = s->takeovers;
	st->last_takeover_ms = s->last_takeover_ms;
	st->created_ms = s->created_ms;
	st->keeper_pid = s->keeper_pid;
	st->dir_hash = s->dir_hash;
	return 0;
}

/* A copy of the directory, so that nothing after this reads the memfd
 * (a writer with the fd could change it under us). */
static int copy_directory(struct state *st, struct errbuf *e)
{
	size_t rb = st->nregions * sizeof(*st->regions), ob = st->nobjects * sizeof(*st->objects);

	if (state_dir__reserve(st, st->nregions, st->nobjects) < 0)
		return errbuf_set(e, -ENOMEM, "state: %s", strerror(ENOMEM));
	if (rb > 0) /* (memcpy of NULL is undefined even for 0 bytes) */
		memcpy(st->regions, st->map + st->dir_offset, rb);
	if (ob > 0)
		memcpy(st->objects, st->map + st->dir_offset + rb, ob);
	if (fnv1a(fnv1a(FNV_BASIS, st->regions, rb), st->objects, ob) != st->dir_hash)
		return errbuf_set(e, -EINVAL,
				  "state: directory hash mismatch: the directory is damaged");
	return 0;
}

/* Map fd whole and check it against c. */
static int adopt(struct state *st, int fd, const struct config *c, struct errbuf *e)
{
	struct stat sb;
	int rc;

	st->fd = fd;
	if (fstat(fd, &sb) < 0)
		return errbuf_set(e, -errno, "state: fstat: %s", strerror(errno));
	if (sb.st_size == 0)
		return errbuf_set(e, -EINVAL,
				  "state: truncated: 0 bytes, smaller than its %u-byte header",
				  STATE_HEADER_SIZE);
	st->map = mmap(NULL, (size_t) sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st->map == MAP_FAILED) {
		st->map = NULL;
		return errbuf_set(e, -errno, "state: mmap: %s", strerror(errno));
	}
	st->mapped = (uint64_t) sb.st_size;
	rc = read_header(st, e);
	if (rc == 0)
		rc = copy_directory(st, e);
	if (rc == 0)
		rc = state_dir__check(st, c, e);
	return rc;
}

int state_open(struct state *st, int fd, const struct config *c, bool discard, struct errbuf *e)
{
	int rc;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (fd < 0)
		return create(st, e);
	rc = adopt(st, fd, c, e);
	if (rc == 0) {
		st->taken_over = true;
		return 0;
	}
	if (st->map == NULL)
		close(fd); /* state_close closes only a mapped one */
	state_close(st);
	if (rc == -ENOMEM || !discard) {
		size_t n = strlen(e->msg);

		if (rc != -ENOMEM)
			snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", STATE_DISCARD_HINT);
		return rc;
	}
	log_warn("%s: dropped (--discard-state): a cold start, every hold of the old state is "
		 "lost",
		 e->msg);
	return create(st, e);
}

int state_drop(struct state *st, struct errbuf *e)
{
	struct state kept = *st;
	int rc;

	/* The directory stays: it is the table's. */
	st->regions = NULL;
	st->objects = NULL;
	state_close(st);
	rc = create(st, e);
	st->regions = kept.regions;
	st->nregions = kept.nregions;
	st->cap_regions = kept.cap_regions;
	st->objects = kept.objects;
	st->nobjects = kept.nobjects;
	st->cap_objects = kept.cap_objects;
	if (rc < 0)
		state_close(st);
	return rc;
}

int state_reconcile(struct state *st, struct object_table *t, struct errbuf *e)
{
	return state_dir__reconcile(st, t, e);
}

int state_reserve(struct state *st, size_t nregions, size_t nobjects, struct errbuf *e)
{
	uint64_t size = dir_bytes((uint32_t) nregions, (uint32_t) nobjects);
	int rc = state_dir__reserve(st, nregions, nobjects);

	if (rc == 0)
		rc = grow(st, next_place(st, size) + size);
	return rc < 0 ? errbuf_set(e, rc, "state: cannot make room for %zu objects: %s", nobjects,
				   strerror(-rc))
		      : 0;
}

int state_append(struct state *st, const struct object_table *t, struct errbuf *e)
{
	int rc = state_dir__append(st, t, e);

	return rc == 0 ? commit(st, e) : rc;
}

int state_started(struct state *st, pid_t keeper, uint64_t now_ms, struct errbuf *e)
{
	st->keeper_pid = keeper > 0 ? (uint32_t) keeper : 0;
	if (st->created_ms == 0)
		st->created_ms = now_ms;
	if (st->taken_over) {
		st->takeovers++;
		st->last_takeover_ms = now_ms;
	}
	return commit(st, e);
}
