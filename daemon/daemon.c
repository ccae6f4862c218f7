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
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/lease_page.h"
#include "daemon/memcheck.h"

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

uint32_t daemon_hold_limit(const struct config *c)
{
	uint64_t holds = 0;

	for (size_t i = 0; i < c->nregions; i++)
		holds += c->regions[i].max_holds;
	return holds > CONFIG_HOLDS_MAX ? CONFIG_HOLDS_MAX : (uint32_t) holds;
}

void daemon_books_caps(const struct config *c, uint32_t max_batch, struct ledger_caps *caps)
{
	uint64_t most = max_batch;

	for (size_t i = 0; i < c->nregions; i++)
		for (size_t j = 0; j < c->regions[i].npools; j++)
			if (c->regions[i].pools[j].blocks > most)
				most = c->regions[i].pools[j].blocks;
	caps->holds = daemon_hold_limit(c);
	caps->sessions = c->max_clients;
	caps->reply_max = c->max_frame + WIRE_HEADER;
	/* The largest request: an allocation of max_batch blocks that takes
	 * as many back from caches -- a settle record and a save for each
	 * block taken back (lease.c), a save for each added -- and its
	 * commit. */
	caps->log = most * 3 + 8 > UINT32_MAX ? UINT32_MAX : (uint32_t) (most * 3 + 8);
}

/* Everything but the config and the sessions. */
static void daemon_release(struct daemon *d)
{
	object_table_destroy(&d->table);
	ledger_close(&d->books);
	state_close(&d->state);
	tenants_destroy(&d->tenants);
	arena_destroy(&d->arena);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

/* Is a region of c passed in fs (a takeover)? */
static bool taking_over(const struct config *c, const struct fdstore *fs)
{
	char name[FDSTORE_NAME_MAX];

	for (size_t i = 0; i < c->nregions; i++) {
		region_store_name(c->regions[i].name, false, name);
		if (fdstore_has(fs, name))
			return true;
	}
	return false;
}

/* A region's memfd (or its shared bits', or the books) passed under name
 * that nobody will use: closed, and removed from the store, so that it
 * does not outlive this start. */
static void drop_stored(struct fdstore *fs, const char *name)
{
	int fd = fdstore_take(fs, name);

	if (fd < 0)
		return;
	close(fd);
	if (fdstore_remove(fs, name) < 0)
		log_warn("%s: the fd store keeps it: it goes at the next restart", name);
}

/* The regions passed (memfds and shared bits) that the state does not
 * serve: all of them when a passed state was dropped (--discard-state: the
 * cold start makes its regions afresh; one whose size changed could not
 * be adopted anyway), else those of the state's regions the configuration
 * dropped (now tombstones, with no memfd). */
static void drop_stored_regions(struct fdstore *fs, const struct state *st, bool all)
{
	char name[FDSTORE_NAME_MAX];

	for (size_t i = 0; all && fs != NULL && i < fs->npassed; i++)
		if (strncmp(fs->passed[i].name, "region.", 7) == 0 ||
		    strncmp(fs->passed[i].name, "bits.", 5) == 0) {
			snprintf(name, sizeof(name), "%s", fs->passed[i].name);
			drop_stored(fs, name);
		}
	for (uint32_t i = 0; !all && i < st->nregions; i++)
		for (int bits = 0; bits < 2 && (st->regions[i].flags & STATE_GONE); bits++) {
			region_store_name(st->regions[i].name, bits, name);
			drop_stored(fs, name);
		}
}

int daemon_init(struct daemon *d, struct config *cfg, bool dry_run, struct fdstore *fs,
		bool discard_state, struct errbuf *e)
{
	int state_fd = fdstore_take(fs, "state"), rc;

	memset(d, 0, sizeof(*d));
	d->books.fd = -1;
	/* Before any region exists: a configuration bigger than what the
	 * daemon may use is refused here, never found by the OOM killer. At a
	 * takeover the regions are reserved already (MemAvailable counts them
	 * as used, so the check would count them twice); a region new in this
	 * configuration is still reserved in steps that stop at a shortfall
	 * (region.c). The state ("state" in the store, state.h) is checked
	 * against cfg before anything is built, so that a layout it does not
	 * fit is named as such (with the way out) and not as whatever
	 * adopting a region would trip over first. */
	rc = state_open(&d->state, state_fd, cfg, discard_state, e);
	if (rc < 0)
		return rc;
	/* Books are indices into the state's directory: without the state
	 * they mean nothing, and a new start keeps fresh ones (books.h). */
	if (!d->state.taken_over)
		drop_stored(fs, "books");
	if (state_fd >= 0 && !d->state.taken_over)
		drop_stored_regions(fs, &d->state, true);
	rc = taking_over(cfg, fs) ? 0 : memcheck_config(cfg, e);
	if (rc == 0)
		rc = object_table_build(&d->table, cfg, dry_run, fs, e);
	if (rc == 0)
		rc = state_reconcile(&d->state, &d->table, e);
	if (rc < 0) {
		object_table_destroy(&d->table);
		state_close(&d->state);
		return rc;
	}
	drop_stored_regions(fs, &d->state, false);
	/* A shallow copy until success: on failure the caller keeps cfg. */
	d->cfg = *cfg;
	d->max_batch = wire_max_batch(cfg->max_frame);
	d->start_ms = daemon_now_ms();
	d->self_uid = geteuid();
	d->generation = 1;
	d->dry_run = dry_run;
	d->fs = fs;
	d->loaded_wall_ms = daemon_wall_ms();
	/* A decoded frame can be ~20 times its size (packed varints grow to 8
	 * bytes, unknown fields get a record each); past that unpack fails
	 * cleanly with -EBADMSG. */
	rc = arena_init(&d->arena, (size_t) cfg->max_frame * 24 + 65536);
	if (rc == 0) {
		struct ledger_caps caps;

		daemon_books_caps(cfg, d->max_batch, &caps);
		rc = ledger_create(&d->books, &caps, e);
		if (rc < 0) {
			daemon_release(d);
			return rc;
		}
		holds_init(&d->holds, &d->books, daemon_hold_limit(cfg));
	}
	if (rc == 0)
		rc = tenants_init(&d->tenants, cfg->max_clients, d->table.nobjects,
				  d->table.nregions);
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

/* Administrators -- uid 0, the daemon's own uid (both could stop or trace
 * the daemon anyway, so limiting them protects nobody), members of
 * admin_gids -- get the kept slots and no per-uid limits. */
static bool is_admin(const struct daemon *d, const struct session_creds *cr)
{
	const struct config *c = &d->cfg;

	if (cr->uid == 0 || cr->uid == d->self_uid)
		return true;
	for (size_t i = 0; i < c->n_admin_gids; i++) {
		if (cr->gid == c->admin_gids[i])
			return true;
		for (size_t j = 0; j < cr->ngroups; j++)
			if (cr->groups[j] == c->admin_gids[i])
				return true;
	}
	return false;
}

int daemon_session_start(struct daemon *d, const struct session_creds *cr, struct session **out,
			 struct errbuf *e)
{
	const struct config *c = &d->cfg;
	bool admin = is_admin(d, cr);
	const struct tenant *t = tenants_find(&d->tenants, cr->uid);
	struct tenant *joined;
	uint32_t slot = 0;
	struct session *s;

	*out = NULL;
	if (d->nsessions >= c->max_clients)
		return errbuf_set(e, -EUSERS, "too many clients (max_clients %u)", c->max_clients);
	if (!admin && d->nsessions >= c->max_clients - c->admin_slots)
		return errbuf_set(e, -EUSERS,
				  "too many clients (max_clients %u, of which admin_slots %u are "
				  "kept for administrators)",
				  c->max_clients, c->admin_slots);
	if (!admin && t != NULL && t->sessions >= c->max_clients_per_uid)
		return errbuf_set(e, -EUSERS, "uid %u has %u connections (max_clients_per_uid %u)",
				  (unsigned) cr->uid, t->sessions, c->max_clients_per_uid);
	while (d->slots[slot] != NULL)
		slot++;
	joined = tenants_join(&d->tenants, cr->uid);
	s = joined != NULL
		? session_new(&d->table, cr, d->next_session_id + 1, slot, daemon_wall_ms())
		: NULL;
	if (s == NULL) {
		if (joined != NULL)
			tenants_leave(&d->tenants, joined);
		return errbuf_set(e, -ENOMEM, "out of memory for a new client");
	}
	s->admin = admin;
	s->tenant = joined;
	d->next_session_id++;
	d->books.head->next_session_id = d->next_session_id;
	/* The record whole, then used: a half-written one is not a session. */
	s->rec = &d->books.sess[slot];
	memset(s->rec, 0, sizeof(*s->rec));
	session_record(s);
	ledger_sess_publish(&d->books, slot);
	d->slots[slot] = s;
	d->nsessions++;
	*out = s;
	return 0;
}

void daemon_session_release(struct daemon *d, struct session *s)
{
	d->slots[s->slot] = NULL;
	d->nsessions--;
	tenants_leave(&d->tenants, s->tenant);
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

void daemon_sent_for(struct daemon *d, const struct session *s, uint64_t id)
{
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		struct session *t = d->slots[i];

		if (t != NULL && t->id == id && t->pid == s->pid && t->uid == s->uid) {
			t->regions |= s->regions;
			t->sent |= s->regions;
			session_record(t);
		}
	}
}

int daemon_verify_idle(struct daemon *d, struct errbuf *e)
{
	if (d->nsessions != 0 || holds_count(&d->holds) != 0) {
		return errbuf_set(e, -EUCLEAN,
				  "%u session%s and %u hold%s left after every client went",
				  d->nsessions, log_s(d->nsessions), holds_count(&d->holds),
				  log_s(holds_count(&d->holds)));
	}
	/* What a takeover would read says the same (books.h). */
	if (d->books.head->log_state != LEDGER_LOG_CLOSED)
		return errbuf_set(e, -EUCLEAN, "the books' undo log is left open (state %u)",
				  d->books.head->log_state);
	for (uint32_t i = 0; i < d->books.head->hold_top; i++)
		if (d->holds.v[i].used)
			return errbuf_set(e, -EUCLEAN, "the books' hold %u is left used", i);
	for (uint32_t i = 0; i < d->cfg.max_clients; i++)
		if (d->books.sess[i].used)
			return errbuf_set(e, -EUCLEAN, "the books' session slot %u is left used",
					  i);
	for (size_t i = 0; i < d->table.nobjects; i++) {
		const struct object *o = d->table.objects[i];
		struct tlsf_stats st;

		/* Removed ones were idle then and nothing can reach them since
		 * (their region's bits may be unmapped). */
		if (o->gone)
			continue;
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
