/*
 * tenant: the per-uid table (see tenant.h). A scan stops at used, the
 * highest slot ever taken plus one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/tenant.h"

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
	if (i == t->max)
		return NULL;
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
	if (--x->sessions > 0)
		return;
	t->v[x->index] = NULL;
	tenant_free(x);
}
