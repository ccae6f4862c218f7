/*
 * daemon: building and tearing down the daemon's state (see daemon.h), the
 * clocks, the batch limit, and the end-of-run check that every allocator is
 * whole. It calls only into the state below it -- object table, holds,
 * sessions, arena -- never into ops, stats, dispatch or the server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/lease_page.h"

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t daemon_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

uint64_t daemon_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* Holds are bounded so that no client can make the daemon grow without end:
 * room for every unit held by four clients at once is plenty for hand-offs. */
static uint32_t hold_limit(const struct object_table *l)
{
	uint64_t units = 0;

	for (size_t i = 0; i < l->nobjects; i++) {
		const struct object *o = &l->objects[i];

		if (o->kind == OBJ_POOL)
			units += pool_blocks(o);
		else if (o->kind == OBJ_HEAP)
			units += tlsf_id_limit(o->u.heap.tlsf);
	}
	units = units * 4 + 65536;
	return units > UINT32_MAX - 2 ? UINT32_MAX - 2 : (uint32_t) units;
}

/* Everything but the config and the sessions. */
static void daemon_release(struct daemon *d)
{
	object_table_destroy(&d->table);
	holds_destroy(&d->holds);
	arena_destroy(&d->arena);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

int daemon_init(struct daemon *d, struct config *cfg, bool dry_run, struct errbuf *e)
{
	int rc;

	memset(d, 0, sizeof(*d));
	rc = object_table_build(&d->table, cfg, dry_run, e);
	if (rc < 0)
		return rc;
	/* A shallow copy until success: on failure the caller keeps cfg. */
	d->cfg = *cfg;
	d->max_batch = wire_max_batch(cfg->max_frame);
	d->start_ms = daemon_now_ms();
	d->generation = 1;
	d->loaded_wall_ms = daemon_wall_ms();
	/* A decoded frame can be ~20 times its size (packed varints grow to 8
	 * bytes, unknown fields get a record each); past that unpack fails
	 * cleanly with -EBADMSG. */
	rc = arena_init(&d->arena, (size_t) cfg->max_frame * 24 + 65536);
	if (rc == 0)
		rc = holds_init(&d->holds, 4096, hold_limit(&d->table));
	if (rc == 0) {
		d->slots = calloc(cfg->max_clients, sizeof(*d->slots));
		if (d->slots == NULL)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		daemon_release(d);
		return errbuf_set(e, rc, "%s", strerror(-rc));
	}
	memset(cfg, 0, sizeof(*cfg));
	return 0;
}

int daemon_session_start(struct daemon *d, const struct session_creds *cr, struct session **out)
{
	uint32_t slot = 0;
	struct session *s;

	*out = NULL;
	if (d->nsessions >= d->cfg.max_clients)
		return -EUSERS;
	while (d->slots[slot] != NULL)
		slot++;
	s = session_new(&d->table, cr, d->next_session_id + 1, slot, daemon_wall_ms());
	if (s == NULL)
		return -ENOMEM;
	d->next_session_id++;
	d->slots[slot] = s;
	d->nsessions++;
	*out = s;
	return 0;
}

void daemon_session_release(struct daemon *d, struct session *s)
{
	d->slots[s->slot] = NULL;
	d->nsessions--;
	session_free(s);
}

void daemon_fini(struct daemon *d)
{
	struct config cfg;

	for (uint32_t i = 0; d->slots != NULL && i < d->cfg.max_clients; i++)
		if (d->slots[i] != NULL)
			daemon_session_release(d, d->slots[i]);
	/* The object table points into the config: release it first. */
	cfg = d->cfg;
	daemon_release(d);
	config_free(&cfg);
}

int daemon_verify_idle(struct daemon *d, struct errbuf *e)
{
	if (d->nsessions != 0 || holds_count(&d->holds) != 0) {
		return errbuf_set(e, -EUCLEAN,
				  "%u sessions and %u holds left after every client went",
				  d->nsessions, holds_count(&d->holds));
	}
	for (size_t i = 0; i < d->table.nobjects; i++) {
		const struct object *o = &d->table.objects[i];
		struct tlsf_stats st;

		if (o->kind == OBJ_POOL &&
		    (sys_mem_blocks_free_count(&o->u.pool.mb) != pool_blocks(o) ||
		     bitarray_check(&o->u.pool.mb.bitmap) != 0 || !lease_bits_clear(o))) {
			return errbuf_set(
			    e, -EUCLEAN,
			    "pool '%s': %zu of %llu blocks free, bitmap check %d, shared bits %s",
			    o->name, sys_mem_blocks_free_count(&o->u.pool.mb),
			    (unsigned long long) pool_blocks(o),
			    bitarray_check(&o->u.pool.mb.bitmap),
			    lease_bits_clear(o) ? "clear" : "left set");
		}
		if (o->kind != OBJ_HEAP)
			continue;
		tlsf_get_stats(o->u.heap.tlsf, &st);
		if (tlsf_check(o->u.heap.tlsf) != 0 || st.live != 0 || st.free_blocks != 1) {
			return errbuf_set(
			    e, -EUCLEAN, "heap '%s': tlsf_check %d, %llu live, %llu free blocks",
			    o->name, tlsf_check(o->u.heap.tlsf), (unsigned long long) st.live,
			    (unsigned long long) st.free_blocks);
		}
	}
	return 0;
}
