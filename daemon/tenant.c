/*
 * tenant: the per-uid table (see tenant.h). A scan stops at used, the
 * highest slot ever taken plus one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/tenant.h"

static void tenant_log_suppressed(struct tenant *x)
{
	if (x->log_suppressed == 0)
		return;
	log_warn("uid %u: %llu log lines suppressed (over %u a minute for the uid)",
		 (unsigned) x->uid, (unsigned long long) x->log_suppressed, TENANT_LOG_BURST);
	x->log_suppressed = 0;
}

bool tenant_log_take(struct tenant *x, uint64_t now_ms, uint64_t n)
{
	if (x->log_lines == 0 && x->log_suppressed == 0)
		x->log_window_ms = now_ms; /* the first line opens the window */
	if (now_ms - x->log_window_ms >= TENANT_LOG_WINDOW_MS) {
		tenant_log_suppressed(x);
		x->log_window_ms = now_ms;
		x->log_lines = 0;
	}
	if (x->log_lines + n > TENANT_LOG_BURST) {
		x->log_suppressed += n;
		return false;
	}
	x->log_lines += (uint32_t) n;
	return true;
}

int tenants_init(struct tenants *t, uint32_t max, size_t nobjects, size_t nregions)
{
	t->v = calloc(max, sizeof(*t->v));
	if (t->v == NULL)
		return -ENOMEM;
	t->max = max;
	t->used = 0;
	t->nobjects = nobjects;
	t->nregions = nregions;
	return 0;
}

static void tenant_free(struct tenant *x)
{
	tenant_log_suppressed(x);
	free(x->held);
	free(x->holds);
	free(x);
}

void tenants_destroy(struct tenants *t)
{
	for (uint32_t i = 0; t->v != NULL && i < t->used; i++)
		if (t->v[i] != NULL)
			tenant_free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->max = t->used = 0;
}

int tenants_grow(struct tenants *t, uint32_t max)
{
	struct tenant **v;

	if (max <= t->max)
		return 0;
	v = realloc(t->v, max * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	memset(v + t->max, 0, (max - t->max) * sizeof(*v));
	t->v = v;
	t->max = max;
	return 0;
}

/* Grow *v from was to now entries of size sz, the new ones zero. */
static int widen(void *v, size_t was, size_t now, size_t sz)
{
	char *p = realloc(*(void **) v, (now ? now : 1) * sz);

	if (p == NULL)
		return -ENOMEM;
	memset(p + was * sz, 0, (now - was) * sz);
	*(void **) v = p;
	return 0;
}

int tenants_widen(struct tenants *t, size_t nobjects, size_t nregions)
{
	for (uint32_t i = 0; i < t->used; i++) {
		struct tenant *x = t->v[i];

		if (x != NULL && (widen(&x->held, t->nobjects, nobjects, sizeof(*x->held)) < 0 ||
				  widen(&x->holds, t->nregions, nregions, sizeof(*x->holds)) < 0))
			return -ENOMEM;
	}
	t->nobjects = nobjects;
	t->nregions = nregions;
	return 0;
}

struct tenant *tenants_find(const struct tenants *t, uid_t uid)
{
	for (uint32_t i = 0; i < t->used; i++)
		if (t->v[i] != NULL && t->v[i]->uid == uid)
			return t->v[i];
	return NULL;
}

struct tenant *tenants_join(struct tenants *t, uid_t uid)
{
	struct tenant *x = tenants_find(t, uid);
	uint32_t i;

	if (x != NULL) {
		x->sessions++;
		return x;
	}
	for (i = 0; i < t->used && t->v[i] != NULL; i++)
		;
	if (i == t->max) {
		/* Full: take over a resting entry (its counters are zero). */
		for (i = 0; i < t->used && t->v[i]->sessions > 0; i++)
			;
		if (i == t->used)
			return NULL;
		x = t->v[i];
		tenant_log_suppressed(x);
		x->uid = uid;
		x->sessions = 1;
		x->log_lines = 0;
		return x;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->held = calloc(t->nobjects ? t->nobjects : 1, sizeof(*x->held));
	x->holds = calloc(t->nregions ? t->nregions : 1, sizeof(*x->holds));
	if (x->held == NULL || x->holds == NULL) {
		tenant_free(x);
		return NULL;
	}
	x->uid = uid;
	x->sessions = 1;
	x->index = i;
	t->v[i] = x;
	if (i == t->used)
		t->used++;
	return x;
}

void tenants_leave(struct tenants *t, struct tenant *x)
{
	if (--x->sessions > 0 || x->log_lines > 0 || x->log_suppressed > 0)
		return;
	t->v[x->index] = NULL;
	tenant_free(x);
}
