/*
 * A daemon state for unit tests: built from config text with dry-run
 * regions (no memfds), plus sessions with made-up credentials.
 */
#ifndef ALLOCATORD_TESTS_DAEMON_FIXTURE_H
#define ALLOCATORD_TESTS_DAEMON_FIXTURE_H

#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/dispatch.h"
#include "proto/allocd.pb-c.h"

/* Pools p (64 B x 100), q (1536 B x 10, quota 4), heap h (64 KiB, granule
 * 64, 64 allocations, quota 8 KiB) in region "r"; pool s (64 B x 8) in
 * region "secret" that only uid 12345 may use; group g = p, q by_size;
 * group gi = p, q by index. Each uid_quota is the whole object, so that
 * one uid may use everything: the per-uid limits have tests of their own. */
extern const char fixture_config[];

/* Build d from text (fixture_config when NULL); fails the test on error. */
void fixture_daemon(struct daemon *d, const char *text);

/* Make d ready to serve through x (its ops and the reply-size check); fails
 * the test on error. */
void fixture_dispatch(struct dispatch *x, struct daemon *d);

/* A session of uid/gid with the test's pid. */
struct session *fixture_session(struct daemon *d, uid_t uid, gid_t gid);

/* The same with supplementary groups (as SO_PEERGROUPS gives them). */
struct session *fixture_session_groups(struct daemon *d, uid_t uid, gid_t gid, const gid_t *groups,
				       size_t ngroups);

/* The object called name; fails the test if absent. */
struct object *fixture_object(struct daemon *d, const char *name);

/* Append a frame of len bytes of data to s->in, as if the client sent it. */
void fixture_put_frame(struct session *s, const void *data, uint32_t len);

/* Append request r, packed, as a frame to s->in. */
void fixture_put_request(struct session *s, Allocd__Request *r);

/* The next reply in s->out (NULL if none); free with
 * allocd__reply__free_unpacked. */
Allocd__Reply *fixture_take_reply(struct session *s);

#endif
