/*
 * mc_async.c -- frees and retains sent without waiting, and mc_flush.
 *
 * Offsets queue up in one open batch (a name and a kind); it goes out as one
 * Free or Retain when it holds max_batch offsets, when an async call of
 * another name or kind comes, or before any other request (so the daemon
 * sees requests in the order of the calls: a retain queued before a free of
 * the same block still comes first). Each request is all or nothing on its
 * own; its failure is kept for mc_flush, which returns the first one since
 * the last mc_flush.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/mc_internal.h"

int mc__batch_init(mc_client_t *c)
{
	c->batch.offsets = calloc(c->max_batch, sizeof(*c->batch.offsets));
	return c->batch.offsets != NULL ? 0 : -ENOMEM;
}

static void hold_done(mc_client_t *c, const struct mc_pending *p, int rc, Allocd__Reply *reply)
{
	if (p->adopt != NULL) {
		if (rc == 0)
			mc__cache_adopt(p->cache, p->adopt, p->count);
		free(p->adopt);
	}
	if (reply != NULL)
		mc__reply_free(c, reply);
	if (rc < 0 && c->async_err == 0)
		c->async_err = rc;
}

int mc__send_batch(mc_client_t *c)
{
	struct mc_pending tmpl = {.done = hold_done};
	Allocd__Request req = ALLOCD__REQUEST__INIT;
	Allocd__Free fr = ALLOCD__FREE__INIT;
	Allocd__Retain rt = ALLOCD__RETAIN__INIT;
	struct mc_batch *b = &c->batch;

	if (!b->open)
		return 0;
	b->open = false;
	if (b->retain) {
		/* A retain of a cached pool: its blocks become the user's when
		 * it succeeds. Without memory for the list they stay unknown,
		 * and their frees simply go to the daemon. */
		tmpl.cache = mc__cache_of(c, b->name);
		tmpl.adopt = tmpl.cache != NULL ? malloc(b->n * sizeof(*tmpl.adopt)) : NULL;
		if (tmpl.adopt != NULL) {
			memcpy(tmpl.adopt, b->offsets, b->n * sizeof(*tmpl.adopt));
			tmpl.count = (uint32_t) b->n;
		}
		rt.name = b->name;
		rt.n_offsets = b->n;
		rt.offsets = b->offsets;
		req.body_case = ALLOCD__REQUEST__BODY_RETAIN;
		req.retain = &rt;
	} else {
		fr.name = b->name;
		fr.n_offsets = b->n;
		fr.offsets = b->offsets;
		req.body_case = ALLOCD__REQUEST__BODY_FREE;
		req.free = &fr;
	}
	/* The request is packed before this returns: the batch is free
	 * again whatever happens. */
	return mc__send_async(c, &req, MC_HOLD_REPLY_BYTES, &tmpl);
}

int mc__queue_hold(mc_client_t *c, bool retain, const char *name, const uint64_t *offsets,
		   size_t count)
{
	struct mc_batch *b = &c->batch;
	int rc;

	if (c->broken)
		return -ECONNRESET;
	for (size_t i = 0; i < count; i++) {
		if (b->open && (b->retain != retain || strcmp(b->name, name) != 0)) {
			rc = mc__send_batch(c);
			if (rc < 0)
				return rc;
		}
		if (!b->open) {
			b->open = true;
			b->retain = retain;
			mc__copy_name(b->name, name);
			b->n = 0;
		}
		b->offsets[b->n++] = offsets[i];
		if (b->n == c->max_batch) {
			rc = mc__send_batch(c);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int queue_call(mc_client_t *c, bool retain, const char *name, size_t count,
		      const uint64_t offsets[])
{
	int rc;

	if (c == NULL || (count > 0 && offsets == NULL))
		return -EINVAL;
	rc = mc__check_name(name);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = retain ? mc__queue_hold(c, true, name, offsets, count)
		    : mc__free_any(c, name, offsets, count, true);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_free_async(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[])
{
	return queue_call(c, false, name, count, offsets);
}

int mc_retain_async(mc_client_t *c, const char *name, size_t count, const uint64_t offsets[])
{
	return queue_call(c, true, name, count, offsets);
}

/* Caller holds c->lock. */
int mc__flush(mc_client_t *c)
{
	int rc = mc__send_batch(c);
	int err;

	if (rc == 0)
		rc = mc__wait(c, 0);
	err = c->async_err;
	c->async_err = 0;
	if (err == 0)
		err = rc < 0 ? rc : c->broken ? -ECONNRESET : 0;
	return err;
}

int mc_flush(mc_client_t *c)
{
	int rc;

	if (c == NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = mc__flush(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
