/*
 * state: the "state" memfd, what tells a new serving process what the
 * books it takes over mean (issue 10). It is never sent to clients; the
 * keeper (or systemd's fd store) keeps it between serving processes under
 * the name "state", and the books (books.h) name objects and regions by
 * their index in it.
 *
 * Layout (native byte order: a state never leaves its host):
 *   [0, 4096)   the file header: a fixed prefix (magic "ALLOCDST", format
 *               version, header size) and two slots, each with a sequence
 *               number, where the directory is, its FNV-1a 64 hash, the
 *               takeover counters, and an FNV-1a 64 hash of the prefix and
 *               the slot itself. The valid slot with the higher sequence
 *               number is the state; a change writes the other slot, its
 *               hash last, so that a serving process killed at any
 *               instruction leaves either the old state or the new one,
 *               never a torn one.
 *   directory   regions by index (name, size, hugepages, shared-bits size,
 *               removed), then objects by index (kind, name, region index,
 *               offset, size, block size, blocks, shared-bits offset,
 *               granule, max_allocs, removed). A new directory is written
 *               where it does not overlap the current one (right after the
 *               header when it fits before it, else after it), then the
 *               header switches to it: copy on write, for the same reason.
 *               The memfd only grows (ftruncate; it is never sealed).
 *
 * Index i of the directory is index i of the object table, always: at a
 * cold start the directory is written from the table; a reload appends
 * what it adds and marks what it removes (state_append); a takeover
 * matches every directory entry to the configuration by name, kind and
 * geometry (state_open), then reorders the table built from the
 * configuration so that index i is entry i, keeps what the configuration
 * dropped as tombstones, and appends what it adds (state_reconcile).
 *
 * A state that does not fit -- truncated, another magic, a header whose
 * hashes are both wrong, a newer format, a damaged directory, another
 * layout -- is refused with a message naming the first problem (the
 * object, the state's value and the configuration's) and the hint
 * "start with --discard-state to drop the state (every hold is lost)".
 * With discard it is logged as a warning and dropped: a cold start.
 * Every value read from the memfd is checked before use: no state makes
 * the daemon crash or read outside the mapping.
 */
#ifndef ALLOCATORD_DAEMON_STATE_H
#define ALLOCATORD_DAEMON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/object_table.h"

#define STATE_MAGIC        "ALLOCDST"
#define STATE_FORMAT       1u
#define STATE_HEADER_SIZE  4096u
#define STATE_DISCARD_HINT "start with --discard-state to drop the state (every hold is lost)"

/* The file header: this prefix at 0, fixed at creation, ... */
struct state_prefix {
	char magic[8]; /* STATE_MAGIC, no NUL */
	uint32_t format;
	uint32_t header_size;
};

/* ... and two slots at STATE_SLOT_OFFSET(0) and (1); the valid one (its
 * hash, FNV-1a 64 of the prefix's bytes then its own up to hash, right;
 * seq not 0) with the higher seq is the state. dir_hash: FNV-1a 64 of the
 * directory's dir_size bytes, nregions regions then nobjects objects. */
struct state_slot {
	uint64_t seq;
	uint64_t total_size; /* bytes the memfd must have: dir_offset + dir_size */
	uint64_t dir_offset;
	uint64_t dir_size;
	uint32_t nregions;
	uint32_t nobjects;
	uint64_t dir_hash;
	uint64_t takeovers;
	uint64_t last_takeover_ms;
	uint64_t created_ms;
	uint32_t keeper_pid;
	uint32_t pad;
	uint64_t hash;
};

#define STATE_SLOT_OFFSET(i) (64u + (i) *256u)

_Static_assert(STATE_SLOT_OFFSET(1) + sizeof(struct state_slot) <= STATE_HEADER_SIZE,
	       "the slots fit in the header");

/* A region of the directory. */
struct state_region {
	char name[WIRE_NAME_MAX + 1];
	uint64_t size;
	uint64_t bits_size;
	uint32_t flags; /* STATE_HUGEPAGES, STATE_GONE */
	uint32_t pad;
};

/* An object of the directory. Groups have no geometry: their members'
 * holds are the pools' (a restart may change a group's members). */
struct state_object {
	char name[WIRE_NAME_MAX + 1];
	uint32_t kind;   /* enum obj_kind */
	uint32_t region; /* index; a group's: its members' region */
	uint32_t flags;  /* STATE_GONE */
	uint32_t granule;
	uint64_t offset;
	uint64_t size;
	uint64_t block_size;
	uint64_t blocks;
	uint64_t bits_offset;
	uint32_t max_allocs;
	uint32_t pad;
};

enum { STATE_HUGEPAGES = 1u, STATE_GONE = 2u };

struct state {
	int fd;          /* the memfd; -1 when none */
	uint8_t *map;    /* its mapping (MAP_SHARED, read-write) */
	uint64_t mapped; /* bytes mapped: the memfd's size */
	bool taken_over; /* state_open adopted a state that was passed */
	/* The directory, as committed (plus what state_reconcile or
	 * state_append are about to commit). */
	struct state_region *regions;
	uint32_t nregions;
	struct state_object *objects;
	uint32_t nobjects;
	size_t cap_regions, cap_objects; /* room in the two arrays */
	/* The current header slot's values. */
	uint32_t slot;
	uint64_t seq;
	uint64_t dir_offset;
	uint64_t dir_size;
	uint64_t takeovers;
	uint64_t last_takeover_ms; /* wall clock; 0: none */
	uint64_t created_ms;       /* wall clock of the cold start */
	uint32_t keeper_pid;       /* 0: none */
	uint64_t dir_hash;         /* as read: checked against the copy */
};

/*
 * Open the state for configuration c. fd -1: a cold start; st gets a new,
 * empty memfd (written by state_reconcile). fd >= 0 (st owns it from now
 * on, on error too): validate it and match its directory against c, by
 * name, kind and geometry; st->taken_over is set. Nothing of c or of any
 * object table changes here, so a refused state leaves nothing to undo.
 * A state that does not fit: -EINVAL (-ENOEXEC for a newer format) with
 * the reason and STATE_DISCARD_HINT in e -- or, with discard, a warning
 * logged, the state closed and a cold start (0). -ENOMEM, or the errno of
 * memfd_create / mmap, with the reason in e. O(directory * objects of c).
 */
int state_open(struct state *st, int fd, const struct config *c, bool discard, struct errbuf *e);

/*
 * Make t, just built from the configuration state_open saw, agree with the
 * state, and write the directory. Taken over: t is reordered so that index
 * i is directory entry i; what the directory has and the configuration
 * dropped becomes a tombstone (gone, cfg NULL, no allocator; a region:
 * no memfd); what the configuration adds follows, in t's order, and is
 * appended to the directory. Cold start: the directory is t. 0, or
 * -ENOMEM / the errno of ftruncate or mremap with e set and t as it was.
 * O(objects log objects).
 */
int state_reconcile(struct state *st, struct object_table *t, struct errbuf *e);

/*
 * Before a reload is applied: make room for a directory of nregions
 * regions and nobjects objects, so that state_append after it cannot
 * fail. 0, or a negative errno with e set (refuse the reload then).
 */
int state_reserve(struct state *st, size_t nregions, size_t nobjects, struct errbuf *e);

/*
 * After a reload applied to t: append its new regions and objects to the
 * directory and mark those it removed, and commit. Cannot fail after a
 * state_reserve for at least t's counts (else -ENOMEM or the errno of
 * ftruncate / mremap with e set, and the memfd as it was). O(objects).
 */
int state_append(struct state *st, const struct object_table *t, struct errbuf *e);

/*
 * The serving process is up: record keeper (0: none) and, after a
 * takeover, count it at wall time now_ms. 0, or a negative errno with e set.
 */
int state_started(struct state *st, pid_t keeper, uint64_t now_ms, struct errbuf *e);

/*
 * The books that went with a taken-over state do not fit, and the operator
 * said --discard-state: st becomes a new state, in a new memfd (st->fd:
 * put it in the store in place of the old one), of the table as it now is
 * -- every entry, tombstones included, keeps its index -- with no takeover
 * counted: a cold start. 0, or a negative errno of memfd_create / mmap
 * with e set (st is then closed).
 */
int state_drop(struct state *st, struct errbuf *e);

/* Unmap and close (the fd store keeps its own copy). Safe on a zeroed
 * struct with fd -1. */
void state_close(struct state *st);

#endif
