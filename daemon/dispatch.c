/*
 * dispatch: from request frames to reply frames for one session (see
 * dispatch.h). Every frame consumed gets exactly one reply, in order,
 * carrying the request's id (0 when it does not decode); a failure is a
 * reply with the negative errno and its message, never a dropped frame.
 * State changed here is only the session's hello and the request counter;
 * allocations are ops' work, listings stats' and hello's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/books.h"
#include "daemon/dispatch.h"
#include "daemon/hello.h"
#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/stats.h"
#include "proto/allocd.pb-c.h"
#include "proto/wire.h"

/* What one request produced: a status with its message, and a body. */
struct outcome {
	int status;
	struct errbuf err;
	Allocd__Reply reply;
};

/* The object called name, of kind want (0: any kind), into *out. */
static int find_object(struct daemon *d, const char *name, enum obj_kind want, struct object **out,
		       struct outcome *oc)
{
	struct object *o = object_table_find(&d->table, name);
	char shown[WIRE_NAME_MAX + 1];

	/* The client's own string goes back to it and into the log. */
	log_sanitize(shown, sizeof(shown), name);
	if (o == NULL)
		return errbuf_set(&oc->err, -ENOENT, "no %s named '%s'",
				  want != 0 ? object_kind_name(want) : "object", shown);
	if (want != 0 && o->kind != want)
		return errbuf_set(&oc->err, -EINVAL, "'%s' is a %s, not a %s", name,
				  object_kind_name(o->kind), object_kind_name(want));
	*out = o;
	return 0;
}

static int do_hello(struct daemon *d, struct session *s, const Allocd__Hello *req,
		    struct outcome *oc)
{
	Allocd__HelloReply *hr;
	int rc;

	if (s->hello_done)
		return errbuf_set(&oc->err, -EALREADY, "hello was already done on this connection");
	/* Its descriptors would stay charged to the daemon's user while unread. */
	if (s->hello_refusal[0] != '\0')
		return errbuf_set(&oc->err, -EUSERS, "%s", s->hello_refusal);
	hr = arena_alloc(&d->arena, sizeof(*hr));
	if (hr == NULL)
		return errbuf_set(&oc->err, -ENOMEM, "out of reply memory");
	if (req->resume_id != 0) {
		rc = books_resume(d, s, req->resume_id, req->resume_token.data,
				  req->resume_token.len, &oc->err);
		if (rc < 0)
			return rc;
	}
	s->leases = req->leases;
	rc = s->leases ? lease_page_open(&d->table, s->regions, &s->lease) : 0;
	if (rc < 0)
		return errbuf_set(&oc->err, rc, "cannot create the lease page: %s", strerror(-rc));
	rc = hello_reply_build(d, s, hr, &oc->err);
	if (rc < 0)
		return rc;
	/* The secret that resumes the session after a takeover (books.h). */
	hr->session_token.data = s->token;
	hr->session_token.len = sizeof(s->token);
	if (req->resume_id != 0) {
		const struct ledger_commit *c = &s->rec->commit;

		hr->resumed = true;
		hr->applied_id = c->applied_id;
		hr->failed_id = c->failed_id;
		hr->failed_status = c->failed_status;
	}
	/* It ends up in memctl tables and log lines. */
	log_sanitize(s->client_name, sizeof(s->client_name), req->client_name);
	s->hello_done = true;
	s->fds_pending = hr->n_regions > 0;
	s->sent = s->regions;
	session_record(s);
	if (req->for_client != 0)
		daemon_sent_for(d, s, req->for_client);
	oc->reply.body_case = ALLOCD__REPLY__BODY_HELLO;
	oc->reply.hello = hr;
	return 0;
}

/* The offsets array of an allocation reply, in the arena. */
static Allocd__AllocReply *alloc_reply(struct daemon *d, struct outcome *oc, uint64_t n)
{
	Allocd__AllocReply *ar = arena_alloc(&d->arena, sizeof(*ar));
	uint64_t cap = n < d->max_batch ? n : d->max_batch;

	if (ar == NULL)
		return NULL;
	allocd__alloc_reply__init(ar);
	ar->offsets = arena_alloc(&d->arena, (cap ? cap : 1) * sizeof(uint64_t));
	if (ar->offsets == NULL)
		return NULL;
	oc->reply.body_case = ALLOCD__REPLY__BODY_ALLOC;
	oc->reply.alloc = ar;
	return ar;
}

/* Offsets an Alloc's reply may carry: count and the lease (saturating;
 * alloc_reply caps it at max_batch). */
static uint64_t alloc_room(const Allocd__Alloc *req)
{
	if (req->contiguous)
		return 1;
	return req->lease > UINT64_MAX - req->count ? UINT64_MAX : req->count + req->lease;
}

static int do_alloc(struct dispatch *x, struct session *s, const Allocd__Alloc *req,
		    struct outcome *oc)
{
	struct object *o = NULL;
	Allocd__AllocReply *ar;
	uint64_t leased;
	int rc = find_object(x->d, req->pool, OBJ_POOL, &o, oc);

	if (rc < 0)
		return rc;
	ar = alloc_reply(x->d, oc, alloc_room(req));
	if (ar == NULL)
		return errbuf_set(&oc->err, -ENOMEM, "out of reply memory");
	rc = ops_pool_alloc_lease(&x->ops, s, o, req->count, req->contiguous, req->lease,
				  req->cache, ar->offsets, &leased, &oc->err);
	if (rc < 0)
		return rc;
	ar->n_offsets = req->count == 0 ? leased : req->contiguous ? 1 : req->count + leased;
	ar->block_size = pool_block_size(o);
	return 0;
}

static int do_group_alloc(struct dispatch *x, struct session *s, const Allocd__GroupAlloc *req,
			  struct outcome *oc)
{
	struct object *o = NULL;
	Allocd__AllocReply *ar;
	struct object *chosen;
	int rc = find_object(x->d, req->group, OBJ_GROUP, &o, oc);

	if (rc < 0)
		return rc;
	ar = alloc_reply(x->d, oc, req->count);
	if (ar == NULL)
		return errbuf_set(&oc->err, -ENOMEM, "out of reply memory");
	rc = ops_group_alloc(&x->ops, s, o, req->cfg, req->count, req->total_count, ar->offsets,
			     &chosen, &oc->err);
	if (rc < 0)
		return rc;
	if (chosen != NULL) {
		ar->n_offsets = req->count;
		ar->block_size = pool_block_size(chosen);
		ar->pool = (char *) chosen->name;
	}
	return 0;
}

static int do_heap_alloc(struct dispatch *x, struct session *s, const Allocd__HeapAlloc *req,
			 struct outcome *oc)
{
	struct object *o = NULL;
	Allocd__AllocReply *ar;
	int rc = find_object(x->d, req->heap, OBJ_HEAP, &o, oc);

	if (rc < 0)
		return rc;
	ar = alloc_reply(x->d, oc, 1);
	if (ar == NULL)
		return errbuf_set(&oc->err, -ENOMEM, "out of reply memory");
	rc = ops_heap_alloc(&x->ops, s, o, req->size, req->align, &ar->offsets[0], &ar->block_size,
			    &oc->err);
	if (rc < 0)
		return rc;
	ar->n_offsets = 1;
	return 0;
}

static int do_free(struct dispatch *x, struct session *s, const Allocd__Free *req,
		   struct outcome *oc)
{
	struct object *o = NULL;
	int rc = find_object(x->d, req->name, 0, &o, oc);

	return rc < 0 ? rc
		      : ops_free(&x->ops, s, o, req->offsets, req->n_offsets, req->run, &oc->err);
}

static int do_retain(struct dispatch *x, struct session *s, const Allocd__Retain *req,
		     struct outcome *oc)
{
	struct object *o = NULL;
	int rc = find_object(x->d, req->name, 0, &o, oc);

	return rc < 0 ? rc
		      : ops_retain(&x->ops, s, o, req->offsets, req->n_offsets, req->run, &oc->err);
}

static int do_stats(struct daemon *d, struct session *s, const Allocd__Request *req,
		    struct outcome *oc)
{
	Allocd__Reply *r = &oc->reply;

	switch (req->body_case) {
	case ALLOCD__REQUEST__BODY_LIST:
		r->list = arena_zalloc(&d->arena, sizeof(*r->list));
		if (r->list == NULL)
			break;
		r->body_case = ALLOCD__REPLY__BODY_LIST;
		return stats_list(d, s, req->list->name, r->list, &oc->err);
	case ALLOCD__REQUEST__BODY_STATUS:
		r->status_info = arena_zalloc(&d->arena, sizeof(*r->status_info));
		if (r->status_info == NULL)
			break;
		r->body_case = ALLOCD__REPLY__BODY_STATUS_INFO;
		return stats_status(d, s, r->status_info, &oc->err);
	case ALLOCD__REQUEST__BODY_CLIENTS:
		r->clients = arena_zalloc(&d->arena, sizeof(*r->clients));
		if (r->clients == NULL)
			break;
		r->body_case = ALLOCD__REPLY__BODY_CLIENTS;
		return stats_clients(d, s, req->clients->after_id, r->clients, &oc->err);
	case ALLOCD__REQUEST__BODY_MAP:
		r->map = arena_zalloc(&d->arena, sizeof(*r->map));
		if (r->map == NULL)
			break;
		r->body_case = ALLOCD__REPLY__BODY_MAP;
		return stats_map(d, s, req->map->pool, req->map->first, req->map->count, r->map,
				 &oc->err);
	default:
		return errbuf_set(&oc->err, -EINVAL, "unknown request kind");
	}
	return errbuf_set(&oc->err, -ENOMEM, "out of reply memory");
}

static int run_request(struct dispatch *x, struct session *s, const Allocd__Request *req,
		       struct outcome *oc)
{
	switch (req->body_case) {
	case ALLOCD__REQUEST__BODY_HELLO:
		return do_hello(x->d, s, req->hello, oc);
	case ALLOCD__REQUEST__BODY_ALLOC:
		return do_alloc(x, s, req->alloc, oc);
	case ALLOCD__REQUEST__BODY_GROUP_ALLOC:
		return do_group_alloc(x, s, req->group_alloc, oc);
	case ALLOCD__REQUEST__BODY_HEAP_ALLOC:
		return do_heap_alloc(x, s, req->heap_alloc, oc);
	case ALLOCD__REQUEST__BODY_FREE:
		return do_free(x, s, req->free, oc);
	case ALLOCD__REQUEST__BODY_RETAIN:
		return do_retain(x, s, req->retain, oc);
	default:
		return do_stats(x->d, s, req, oc);
	}
}

/* Append oc's reply; if it cannot be sent as is (too large), an error in its
 * place. Returns 0 or -ENOMEM. */
static int put_reply(struct daemon *d, struct session *s, struct outcome *oc)
{
	Allocd__Reply *r = &oc->reply;
	int rc;

	r->version = WIRE_PROTOCOL_VERSION;
	if (oc->status < 0) {
		r->status = oc->status;
		r->error = oc->err.msg[0] ? oc->err.msg : (char *) strerror(-oc->status);
		r->body_case = ALLOCD__REPLY__BODY__NOT_SET;
	}
	rc = wire_frame_put(&s->out, &r->base, d->cfg.max_frame);
	if (rc == -E2BIG) {
		if (r->body_case == ALLOCD__REPLY__BODY_HELLO)
			s->fds_pending = false;
		r->status = -E2BIG;
		r->error = "reply would exceed max_frame";
		r->body_case = ALLOCD__REPLY__BODY__NOT_SET;
		rc = wire_frame_put(&s->out, &r->base, d->cfg.max_frame);
	}
	return rc;
}

/* Does req change the books (and so gets a commit and a cached reply)? */
static bool mutating(const Allocd__Request *req)
{
	switch (req->body_case) {
	case ALLOCD__REQUEST__BODY_ALLOC:
	case ALLOCD__REQUEST__BODY_GROUP_ALLOC:
	case ALLOCD__REQUEST__BODY_HEAP_ALLOC:
	case ALLOCD__REQUEST__BODY_FREE:
	case ALLOCD__REQUEST__BODY_RETAIN:
		return true;
	default:
		return false;
	}
}

/* The client sends again the request the books say was applied last (its
 * reply was lost with a serving process): the reply it had, not a second
 * application. 0 or -ENOMEM. */
static int replay(struct daemon *d, struct session *s)
{
	size_t len;
	const uint8_t *frame = ledger_reply(&d->books, s->slot, &len);

	if (len == 0) {
		/* Applied, but its reply could not be made (out of memory):
		 * say so rather than nothing. */
		Allocd__Reply r = ALLOCD__REPLY__INIT;

		r.version = WIRE_PROTOCOL_VERSION;
		r.id = s->rec->commit.applied_id;
		r.status = -EIO;
		r.error = "this request was applied but its reply was lost";
		return wire_frame_put(&s->out, &r.base, d->cfg.max_frame);
	}
	if (bytebuf_reserve(&s->out, len) < 0)
		return -ENOMEM;
	memcpy(s->out.data + s->out.tail, frame, len);
	s->out.tail += len;
	session_log(s, LOG_DEBUG, "request %llu was applied already: its reply again",
		    (unsigned long long) s->rec->commit.applied_id);
	return 0;
}

/* Close the request's undo log (ledger.h) with its outcome and its reply,
 * the frame just appended to s->out (from was bytes before it). */
static void commit(struct daemon *d, struct session *s, const struct outcome *oc, size_t was)
{
	size_t len = bytebuf_len(&s->out) - was;

	ledger_commit(&d->books, s->slot, oc->reply.id, oc->status, s->out.data + s->out.tail - len,
		      len);
}

/* One frame. Returns 0 to go on or a negative errno to close. */
static int dispatch_frame(struct dispatch *x, struct session *s, const uint8_t *payload,
			  uint32_t len)
{
	struct daemon *d = x->d;
	Allocd__Request *req;
	struct outcome oc = {.reply = ALLOCD__REPLY__INIT};
	size_t was = bytebuf_len(&s->out);
	bool books = false;
	int close_rc = 0;

	d->requests++;
	req = allocd__request__unpack(&d->arena.pb, len, payload);
	if (req == NULL) {
		oc.status = errbuf_set(&oc.err, -EBADMSG, "malformed request of %u bytes", len);
		session_log(s, LOG_WARN, "%s", oc.err.msg);
		/* A client that keeps sending garbage is broken or probing:
		 * answer this one, then hang up. */
		if (d->cfg.max_bad_frames > 0 && ++s->bad_frames >= d->cfg.max_bad_frames) {
			session_log_final(s, LOG_WARN,
					  "%u malformed frames (max_bad_frames %u): disconnecting",
					  s->bad_frames, d->cfg.max_bad_frames);
			close_rc = -EBADMSG;
		}
	} else {
		oc.reply.id = req->id;
		if (req->version != WIRE_PROTOCOL_VERSION) {
			close_rc = oc.status = errbuf_set(
			    &oc.err, -EPROTONOSUPPORT, "protocol version %u, this daemon speaks %u",
			    req->version, WIRE_PROTOCOL_VERSION);
		} else if (!s->hello_done && req->body_case != ALLOCD__REQUEST__BODY_HELLO) {
			close_rc = oc.status =
			    errbuf_set(&oc.err, -EPROTO, "the first request must be hello");
		} else if (mutating(req) && req->id != 0 && req->id == s->rec->commit.applied_id) {
			if (replay(d, s) == 0)
				return 0;
			session_log_final(s, LOG_ERROR,
					  "out of memory for its replies: disconnecting");
			return -ENOMEM;
		} else {
			books = mutating(req);
			if (books)
				ledger_begin(&d->books, s->slot);
			oc.status = run_request(x, s, req, &oc);
		}
		if (oc.status < 0)
			session_log(s, close_rc < 0 ? LOG_WARN : LOG_DEBUG, "%s", oc.err.msg);
	}
	if (put_reply(d, s, &oc) < 0) {
		/* What changed stays: the client hears of it when it resumes. */
		if (books)
			ledger_commit(&d->books, s->slot, oc.reply.id, oc.status, NULL, 0);
		session_log_final(s, LOG_ERROR, "out of memory for its replies: disconnecting");
		return -ENOMEM;
	}
	if (books)
		commit(d, s, &oc, was);
	return close_rc;
}

int dispatch_init(struct dispatch *x, struct daemon *d, struct errbuf *e)
{
	int rc;

	x->d = d;
	rc = ops_init(&x->ops, d, e);
	if (rc == 0)
		rc = stats_check_fit(d, e);
	if (rc < 0)
		ops_fini(&x->ops);
	return rc;
}

void dispatch_fini(struct dispatch *x)
{
	ops_fini(&x->ops);
}

bool dispatch_has_frame(const struct dispatch *x, const struct session *s)
{
	const uint8_t *payload;
	uint32_t len;

	return wire_frame_peek(&s->in, x->d->cfg.max_frame, &payload, &len) != 0;
}

int dispatch_input(struct dispatch *x, struct session *s, size_t limit)
{
	uint32_t frames = UINT32_MAX;

	return dispatch_some(x, s, limit, &frames);
}

int dispatch_some(struct dispatch *x, struct session *s, size_t limit, uint32_t *frames)
{
	struct daemon *d = x->d;
	const uint8_t *payload;
	uint32_t len, max = *frames;
	int rc;

	*frames = 0;
	if (limit > d->cfg.max_output)
		limit = d->cfg.max_output;
	while (*frames < max && bytebuf_len(&s->out) < limit) {
		rc = wire_frame_peek(&s->in, d->cfg.max_frame, &payload, &len);
		if (rc == 0)
			return 0;
		if (rc == -EMSGSIZE) {
			struct errbuf e;

			errbuf_set(&e, rc, "frame of %u bytes over max_frame %u", len,
				   d->cfg.max_frame);
			session_log(s, LOG_WARN, "%s", e.msg);
			dispatch_error_frame(&s->out, d->cfg.max_frame, rc, e.msg);
			return rc;
		}
		rc = dispatch_frame(x, s, payload, len);
		++*frames;
		bytebuf_consume(&s->in, WIRE_HEADER + len);
		arena_reset(&d->arena);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int dispatch_error_frame(struct bytebuf *out, uint32_t max_frame, int status, const char *msg)
{
	Allocd__Reply r = ALLOCD__REPLY__INIT;

	r.version = WIRE_PROTOCOL_VERSION;
	r.status = status;
	r.error = (char *) msg;
	return wire_frame_put(out, &r.base, max_frame);
}
