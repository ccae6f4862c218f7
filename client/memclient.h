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
 *   -ETIMEDOUT the daemon did not take or answer a request in time (see
 *            mc_set_timeout); the client is then broken like after -EPIPE
 *   -EUSERS  the daemon is at its client limit (from mc_connect)
 *
 * Large calls are split into several requests transparently; allocations
 * and retains stay all or nothing (what a later part could not get, the
 * earlier parts give back). A free split into parts is all or nothing per
 * part of at most mc_max_batch() offsets.
 *
 * Pipelining: requests are matched to their replies by id, so the library
 * keeps several in flight. mc_free_async() and mc_retain_async() queue their
 * requests and return without waiting; their errors come back from
 * mc_flush(). Every request reaches the daemon in the order of the calls.
 *
 * Leased caches: mc_cache() keeps up to a number of blocks of a pool leased
 * to this client, so that mc_alloc() and mc_free() of that pool usually need
 * no round trip (see mc_cache). Hand-off with caches: the consumer retains
 * (mc_retain, or mc_retain_async then mc_flush) and waits for the reply
 * before it tells the producer; the producer frees only after that.
 *
 * Thread safety: a client may be used from several threads at once; calls
 * are serialised on it (one mutex: the cached fast path takes it too, but no
 * syscall and no malloc). mc_ptr() does not block for a name the client knows.
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
 * allocatord of this protocol version), -ETIMEDOUT (no answer within the
 * default timeout, see mc_set_timeout), -EINVAL (also: a bad
 * $ALLOCATORD_TIMEOUT_MS), -ENOMEM.
 */
int mc_connect(const char *socket_path, mc_client_t **out);

/* The timeout of a client that does not choose one, unless
 * $ALLOCATORD_TIMEOUT_MS says otherwise (see mc_set_timeout). */
#define MC_TIMEOUT_DEFAULT_MS 30000
/* No timeout: wait for the daemon for ever. */
#define MC_TIMEOUT_NONE (-1)

struct mc_connect_options {
	/* sizeof(struct mc_connect_options): a library older than this
	 * header refuses a larger size with -EINVAL. */
	size_t size;
	/* As for mc_set_timeout, from the connect() on: 0 is the default. */
	int timeout_ms;
	/* When not NULL: on failure, the daemon's reason in reason_len bytes
	 * (NUL-terminated, cut to fit), e.g. "too many clients (max_clients
	 * 8)" with -EUSERS; "" when it gave none (no daemon, a timeout). */
	char *reason;
	size_t reason_len;
};

/*
 * mc_connect with options (opts NULL: as mc_connect). Also fails with
 * -EINVAL for a bad size or timeout_ms, and -ETIMEDOUT when the daemon does
 * not take the connection (its listen queue stays full) or answer the
 * hello within the timeout; nothing is then left open.
 */
int mc_connect_with(const char *socket_path, const struct mc_connect_options *opts,
		    mc_client_t **out);

/*
 * How long a call on c waits for the daemon: ms > 0, MC_TIMEOUT_NONE, or 0
 * for the default: $ALLOCATORD_TIMEOUT_MS (a whole number of ms from 1 to
 * INT_MAX, or -1 for none), else MC_TIMEOUT_DEFAULT_MS. mc_connect starts
 * with that default. The timeout bounds each wait of the library for the
 * daemon to take request bytes or to send reply bytes (not the whole call:
 * a call split into k requests, or a flush of n, may wait k or n times);
 * it covers every call that talks to the daemon, async requests and refills
 * of the caches included, and mc_close's flush.
 *
 * When it expires the call returns -ETIMEDOUT and the client is broken: the
 * library hangs up (so the daemon, if it ever runs again, drops every hold
 * of this client, cached blocks included), async requests in flight fail
 * with -ETIMEDOUT (mc_flush returns it), every later call fails at once
 * with -ECONNRESET, and the mappings stay valid until mc_close(), which is
 * still needed and safe. -EINVAL for ms < -1 or a bad $ALLOCATORD_TIMEOUT_MS
 * (ms 0); nothing changes then. No round trip.
 *
 * A restart of the daemon's serving process is not a break: the library
 * resumes the session (requests in flight neither lost nor applied twice,
 * mappings untouched), and the timeout bounds the whole wait for the daemon
 * to come back: -ETIMEDOUT then, mc_last_error() saying "daemon away";
 * -ESTALE when the session cannot be resumed (libmemclient(3), "During a
 * restart of the daemon").
 */
int mc_set_timeout(mc_client_t *c, int ms);

/* Send what mc_free_async / mc_retain_async queued and wait for it (its
 * errors are lost: call mc_flush first to see them), disconnect (the daemon
 * drops every hold of this client, cached blocks included) and unmap. NULL
 * is a no-op. No other call may be running on c. In a child process after
 * fork, only the child's copy is released: nothing is sent or read, so the
 * parent's client goes on untouched (a child must not otherwise use a
 * client it inherited; it connects its own). */
void mc_close(mc_client_t *c);

/*
 * Why the last call on c that failed did (NUL-terminated, cut to fit len):
 * the daemon's text of its error reply, or the library's reason when it
 * gave up on the daemon -- "daemon away: serving process being replaced"
 * with -ETIMEDOUT, what differs in the daemon's memory with -ESTALE
 * (libmemclient(3), "During a restart of the daemon"); "" when neither gave
 * one. The text stays until another failure replaces it. 0, or -EINVAL.
 */
int mc_last_error(mc_client_t *c, char *buf, size_t len);

/* The path mc_connect(NULL, ...) would use, into buf. 0 or -ENAMETOOLONG. */
int mc_default_socket(char *buf, size_t len);

/* The socket path this client is connected to. */
const char *mc_socket_path(const mc_client_t *c);

/* Most offsets one request carries; larger calls are split. */
size_t mc_max_batch(const mc_client_t *c);

/* count blocks of pool, not necessarily contiguous, lowest free first
 * (with a cache on: from the cache first, in no particular order). */
int mc_alloc(mc_client_t *c, const char *pool, size_t count, uint64_t offsets[]);

/* Drop this client's hold on count blocks (or heap allocations, for a heap
 * name; or blocks of a group's pools, for a group name). With a cache on,
 * a block mc_alloc() gave is kept in the cache when this client is its only
 * holder, else freed by a pipelined request; freeing a block that sits in
 * the cache is -EFAULT. Free cached pools' blocks under the pool's name. */
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

/* --- pipelined calls --- */

/*
 * As mc_free() / mc_retain(), without waiting for the daemon: the offsets
 * join a queue that goes out in requests of up to mc_max_batch() offsets (a
 * request is sent when it is full, when a call of another name or kind is
 * queued, and before any other request). Each request is all or nothing on
 * its own; a failure is kept for mc_flush(). Returns 0 once queued, -EINVAL
 * for bad arguments, -EFAULT (free) for a block in this client's cache, or
 * -ECONNRESET / -EPIPE when the daemon is gone. Cost: a copy of the offsets;
 * a send (no wait) per full request; a wait only when max_output bytes of
 * replies or 64 requests are outstanding, or, for a free of blocks of a
 * cached pool that its cache did not hand out, for a refill of that pool
 * on its way (it may bring one of them: then -EFAULT). A retained block is
 * only safe to use once mc_flush() returned 0.
 */
int mc_free_async(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[]);
int mc_retain_async(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[]);

/* Send what is queued, wait for every reply, and return the first error of
 * an async call since the last mc_flush (0 if none; -ECONNRESET when the
 * daemon is gone). */
int mc_flush(mc_client_t *c);

/* --- leased caches --- */

/*
 * Keep up to blocks blocks of pool leased to this client. mc_alloc() and
 * mc_free() of pool are then served locally when they can be: a leased block
 * is held by this client in the daemon's books (quotas, reclaim on
 * disconnect and memctl count it) but sits in the cache until mc_alloc()
 * hands it out. The cache refills (below blocks/4, up to blocks/2) and gives
 * back (above 3*blocks/4, down to blocks/2) with pipelined requests; blocks
 * unused for a second are given back too; the daemon takes cached blocks
 * back rather than refuse another client for lack of memory. A block another
 * client retained is never recycled locally.
 *
 * blocks = 0 turns the cache off and gives every cached block back (one
 * round trip). One round trip otherwise. Errors: -ENOENT, -EACCES (not a
 * pool this client may use), -EINVAL (a heap or group, a pool the daemon
 * does not let clients cache, or blocks over the pool's cache_max),
 * -EDQUOT (over the client quota), -ENOMEM.
 *
 * Defaults: the pool's client_cache in the daemon's config, or
 * $ALLOCATORD_CLIENT_CACHE ("64": every pool that can be cached; or
 * "small=64,packets=16"), turned on by mc_connect (silently left off when
 * refused). Without either, caches are off.
 */
int mc_cache(mc_client_t *c, const char *pool, size_t blocks);

struct mc_cache_stats {
	uint64_t target;     /* blocks asked with mc_cache, 0 = off */
	uint64_t cached;     /* blocks in the cache now */
	uint64_t hits;       /* blocks mc_alloc took from the cache */
	uint64_t misses;     /* blocks mc_alloc had to ask the daemon for */
	uint64_t refills;    /* async refill requests sent */
	uint64_t returns;    /* blocks given back (high water, trim, off) */
	uint64_t taken_back; /* blocks the daemon took back, as seen so far */
	uint64_t stale;      /* cached blocks found retained by another client
			      * and freed instead of handed out */
};

/* The cache counters of pool (all 0 for a pool that cannot be cached).
 * -EINVAL, or -ENOENT for a name the hello did not list. No round trip. */
int mc_cache_stats(mc_client_t *c, const char *pool, struct mc_cache_stats *st);

/* The address of offset in the region of name, or NULL if there is no such
 * name for this client or offset is past the end of its region. A name
 * the hello did not list (added by a reload since) is asked of the daemon
 * once per configuration generation, under the client's lock, and its
 * region mapped (libmemclient(3), "Objects added while connected"). */
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
	uint64_t cached;       /* pools: of used, blocks sitting in clients' leased
				* caches (leased, not in use by them); groups: the
				* sum over the member pools; heaps: 0. Reported by
				* the clients: display only (see below) */
};

/*
 * Detailed statistics of every visible object (name == NULL) or of one;
 * *n = how many exist. -ENOENT / -EACCES for an unknown or forbidden name.
 *
 * Cached counts are reported by clients and are for display only: a client
 * lists the blocks of its cache in its lease page, and the daemon counts
 * what a page lists that its client really holds. A block counts as used
 * either way (a lease is a hold), so cached <= used. The stats of one group
 * take one more request (for its members' counts).
 */
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
	/* The configuration serving (allocatord reloads it on SIGHUP): the
	 * file, its generation (1 at start, one more per reload applied; 0
	 * from a daemon without reloads) and when it was loaded; reloads
	 * refused since start and why the last one was ("" once one is
	 * applied). Text cut to fit. */
	char config_file[256];
	uint64_t config_generation;
	uint64_t config_loaded_unix_ms;
	uint64_t reloads_refused;
	char reload_error[512];
	/* Takeovers: pid above is the process serving now; the books,
	 * regions and socket outlive it, and a new one takes them over when
	 * it dies or is upgraded (allocatord(8)). How many takeovers since
	 * the state was created (the cold start, state_since_unix_ms; 0 from
	 * a daemon without takeovers), when the last one was (0: none), the
	 * keeper process that restarts serving processes (0: none, e.g.
	 * under systemd), and sessions waiting for their client to resume
	 * after a takeover. */
	uint64_t takeovers;
	uint64_t last_takeover_unix_ms;
	uint64_t state_since_unix_ms;
	uint32_t keeper_pid;
	uint32_t detached;
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
	bool detached;    /* waiting for its client to resume it after a
			   * takeover of the daemon (no connection; its
			   * holds kept until it resumes or its process
			   * exits) */
};

struct mc_holding {
	uint64_t client_id;
	char name[64];   /* pool or heap */
	uint64_t amount; /* blocks (pools) or bytes (heaps) */
	uint64_t holds;  /* distinct allocations */
	uint64_t cached; /* pools: of amount, blocks in its leased cache (as its
			  * lease page says: display only); heaps: 0 */
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

/* As mc_pool_map, for the cached bitmap: bit i is set iff block first + i
 * sits in a client's leased cache (allocated, leased, not in use by that
 * client; reported by clients, display only). Same arguments, errors and
 * paging; a picture of both bitmaps takes a call of each, not one instant. */
int mc_pool_cache_map(mc_client_t *c, const char *pool, uint64_t first, uint64_t count,
		      uint8_t *bits, uint64_t *total);

#ifdef __cplusplus
}
#endif

#endif
