/*
 * tenant: the per-uid table (see tenant.h). Entries are reused in place;
 * used only grows, up to max, so a scan stops at the highest entry ever in
 * use.
 */
#include <errno.h>
#include <stdlib.h>

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

void tenants_destroy(struct tenants *t)
{
	for (uint32_t i = 0; t->v != NULL && i < t->used; i++) {
		free(t->v[i].held);
		free(t->v[i].holds);
	}
	free(t->v);
	t->v = NULL;
	t->max = t->used = 0;
}

struct tenant *tenants_find(const struct tenants *t, uid_t uid)
{
	for (uint32_t i = 0; i < t->used; i++)
		if (t->v[i].sessions > 0 && t->v[i].uid == uid)
			return &t->v[i];
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
	for (i = 0; i < t->used && t->v[i].sessions > 0; i++)
		;
	if (i == t->max)
		return NULL;
	x = &t->v[i];
	x->held = calloc(t->nobjects ? t->nobjects : 1, sizeof(*x->held));
	x->holds = calloc(t->nregions ? t->nregions : 1, sizeof(*x->holds));
	if (x->held == NULL || x->holds == NULL) {
		free(x->held);
		free(x->holds);
		x->held = NULL;
		x->holds = NULL;
		return NULL;
	}
	x->uid = uid;
	x->sessions = 1;
	if (i == t->used)
		t->used++;
	return x;
}

void tenants_leave(struct tenant *x)
{
	if (--x->sessions > 0)
		return;
	free(x->held);
	free(x->holds);
	x->held = NULL;
	x->holds = NULL;
}
