/*
 * libFuzzer harness for the request path: bytes a client could send go
 * through dispatch_input(), the code every connection runs, on one or two
 * sessions of a daemon built from a small config that has every feature
 * (pools with and without quota, a heap, groups with each built-in choice, a
 * region the first session may not use).
 *
 * Input: byte 0 picks the mode (bit 0: two sessions, the rest split at
 * bytes 1-2; bit 1: skip the hello requirement so the fuzzer reaches the
 * allocators sooner; bits 2-6: the chunk size the stream is fed in, so
 * partial frames are exercised; bit 7: the harness also writes the lease
 * pages, as a careless caching client would -- see fill_page). Every reply
 * must be a well-formed frame.
 *
 * After the streams the allocators must agree with the holds: a
 * pool block is allocated iff somebody holds it, its shared bit is set iff
 * two or more do, every heap passes tlsf_check, the hold count matches the
 * sessions', and the books a takeover would read agree. Then the sessions end -- the reclaim path
 * -- and everything must be free again, the lease pages' memfds closed, so each input starts from a
 * fresh state without the cost of rebuilding the daemon.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dispatch.h"
#include "daemon/lease_page.h"
#include "daemon/log.h"
#include "daemon/ops.h"
#include "proto/allocd.pb-c.h"

static const char fuzz_config[] =
    "log_level = \"error\";\n"
    "max_frame = \"4K\";\n"
    "max_output = \"16K\";\n"
    "max_clients = 4;\n"
    "max_clients_per_uid = 2;\n"
    "regions = (\n"
    "  { name = \"r\"; max_holds = 150; uid_holds = 100;\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 64; },\n"
    "              { name = \"q\"; block_size = 1536; blocks = 16; align = 512;\n"
    "                client_quota = 4; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 32;\n"
    "                client_quota = \"8K\"; } ); },\n"
    "  { name = \"s\"; allow_uids = [ 12345 ];\n"
    "    pools = ( { name = \"t\"; block_size = 64; blocks = 8; } ); }\n"
    ");\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; },\n"
    "           { name = \"gr\"; pools = [ \"p\", \"q\" ]; choice = \"round_robin\"; },\n"
    "           { name = \"gm\"; pools = [ \"p\", \"q\" ]; choice = \"most_free\"; },\n"
    "           { name = \"gi\"; pools = [ \"q\", \"p\" ]; choice = \"index\"; } );\n";

static struct daemon D;
static struct dispatch X;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_request: invariant broken: %s\n", what);
	abort();
}

static void daemon_once(void)
{
	static bool ready;
	struct errbuf e;
	struct config cfg;

	if (ready)
		return;
	if (config_load_string(fuzz_config, "fuzz", &cfg, e.msg, sizeof(e.msg)) < 0 ||
	    daemon_init(&D, &cfg, true, NULL, false, &e) < 0 || dispatch_init(&X, &D, &e) < 0) {
		fprintf(stderr, "fuzz_request: %s\n", e.msg);
		abort();
	}
	/* Hostile input is logged at warn: expected here, so not shown. */
	log_set_level(LOG_ERROR);
	ready = true;
}

/* Holders of a pool block, counted up to 2: its shared bit says ">= 2". */
static unsigned holders_upto2(uint32_t head)
{
	unsigned n = 0;

	for (uint32_t h = head; h != HOLD_NIL && n < 2; h = D.holds.v[h].next_unit)
		n++;
	return n;
}

/* What sessions of uid (any uid when all) hold of object i, and their
 * holds in region r. */
static void sessions_sum(uid_t uid, bool all, size_t i, uint32_t r, uint64_t *amount,
			 uint64_t *holds)
{
	*amount = *holds = 0;
	for (uint32_t k = 0; k < D.cfg.max_clients; k++) {
		const struct session *s = D.slots[k];

		if (s == NULL || (!all && s->uid != uid))
			continue;
		*amount += s->held[i].amount;
		for (size_t j = 0; j < D.table.nobjects; j++)
			if (D.table.objects[j]->kind != OBJ_GROUP &&
			    D.table.objects[j]->region->index == r)
				*holds += s->held[j].holds;
	}
}

/* The per-uid table and each region's hold count agree with the sessions'
 * own books (tenant.h, region.h). */
static void check_counters(void)
{
	uint64_t amount, holds;

	for (uint32_t r = 0; r < D.table.nregions; r++) {
		sessions_sum(0, true, 0, r, &amount, &holds);
		if (holds != D.table.regions[r]->holds)
			die("a region's hold count is its sessions' holds there");
		if (holds > D.table.regions[r]->cfg->max_holds)
			die("a region within its max_holds");
	}
	for (uint32_t t = 0; t < D.tenants.used; t++) {
		const struct tenant *x = D.tenants.v[t];

		for (size_t i = 0; x != NULL && i < D.table.nobjects; i++) {
			sessions_sum(x->uid, false, i, 0, &amount, &holds);
			if (amount != x->held[i])
				die("a uid's holding is its sessions' holdings");
		}
		for (uint32_t r = 0; x != NULL && r < D.table.nregions; r++) {
			sessions_sum(x->uid, false, 0, r, &amount, &holds);
			if (holds != x->holds[r])
				die("a uid's holds in a region are its sessions'");
		}
	}
}

/* The books a takeover would read (books.h) say what the table says: no
 * request left the undo log open, every used entry is a hold of a live
 * session's record. */
static void check_books(void)
{
	uint32_t used = 0;

	if (D.books.head->log_state != LEDGER_LOG_CLOSED)
		die("the undo log is closed between requests");
	for (uint32_t i = 0; i < D.books.head->hold_top; i++) {
		const struct hold *h = &D.holds.v[i];

		if (!h->used)
			continue;
		used++;
		if (h->session >= D.cfg.max_clients || D.slots[h->session] == NULL ||
		    !D.books.sess[h->session].used ||
		    D.books.sess[h->session].id != D.slots[h->session]->id)
			die("a hold in the books names a live session's record");
	}
	if (used != holds_count(&D.holds))
		die("the books' used entries are the hold table's holds");
}

static void check_invariants(void)
{
	uint64_t holds = 0;

	for (size_t i = 0; i < D.table.nobjects; i++) {
		const struct object *o = D.table.objects[i];

		if (o->kind == OBJ_POOL) {
			for (uint64_t b = 0; b < pool_blocks(o); b++) {
				uint32_t head = o->u.pool.holders[b];

				if (head == UNIT_PENDING)
					die("a unit left pending");
				if (bitarray_is_used(&o->u.pool.mb.bitmap, b) != (head != HOLD_NIL))
					die("pool block allocated iff held");
				if (((o->u.pool.bits[b / 64] >> (b % 64)) & 1) !=
				    (holders_upto2(head) == 2))
					die("shared bit set iff two or more hold the block");
			}
			if (bitarray_check(&o->u.pool.mb.bitmap) != 0)
				die("bitarray_check");
		} else if (o->kind == OBJ_HEAP) {
			struct tlsf_stats st;
			uint64_t held = 0;

			if (tlsf_check(o->u.heap.tlsf) != 0)
				die("tlsf_check");
			tlsf_get_stats(o->u.heap.tlsf, &st);
			for (uint32_t id = 0; id < tlsf_id_limit(o->u.heap.tlsf); id++)
				held += o->u.heap.holders[id] != HOLD_NIL;
			if (held != st.live)
				die("heap allocation live iff held");
		}
	}
	for (uint32_t s = 0; s < D.cfg.max_clients; s++)
		if (D.slots[s] != NULL)
			for (size_t i = 0; i < D.table.nobjects; i++)
				holds += D.slots[s]->held[i].holds;
	if (holds != holds_count(&D.holds))
		die("session hold counts match the hold table");
	check_counters();
	check_books();
}

/* Every reply is a frame of a decodable Reply of version 1. */
static void drain_replies(struct session *s)
{
	const uint8_t *payload;
	uint32_t len;
	int rc;

	while ((rc = wire_frame_peek(&s->out, D.cfg.max_frame, &payload, &len)) == 1) {
		Allocd__Reply *r = allocd__reply__unpack(NULL, len, payload);

		if (r == NULL || r->version != 1)
			die("reply frame decodes");
		allocd__reply__free_unpacked(r, NULL);
		bytebuf_consume(&s->out, WIRE_HEADER + len);
	}
	if (rc < 0 || bytebuf_len(&s->out) != 0)
		die("replies are whole frames within max_frame");
}

/* A complete (or refusable) frame waits in s->in. */
static bool has_frame(const struct session *s)
{
	const uint8_t *payload;
	uint32_t len;

	return wire_frame_peek(&s->in, D.cfg.max_frame, &payload, &len) != 0;
}

/*
 * The client side of s's lease page (mode bit 7), written after each round
 * of requests and careless on purpose: every block s holds is listed in a
 * free slot of its pool, again each time (so a block can sit in two slots),
 * no slot is ever emptied (so the page goes on naming blocks s freed, and
 * blocks others hold since), and the last slot names a block past the pool.
 * The daemon trusts nothing in a page (lease.h): take-back and the cached
 * counts must cope with all of it.
 */
static void fill_page(const struct session *s)
{
	for (size_t i = 0; i < D.table.nobjects; i++) {
		const struct object *o = D.table.objects[i];
		uint32_t *slot = lease_page_array(&s->lease, o);
		uint32_t n = lease_page_slots(&s->lease, o), k = 0;

		if (slot == NULL)
			continue;
		for (uint32_t b = 0; b < pool_blocks(o); b++) {
			if (holds_find(&D.holds, o->u.pool.holders[b], s->slot) == HOLD_NIL)
				continue;
			while (k + 1 < n && slot[k] != 0)
				k++;
			if (k + 1 >= n)
				break;
			slot[k] = b + 1;
		}
		slot[n - 1] = (uint32_t) pool_blocks(o) + 1;
	}
}

/* Feed bytes in chunks; false once the daemon closed the connection. */
static bool feed(struct session *s, const uint8_t *data, size_t len, size_t chunk, bool page)
{
	bool open = true;

	for (size_t off = 0; off < len && open; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		int rc;

		if (bytebuf_reserve(&s->in, n) < 0)
			abort();
		memcpy(s->in.data + s->in.tail, data + off, n);
		s->in.tail += n;
		do {
			rc = dispatch_input(&X, s, SIZE_MAX);
			drain_replies(s); /* the client reads: back-pressure lifts */
			if (page)
				fill_page(s);
		} while (rc == 0 && has_frame(s));
		open = rc == 0;
	}
	return open;
}

/* A session; with skip_hello as if its hello were done, asking for leases
 * when page (so that the page mode has a page without a hello frame). */
static struct session *open_session(uid_t uid, bool skip_hello, bool page)
{
	struct session_creds cr = {.pid = getpid(), .uid = uid, .gid = 100};
	struct session *s;
	struct errbuf e;

	if (daemon_session_start(&D, &cr, &s, &e) < 0)
		abort();
	s->hello_done = skip_hello;
	if (skip_hello && page) {
		s->leases = true;
		if (lease_page_open(&D.table, s->regions, &s->lease) < 0)
			abort();
	}
	return s;
}

/* End s; its lease page's memfd (never sent: no server here) must go too. */
static void end_session(struct session *s)
{
	int fd = s->lease.fd;

	ops_end_session(&X.ops, s);
	if (fd >= 0 && fcntl(fd, F_GETFD) != -1)
		die("a lease page's memfd outlives its session");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session *a, *b = NULL;
	size_t chunk, split = size;
	uint8_t mode;
	bool page;

	daemon_once();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	chunk = 1 + (size_t) ((mode >> 2) & 31) * 67;
	page = mode & 0x80;
	a = open_session(1000, mode & 2, page);
	if ((mode & 1) && size >= 2) {
		split = ((size_t) data[0] | (size_t) data[1] << 8) % (size - 1);
		/* The second connection is the first's uid now and then, so
		 * that a uid's limits span connections. */
		b = open_session(data[1] & 0x80 ? 1000 : 12345, mode & 2, page);
		data += 2;
		size -= 2;
	}
	if (feed(a, data, split < size ? split : size, chunk, page) && b != NULL && split < size)
		feed(b, data + split, size - split, chunk, page);
	/* The full check walks every list and block: once per input keeps the
	 * fuzzer fast, and every input is checked. */
	check_invariants();
	if (b != NULL)
		end_session(b);
	end_session(a);

	/* The connections are gone: everything must be back. */
	check_invariants();
	for (size_t i = 0; i < D.table.nobjects; i++) {
		const struct object *o = D.table.objects[i];
		struct tlsf_stats st;

		if (o->kind == OBJ_POOL &&
		    sys_mem_blocks_free_count(&o->u.pool.mb) != pool_blocks(o))
			die("pool fully free after reclaim");
		if (o->kind == OBJ_HEAP) {
			tlsf_get_stats(o->u.heap.tlsf, &st);
			if (st.live != 0 || st.free_blocks != 1)
				die("heap fully free after reclaim");
		}
	}
	if (holds_count(&D.holds) != 0)
		die("no holds after reclaim");
	return 0;
}
