/*
 * memclient.h -- libmemclient, the client library of allocatord.
 *
 * Connect to the daemon, map its shared-memory regions, and allocate pool
 * blocks, group blocks and heap memory by name. Offsets are byte offsets from
 * the start of the region that holds the named pool, heap or group; they mean
 * the same memory in every process connected to the same daemon, so they can
 * be handed from a producer to a consumer over any channel. mc_ptr() turns
 * one into an address in this process.
 *
 * Ownership: an allocation is held by whoever allocated it and by whoever
 * mc_retain()ed it since; mc_free() drops the caller's hold and the memory
 * returns when nobody holds it. Everything a client holds is dropped when its
 * connection closes, however that happens (mc_close, exit, crash, kill -9).
 *
 * Errors: every int function returns 0 or a negative errno (strerror(-rc)
 * says what it is), the same codes the daemon uses:
 *   -ENOENT  no pool, heap or group of that name
 *   -EACCES  its region does not admit this process's uid/gid
 *   -EINVAL  bad argument
 *   -EFAULT  an offset that is not an allocation of that object
 *   -EPERM   freeing an allocation this client does not hold
 *   -EALREADY retaining what this client already holds
 *   -EDQUOT  over this client's quota for the pool or heap
 *   -ENOMEM  not enough free memory in the pool or heap
 *   -ENOSPC  the daemon's hold table is full
 *   -ECONNRESET, -EPIPE  the daemon went away (the mappings stay valid)
 *   -EUSERS  the daemon is at its client limit (from mc_connect)
 *
 * Large calls are split into several requests transparently; allocations
 * and retains stay all or nothing (what a later part could not get, the
 * earlier parts give back). A free split into parts is all or nothing per
 * part of at most mc_max_batch() offsets.
 *
 * Thread safety: a client may be used from several threads at once; calls
 * are serialised on it. mc_ptr() does not block.
 */
#ifndef MEMCLIENT_H
#define MEMCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_client mc_client_t;

/*
 * Connect to the daemon at socket_path; NULL means $ALLOCATORD_SOCKET, else
 * $XDG_RUNTIME_DIR/allocatord.sock if that exists, else
 * /run/allocatord/allocatord.sock. Maps every region this process may use.
 * Returns 0 and the client in *out, or a negative errno: -ENOENT /
 * -ECONNREFUSED (no daemon there), -ENAMETOOLONG, -EUSERS, -EPROTO (not an
 * allocatord of this protocol version), -ENOMEM.
 */
int mc_connect(const char *socket_path, mc_client_t **out);

/* Disconnect (the daemon drops every hold of this client) and unmap. NULL
 * is a no-op. No other call may be running on c. */
void mc_close(mc_client_t *c);

/* The path mc_connect(NULL, ...) would use, into buf. 0 or -ENAMETOOLONG. */
int mc_default_socket(char *buf, size_t len);

/* The socket path this client is connected to. */
const char *mc_socket_path(const mc_client_t *c);

/* Most offsets one request carries; larger calls are split. */
size_t mc_max_batch(const mc_client_t *c);

/* count blocks of pool, not necessarily contiguous, lowest free first. */
int mc_alloc(mc_client_t *c, const char *pool, size_t count, uint64_t offsets[]);

/* Drop this client's hold on count blocks (or heap allocations, for a heap
 * name; or blocks of a group's pools, for a group name). */
int mc_free(mc_client_t *c, const char *pool, size_t count, const uint64_t offsets[]);

/* count contiguous blocks of pool; *offset is the first. */
int mc_alloc_contiguous(mc_client_t *c, const char *pool, size_t count, uint64_t *offset);

/* Free count contiguous blocks of pool starting at offset (as from
 * mc_alloc_contiguous; any run this client holds). */
int mc_free_contiguous(mc_client_t *c, const char *pool, uint64_t offset, size_t count);

/* count blocks from the pool of group that the group's choice function picks
 * for cfg (by_size: the wanted block size); *blk_size (if not NULL) gets the
 * chosen pool's block size. count == 0: 0, *blk_size = 0. */
int mc_group_alloc(mc_client_t *c, const char *group, uint64_t cfg, size_t count,
		   uint64_t offsets[], size_t *blk_size);

int mc_group_free(mc_client_t *c, const char *group, size_t count, const uint64_t offsets[]);

/* size bytes of heap aligned to align (a power of two; 0: the heap's
 * granule). */
int mc_heap_alloc(mc_client_t *c, const char *heap, size_t size, size_t align, uint64_t *offset);

int mc_heap_free(mc_client_t *c, const char *heap, uint64_t offset);

/* Hold count allocations of name (pool, group or heap) that someone else
 * made, typically received from a producer. All or nothing. */
int mc_retain(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[]);

/* The address of offset in the region of name, or NULL if there is no such
 * name for this client or offset is past the end of its region. */
void *mc_ptr(mc_client_t *c, const char *name, uint64_t offset);

/* --- what there is and how it is used --- */

enum mc_kind { MC_POOL = 1, MC_HEAP = 2, MC_GROUP = 3 };

struct mc_info {
	char name[64];
	enum mc_kind kind;
	uint64_t block_size; /* pools; groups: 0 when members differ; heaps: 0 */
	uint64_t total;      /* blocks for pools and groups, bytes for heaps */
	uint64_t used;       /* same unit as total */
};

/* Up to max of the pools, heaps and groups this client may use, by name;
 * *n = how many exist (may exceed max). */
int mc_list(mc_client_t *c, struct mc_info *out, size_t max, size_t *n);

struct mc_stats {
	struct mc_info info;
	char region[64];
	uint64_t peak;         /* high-water mark of used, same unit */
	uint64_t failed;       /* allocations refused for lack of memory */
	uint64_t quota;        /* per-client limit (blocks / bytes), 0 = none */
	uint64_t largest_free; /* heaps: a lower bound on the largest free block */
	uint64_t live;         /* heaps: live allocations */
	uint64_t free_blocks;  /* heaps: free blocks (fragments) */
	char choice[64];       /* groups: the choice function */
	size_t nmembers;       /* groups: member pools (see mc_group_members) */
};

/* Detailed statistics of every visible object (name == NULL) or of one;
 * *n = how many exist. -ENOENT / -EACCES for an unknown or forbidden name. */
int mc_stats(mc_client_t *c, const char *name, struct mc_stats *out, size_t max, size_t *n);

/* The member pools of group, in order; *n = how many there are. */
int mc_group_members(mc_client_t *c, const char *group, char (*names)[64], size_t max, size_t *n);

struct mc_region_status {
	char name[64];
	uint64_t size; /* bytes */
	uint64_t used; /* bytes allocated in its pools and heaps */
	bool hugepages;
	uint32_t objects; /* pools and heaps */
};

struct mc_status {
	char daemon_version[32];
	uint32_t pid;
	uint64_t uptime_ms;
	char socket[108];
	uint32_t clients;
	uint32_t max_clients;
	uint64_t requests;  /* served since start */
	uint64_t reclaimed; /* holds dropped because their client went away */
};

/* Daemon status and up to max regions this client may use (*n = how many). */
int mc_status(mc_client_t *c, struct mc_status *st, struct mc_region_status *regions, size_t max,
	      size_t *n);

struct mc_client_info {
	uint64_t id;
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	char comm[17]; /* process name */
	char name[64]; /* what it called itself at connect */
	uint64_t since_unix_ms;
	size_t nholdings; /* its entries in the holdings array */
};

struct mc_holding {
	uint64_t client_id;
	char name[64];   /* pool or heap */
	uint64_t amount; /* blocks (pools) or bytes (heaps) */
	uint64_t holds;  /* distinct allocations */
};

/* Every connected client (up to max, *n = how many), and what each holds of
 * the objects this client may see (up to hmax entries, *hn = how many). */
int mc_clients(mc_client_t *c, struct mc_client_info *out, size_t max, size_t *n,
	       struct mc_holding *holdings, size_t hmax, size_t *hn);

/* The allocation bitmap of blocks [first, first + count) of pool: bit i (LSB
 * first in bits[i / 8]) is set iff block first + i is allocated. bits must
 * hold (count + 7) / 8 bytes. count is cut at the end of the pool; *total
 * (if not NULL) gets the pool's block count. */
int mc_pool_map(mc_client_t *c, const char *pool, uint64_t first, uint64_t count, uint8_t *bits,
		uint64_t *total);

#ifdef __cplusplus
}
#endif

#endif
