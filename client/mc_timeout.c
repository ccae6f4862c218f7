/*
 * mc_timeout.c -- how long the library waits for the daemon: the default
 * ($ALLOCATORD_TIMEOUT_MS, else MC_TIMEOUT_DEFAULT_MS), mc_set_timeout, and
 * the socket options that enforce it.
 *
 * The kernel enforces it (SO_RCVTIMEO, SO_SNDTIMEO): a blocking recv or
 * send that makes no progress for that long fails with EAGAIN, and so does
 * a connect() waiting on a full listen queue. The fast path keeps its one
 * system call per read or write, where a poll() before each would add two
 * to every round trip. mc_call.c turns EAGAIN into -ETIMEDOUT and breaks
 * the client.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "client/mc_internal.h"

#define TIMEOUT_ENV "ALLOCATORD_TIMEOUT_MS"

int mc__timeout_resolve(int ms, int *out)
{
	const char *env;
	char *end;
	long v;

	if (ms > 0 || ms == MC_TIMEOUT_NONE) {
		*out = ms;
		return 0;
	}
	if (ms < MC_TIMEOUT_NONE)
		return -EINVAL;
	env = getenv(TIMEOUT_ENV);
	if (env == NULL || *env == '\0') {
		*out = MC_TIMEOUT_DEFAULT_MS;
		return 0;
	}
	errno = 0;
	v = strtol(env, &end, 10);
	/* A value the operator set and this library cannot honour is an
	 * error, not a silent fall-back to another timeout. */
	if (errno != 0 || end == env || *end != '\0' || v > INT_MAX ||
	    (v < 1 && v != MC_TIMEOUT_NONE))
		return -EINVAL;
	*out = (int) v;
	return 0;
}

int mc__timeout_apply(int fd, int ms)
{
	struct timeval tv = {0, 0}; /* 0: block for ever */

	if (ms > 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int mc_set_timeout(mc_client_t *c, int ms)
{
	int rc, resolved;

	if (c == NULL)
		return -EINVAL;
	rc = mc__timeout_resolve(ms, &resolved);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = mc__timeout_apply(c->fd, resolved);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
