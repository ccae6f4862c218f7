/*
 * mc_internal.h -- what libmemclient's files share: the client object and
 * the one request/reply exchange every call is built on.
 *
 * Locking: c->lock serialises whole API calls (a split call keeps the lock
 * across its parts, so no other thread's request lands between them). The
 * region and object tables are written once in mc_connect and never again,
 * which is why mc_ptr() reads them without the lock.
 */
#ifndef ALLOCATORD_CLIENT_MC_INTERNAL_H
#define ALLOCATORD_CLIENT_MC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "client/memclient.h"
#include "proto/allocd.pb-c.h"

#define MC_PROTOCOL_VERSION 1u
#define MC_NAME_MAX         63u /* pool, heap, group and region names */
#define MC_MAX_REGIONS      64u /* regions one hello may carry */
/* The hello's memfds: regions, their shared bits, the lease page. */
#define MC_MAX_HELLO_FDS    (2 * MC_MAX_REGIONS + 1)
#define MC_FRAME_HEADER     4u
/* The smallest max_frame a daemon may be configured with: what requests
 * stay within until the hello says the daemon's own. */
#define MC_FRAME_MIN 4096u
/* Largest frame accepted before the hello says the daemon's max_frame:
 * the largest max_frame a daemon may be configured with. */
#define MC_FRAME_CAP_HELLO (16u << 20)

/* The library exports ^mc_ (client/local.mk), which the mc__ helpers below
 * would match too: keep them out of the ABI. */
#define MC_INTERNAL __attribute__((visibility("hidden")))

struct mc_region {
	uint8_t *base; /* MAP_SHARED, read/write */
	uint64_t size;
};

/* A pool, heap or group of the hello reply: where mc_ptr() looks. */
struct mc_object {
	char name[MC_NAME_MAX + 1];
	uint32_t region; /* index into mc_client.regions */
};

struct mc_client {
	pthread_mutex_t lock;
	int fd;
	/* Under lock. Set when the stream can no longer be trusted (the daemon
	 * went away, or sent something this library cannot follow); every call
	 * then fails at once with -ECONNRESET. */
	bool broken;
	uint64_t next_id; /* under lock */
	uint8_t *buf;     /* under lock: the frame being sent or received */
	size_t bufcap;
	/* Under lock: the reply decoder's allocator, bounded (mc_call.c). */
	ProtobufCAllocator decoder;
	size_t decoded; /* bytes it has handed out and not had back */
	size_t decode_cap;

	/* Immutable after mc_connect. */
	uint32_t max_frame;
	uint32_t max_batch;
	char socket_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	struct mc_region *regions;
	size_t nregions;
	struct mc_object *objects; /* sorted by name */
	size_t nobjects;
};

/*
 * Send req (its version and id are set here) and wait for its reply. The
 * caller holds c->lock. Returns the reply's status when the daemon answered
 * (0 or its negative errno), with *reply set when that status is 0 (free it
 * with mc__reply_free); or a transport error, after which the client is
 * broken: -ECONNRESET / -EPIPE (the daemon is gone), -EPROTO (a reply this
 * library cannot follow: too long, wrong version or id, wrong kind),
 * -EBADMSG (a reply that does not decode), -ENOMEM. want is the body kind a
 * successful reply must carry (ALLOCD__REPLY__BODY__NOT_SET: any).
 */
MC_INTERNAL int mc__call(mc_client_t *c, Allocd__Request *req, Allocd__Reply__BodyCase want,
			 Allocd__Reply **reply);

/*
 * The hello exchange of mc_connect: like mc__call, but the reply may be up
 * to MC_FRAME_CAP_HELLO bytes and brings memfds. On success *reply is the
 * hello reply and fds[0..*nfds) the descriptors that came with it (close-on-
 * exec; the caller owns them). On failure no descriptor is left open.
 */
MC_INTERNAL int mc__call_hello(mc_client_t *c, Allocd__Request *req, Allocd__Reply **reply,
			       int *fds, size_t *nfds);

MC_INTERNAL void mc__reply_free(mc_client_t *c, Allocd__Reply *reply);

/* Mark c broken (a reply that contradicts its request: the client no longer
 * knows what it holds) and return rc. Caller holds c->lock. */
MC_INTERNAL int mc__set_broken(mc_client_t *c, int rc);

/* Set up what mc__call needs (socket, frame limit, decoder) on a zeroed c. */
MC_INTERNAL void mc__init_transport(mc_client_t *c, int fd);

/* 0 if name can name an object (not NULL, at most MC_NAME_MAX bytes), else
 * -EINVAL: the daemon could not know it either. */
MC_INTERNAL int mc__check_name(const char *name);

/* Copy src into dst[64], cut to 63 bytes. */
MC_INTERNAL void mc__copy_name(char dst[MC_NAME_MAX + 1], const char *src);

#endif
