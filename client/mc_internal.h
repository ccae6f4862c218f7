/*
 * mc_internal.h -- what libmemclient's files share: the client object, the
 * pipelined transport every call is built on, the queue of asynchronous
 * frees and retains, and the leased block caches.
 *
 * Locking: c->lock serialises whole API calls (a split call keeps the lock
 * across its parts, so no other thread's request lands between them), and
 * covers the transport, the async queue and every cache. The hello's region
 * and object tables are written once in mc_connect and never again, which is
 * why mc_ptr() reads them without the lock; objects a reload added are
 * learned later (mc_learn.c) into room that never moves, and published whole
 * with a release store, so the same lock-free reads see them.
 */
#ifndef ALLOCATORD_CLIENT_MC_INTERNAL_H
#define ALLOCATORD_CLIENT_MC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#include "client/memclient.h"
#include "proto/allocd.pb-c.h"
#include "proto/wire.h"

/* memclient.h cannot include the wire contract (it is not installed), so
 * what it repeats of it is checked here. */
_Static_assert((int) MC_POOL == (int) WIRE_KIND_POOL, "mc_kind is the wire's");
_Static_assert((int) MC_HEAP == (int) WIRE_KIND_HEAP, "mc_kind is the wire's");
_Static_assert((int) MC_GROUP == (int) WIRE_KIND_GROUP, "mc_kind is the wire's");
_Static_assert(sizeof(((struct mc_info *) 0)->name) == WIRE_NAME_MAX + 1, "a name fits");
_Static_assert(sizeof(((struct mc_stats *) 0)->region) == WIRE_NAME_MAX + 1, "a name fits");
_Static_assert(sizeof(((struct mc_region_status *) 0)->name) == WIRE_NAME_MAX + 1, "a name fits");
_Static_assert(sizeof(((struct mc_holding *) 0)->name) == WIRE_NAME_MAX + 1, "a name fits");

/* Descriptors one hello may carry: a memfd per region, a shared-bits memfd
 * per region, the lease page. */
#define MC_MAX_HELLO_FDS (2u * WIRE_MAX_REGIONS + 1u)

/* The library exports ^mc_ (client/local.mk), which the mc__ helpers below
 * would match too: keep them out of the ABI. */
#define MC_INTERNAL __attribute__((visibility("hidden")))

struct mc_region {
	uint8_t *base; /* MAP_SHARED, read/write */
	uint64_t size;
	char name[WIRE_NAME_MAX + 1];
	/* The memfds mapped (region, and its shared bits when mapped): a
	 * resumed session must bring the same files (mc_resume.c). */
	dev_t dev, bits_dev;
	ino_t ino, bits_ino;
};

/* A pool, heap or group of the hello reply: where mc_ptr() looks. */
struct mc_object {
	char name[WIRE_NAME_MAX + 1];
	uint32_t region; /* index into mc_client.regions */
	uint32_t kind;   /* ALLOCD__KIND__* */
	/* The hello's geometry, which a resumed session must repeat. */
	uint64_t offset, size, block_size, total;
	/* Pools the daemon lets this connection cache (lease_slots > 0): their
	 * cache (mc_cache.c), else NULL. The pointer is immutable after
	 * mc_connect; what it points to is under c->lock. */
	struct mc_cache *cache;
};

/*
 * A request sent and not yet answered. Replies come in request order, so the
 * pending entries form a FIFO and a reply belongs to the oldest one (its id
 * must say so). done == NULL: a synchronous caller is waiting for this reply
 * (it is then the newest entry: nothing is sent while a caller waits).
 */
/* An object learned after mc_connect: a list, newest first, never shrunk
 * until mc_close. */
struct mc_learned {
	struct mc_object obj;
	struct mc_learned *next;
};

struct mc_pending;
/* After a restart of the daemon, a request it applied but whose reply was
 * lost completes with (0, NULL), or with its failed status (mc_resume.c). */
typedef void (*mc_done_fn)(mc_client_t *c, const struct mc_pending *p, int rc,
			   Allocd__Reply *reply);

struct mc_pending {
	uint64_t id;
	uint32_t expect;        /* reply bytes it may take, held against max_output */
	mc_done_fn done;        /* runs with the reply (0, reply; it frees it) or
				 * with the failure (status or transport error,
				 * reply NULL) */
	struct mc_cache *cache; /* refills, returns, retains of a cached pool */
	uint32_t count;         /* refills: blocks asked for; adopt: offsets */
	uint64_t *adopt;        /* a retain of cache's pool: its offsets, to be
				 * known as the user's once it succeeded
				 * (mc__cache_adopt); owned, freed by done */
	bool leases;            /* a refill: its reply names blocks leased */
};

/* Most requests in flight at once; with the reply bytes, what bounds the
 * pipeline. */
#define MC_INFLIGHT_MAX 64u

/* The packed bytes of a request in flight (header included), kept until
 * its reply came: after a restart of the daemon it is sent again as it
 * was (mc_resume.c). The buffer is reused, grown as needed. */
struct mc_frame {
	uint8_t *data;
	size_t len, cap;
};

/* Session tokens are 16 bytes; room for a longer one from a later daemon. */
#define MC_TOKEN_MAX 64u

/* Async frees and retains wait here until a request of them is full, one of
 * another name or kind is queued, or anything else is sent (mc_async.c):
 * requests reach the daemon in the order of the calls. */
struct mc_batch {
	bool open;
	bool retain;
	char name[WIRE_NAME_MAX + 1];
	uint64_t *offsets; /* max_batch of them, allocated at connect */
	size_t n;
};

/* A pool's lease cache (mc_cache.c). Geometry immutable after mc_connect;
 * the rest under c->lock. */
struct mc_cache {
	const struct mc_object *obj;
	uint64_t base; /* the pool's offset in its region */
	uint64_t block_size;
	uint32_t blocks;
	uint32_t nslots;      /* lease_slots */
	uint32_t *slots;      /* in the lease page */
	const uint64_t *bits; /* the pool's shared bits (read-only map) */
	uint32_t deflt;       /* ObjectInfo.client_cache */
	uint64_t quota;       /* ObjectInfo.quota, 0 = none */

	uint32_t target; /* M; 0: off */
	uint32_t top;    /* slots[top..nslots) are 0 */
	uint32_t low;    /* low-water mark of top since the last trim */
	uint32_t ops;    /* operations since the last trim check */
	bool refilling;  /* an async refill is in flight */
	struct timespec trimmed;
	uint32_t *shadow; /* what this library put in each slot (index + 1) */
	uint32_t *blk;    /* per block: BLK_NONE, BLK_HELD, BLK_CACHED + slot */
	struct mc_cache_stats stats;
};

struct mc_client {
	pthread_mutex_t lock;
	int fd;
	pid_t owner; /* the process that connected (mc_close after fork) */
	/* Under lock. Set when the stream can no longer be trusted (the daemon
	 * went away, did not answer in time, or sent something this library
	 * cannot follow); the library has then hung up, and every call fails
	 * at once with -ECONNRESET. */
	bool broken;
	/* Under lock: the daemon's text with its last error reply ("" if it
	 * gave none), or the library's reason for breaking the client after a
	 * restart of the daemon: mc_connect_with's reason, mc_last_error. */
	char why[256];
	uint64_t next_id; /* under lock */
	uint8_t *buf;     /* under lock: the frame being sent or received */
	size_t bufcap;
	/* Under lock: the reply decoder's allocator, bounded (mc_call.c). */
	ProtobufCAllocator decoder;
	size_t decoded; /* bytes it has handed out and not had back */
	size_t decode_cap;

	/* Under lock: the pipeline, a ring of npending entries from phead. */
	struct mc_pending pending[MC_INFLIGHT_MAX];
	struct mc_frame frames[MC_INFLIGHT_MAX]; /* pending[i]'s bytes */
	unsigned phead, npending;
	uint64_t inflight; /* sum of their expect */
	unsigned leasing;  /* of them, refills (mc_pending.leases) */
	/* First failure of an async request since the last mc_flush. */
	int async_err;
	struct mc_batch batch; /* under lock */

	/* Immutable after mc_connect. */
	uint32_t max_frame;
	uint32_t max_batch;
	uint32_t max_output; /* the daemon's, or a safe default (mc_connect) */
	uint64_t client_id;  /* the hello's: a second hello names it */
	/* Under lock. The hello's session token; resumable: a lost connection
	 * is resumed (mc_resume.c) -- set once the hello succeeded with a
	 * token, cleared by mc_close. */
	uint8_t token[MC_TOKEN_MAX];
	size_t token_len;
	bool resumable;
	int timeout_ms; /* resolved (mc_timeout.c), under lock: the
			 * second hello's connection gets it too */
	char socket_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	struct mc_region *regions; /* WIRE_MAX_REGIONS entries */
	size_t nregions;           /* grows under lock (mc_learn.c) */
	struct mc_object *objects; /* sorted by name */
	size_t nobjects;
	/* Shared-bits maps (read-only, one per region, NULL when empty) and
	 * the lease page (read/write, NULL when none), for the caches. */
	const uint64_t **bits;
	uint64_t *bits_sizes;
	uint8_t *lease;
	uint64_t lease_size;
	struct mc_cache *caches; /* one per cacheable pool */
	size_t ncaches;
	/* Objects learned since mc_connect (mc_learn.c): written under lock,
	 * read lock-free (__atomic acquire). learned_gen: the daemon's
	 * configuration generation when names were last learned, 0 never. */
	struct mc_learned *learned;
	uint64_t learned_gen;
};

/*
 * Send req (its version and id are set here) and wait for its reply; the
 * replies of earlier pipelined requests are read (and their completions run)
 * on the way. Queued async frees and retains are sent first, so the daemon
 * sees requests in the order of the calls. The caller holds c->lock. Returns the reply's status
 * when the daemon answered (0 or its negative errno), with *reply set when that status is 0 (free
 * it with mc__reply_free); or a transport error, after which the client is broken: -ECONNRESET /
 * -EPIPE (the daemon is gone), -EPROTO (a reply this library cannot follow: too long, wrong version
 * or id, wrong kind), -EBADMSG (a reply that does not decode), -ENOMEM. want is the body kind a
 * successful reply must carry (ALLOCD__REPLY__BODY__NOT_SET: any).
 */
MC_INTERNAL int mc__call(mc_client_t *c, Allocd__Request *req, Allocd__Reply__BodyCase want,
			 Allocd__Reply **reply);

/*
 * The hello exchange of mc_connect: like mc__call, but the reply may be up
 * to WIRE_FRAME_MAX bytes and brings memfds. On success *reply is the
 * hello reply and fds[0..*nfds) the descriptors that came with it (close-on-
 * exec; the caller owns them). On failure no descriptor is left open.
 */
MC_INTERNAL int mc__call_hello(mc_client_t *c, Allocd__Request *req, Allocd__Reply **reply,
			       int *fds, size_t *nfds);

/*
 * Send req without waiting: done runs later, from whichever call reads its
 * reply (or fails the pipeline), with p a copy of tmpl (its id and expect set
 * here). expect: the most reply bytes it can bring. Waits for earlier replies
 * first when the pipeline is full (MC_INFLIGHT_MAX requests, or max_output
 * reply bytes). Returns 0 once sent, or a transport error (the client is then
 * broken and done has already run with it). Caller holds c->lock.
 */
MC_INTERNAL int mc__send_async(mc_client_t *c, Allocd__Request *req, uint32_t expect,
			       const struct mc_pending *tmpl);

/* Read replies until at most left requests are in flight. 0 or the
 * transport error that broke the client. Caller holds c->lock. */
MC_INTERNAL int mc__wait(mc_client_t *c, unsigned left);

/* Reply bytes an Alloc of n offsets may take (for mc__send_async). */
MC_INTERNAL uint32_t mc__alloc_reply_bytes(uint64_t n);

/* Reply bytes a Free or Retain may take: status and an error text. */
#define MC_HOLD_REPLY_BYTES 256u

MC_INTERNAL void mc__reply_free(mc_client_t *c, Allocd__Reply *reply);

/* --- async frees and retains (mc_async.c) --- */

/* Queue count offsets of name to free (retain false) or retain, sending
 * each request as it fills. Caller holds c->lock. 0 or a transport error. */
MC_INTERNAL int mc__queue_hold(mc_client_t *c, bool retain, const char *name,
			       const uint64_t *offsets, size_t count);

/* Send the open batch, if any, without waiting. Caller holds c->lock. */
MC_INTERNAL int mc__send_batch(mc_client_t *c);

/* Allocate the batch's offsets array (mc_connect, after the hello). */
MC_INTERNAL int mc__batch_init(mc_client_t *c);

/* mc_flush under c->lock: send the batch, wait for every reply, return (and
 * clear) the first async failure since the last flush. */
MC_INTERNAL int mc__flush(mc_client_t *c);

/* --- the plain calls (mc_alloc.c), used by the caches --- */

/* count blocks of pool in requests of max_batch, all or nothing. */
MC_INTERNAL int mc__alloc_parts(mc_client_t *c, const char *pool, size_t count, uint64_t *offsets);

/* Free offsets[0..count) of name in requests of max_batch; stops at the
 * first that fails. */
MC_INTERNAL int mc__free_parts(mc_client_t *c, const char *name, const uint64_t *offsets,
			       size_t count);

/* The daemon's word on a name the hello did not list: -ENOENT or -EACCES. */
MC_INTERNAL int mc__unknown(mc_client_t *c, const char *name);

/* The object of that name from the hello, or NULL. Lock-free. */
MC_INTERNAL const struct mc_object *mc__object(const mc_client_t *c, const char *name);

/* --- leased caches (mc_cache.c); all under c->lock --- */

/* Set up c->caches from the hello's pools that can be cached (after the
 * lease page and shared bits are mapped; objects not yet sorted). */
MC_INTERNAL int mc__caches_init(mc_client_t *c, const Allocd__HelloReply *hr);

/* Turn on the default caches: ObjectInfo.client_cache, or what
 * $ALLOCATORD_CLIENT_CACHE says. Refusals leave a cache off. */
MC_INTERNAL void mc__caches_defaults(mc_client_t *c);

MC_INTERNAL void mc__caches_free(mc_client_t *c);

/* The cache of name when it is on, else NULL. */
MC_INTERNAL struct mc_cache *mc__cache_of(mc_client_t *c, const char *name);

/* mc_alloc of a cached pool, all or nothing. */
MC_INTERNAL int mc__cache_alloc(mc_client_t *c, struct mc_cache *k, size_t count,
				uint64_t *offsets);

/* mc_free (async false) or mc_free_async of any name: through its cache
 * when it has one on. */
MC_INTERNAL int mc__free_any(mc_client_t *c, const char *name, const uint64_t *offsets,
			     size_t count, bool async);

/* offsets were retained by this client: the user's now, as if allocated
 * here, so that their free may recycle them (when nobody else holds them). */
MC_INTERNAL void mc__cache_adopt(struct mc_cache *k, const uint64_t *offsets, size_t count);
/* Before blocks [offset, +count) are freed to the daemon directly
 * (mc_free_contiguous): -EFAULT when one of them sits in the cache, as
 * mc_free says. */
MC_INTERNAL int mc__cache_check_run(mc_client_t *c, struct mc_cache *k, uint64_t offset,
				    size_t count);

/* Blocks [offset, +count) were freed to the daemon directly: no longer
 * HELD. */
MC_INTERNAL void mc__cache_forget(struct mc_cache *k, uint64_t offset, size_t count);

/* mc_cache on a pool that can be cached. */
MC_INTERNAL int mc__cache_set(mc_client_t *c, struct mc_cache *k, size_t blocks);

/* Mark c broken (a reply that contradicts its request, or none in time: the
 * client no longer knows what it holds) and hang up, so that the daemon
 * drops every hold of c; return rc. Caller holds c->lock. */
MC_INTERNAL int mc__set_broken(mc_client_t *c, int rc);

/* --- objects added by a reload (mc_learn.c) --- */

/* A learned object of that name, or NULL. Lock-free. */
MC_INTERNAL const struct mc_object *mc__learned(const mc_client_t *c, const char *name);

/* Ask the daemon about a name the hello did not list, mapping its region
 * if this client has not: the object, or NULL (unknown, not allowed, or
 * the daemon cannot say). Caller holds c->lock. */
MC_INTERNAL const struct mc_object *mc__learn(mc_client_t *c, const char *name);

MC_INTERNAL void mc__learned_free(mc_client_t *c);

/* Connect a stream socket to path, its sends, receives and the connect
 * itself timing out after timeout_ms (resolved, see mc__timeout_apply): 0
 * and the descriptor (close-on-exec) in *fd, or a negative errno
 * (-ETIMEDOUT). */
MC_INTERNAL int mc__dial(const char *path, int timeout_ms, int *fd);

/* Set up what mc__call needs (socket, frame limit, decoder) on a zeroed c. */
MC_INTERNAL void mc__init_transport(mc_client_t *c, int fd);

/* Map fd (at least size bytes, else -EPROTO) with prot; NULL for size 0. */
MC_INTERNAL int mc__map_fd(int fd, uint64_t size, int prot, void **out);

/* Descriptors a hello reply must bring (mc_connect.c). */
MC_INTERNAL size_t mc__hello_fds(const Allocd__HelloReply *hr);

/* --- restarts of the daemon (mc_resume.c, and the transport's part in
 * mc_call.c) --- */

/* What a resumed HelloReply says was applied (see proto: HelloReply). */
struct mc_resumed {
	uint64_t applied_id;
	uint64_t failed_id;
	int32_t failed_status;
};

/*
 * The connection is lost: dial again with backoff until deadline (or for
 * ever, timeout MC_TIMEOUT_NONE), say the resume hello, check that the
 * daemon serves the same regions and objects, move the cache slots into the
 * new lease page, and make the new connection c->fd. 0 and *out; else a
 * negative errno with c->why saying why (-ETIMEDOUT: away too long;
 * -ESTALE: not the same session or memory; -ECONNRESET: nothing listens)
 * and nothing of c changed. Caller holds c->lock.
 */
MC_INTERNAL int mc__reattach(mc_client_t *c, const struct timespec *deadline,
			     struct mc_resumed *out);

/* One hello on fd outside the pipeline (a resume): the reply (freed by the
 * caller) when its status is 0, with its descriptors; else its status, or a
 * transport error. Nothing of the pipeline changes. */
MC_INTERNAL int mc__hello_once(mc_client_t *c, int fd, Allocd__Request *req, Allocd__Reply **reply,
			       int *fds, size_t *nfds);

/* Set c->why (printf-style) and return rc. */
MC_INTERNAL int mc__why(mc_client_t *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- timeouts (mc_timeout.c) --- */

/* The timeout ms asks for (see mc_set_timeout: 0 is the default) into
 * *out: > 0 or MC_TIMEOUT_NONE. -EINVAL for ms < -1 or a bad
 * $ALLOCATORD_TIMEOUT_MS. */
MC_INTERNAL int mc__timeout_resolve(int ms, int *out);

/* Make blocking sends, receives and connects on fd give up after ms
 * (resolved) with EAGAIN. 0 or -errno. */
MC_INTERNAL int mc__timeout_apply(int fd, int ms);

/* 0 if name can name an object (not NULL, at most WIRE_NAME_MAX bytes), else
 * -EINVAL: the daemon could not know it either. */
MC_INTERNAL int mc__check_name(const char *name);

/* Copy src into dst[64], cut to 63 bytes. */
MC_INTERNAL void mc__copy_name(char dst[WIRE_NAME_MAX + 1], const char *src);

#endif
