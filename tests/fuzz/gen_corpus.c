/*
 * Writes the seed corpus of fuzz_request: one file per kind of request, each
 * a valid stream (hello first) in the harness's input format, so that the
 * fuzzer starts from every code path. Usage: gen_corpus DIR
 * The files are committed in tests/fuzz/corpus/request; this program is how
 * they were made (rerun it after a protocol change).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/allocd.pb-c.h"

struct stream {
	uint8_t buf[8192];
	size_t len;
};

static void put(struct stream *st, Allocd__Request *r, uint64_t id)
{
	size_t n;

	r->version = 1;
	r->id = id;
	n = allocd__request__get_packed_size(r);
	st->buf[st->len++] = (uint8_t) n;
	st->buf[st->len++] = (uint8_t) (n >> 8);
	st->buf[st->len++] = 0;
	st->buf[st->len++] = 0;
	allocd__request__pack(r, st->buf + st->len);
	st->len += n;
}

static void hello(struct stream *st)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Hello h = ALLOCD__HELLO__INIT;

	h.client_name = "seed";
	h.leases = true;
	r.body_case = ALLOCD__REQUEST__BODY_HELLO;
	r.hello = &h;
	put(st, &r, 1);
}

/* An Alloc; lease and cache as in Alloc (0: none). */
static void alloc(struct stream *st, const char *pool, uint64_t count, int contiguous,
		  uint64_t lease, uint64_t cache)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Alloc a = ALLOCD__ALLOC__INIT;

	a.pool = (char *) pool;
	a.count = count;
	a.contiguous = contiguous;
	a.lease = lease;
	a.cache = cache;
	r.body_case = ALLOCD__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	put(st, &r, 2);
}

static void free_or_retain(struct stream *st, int retain, const char *name, uint64_t *off, size_t n,
			   uint64_t run)
{
	Allocd__Request r = ALLOCD__REQUEST__INIT;
	Allocd__Free f = ALLOCD__FREE__INIT;
	Allocd__Retain t = ALLOCD__RETAIN__INIT;

	if (retain) {
		t.name = (char *) name;
		t.offsets = off;
		t.n_offsets = n;
		t.run = run;
		r.body_case = ALLOCD__REQUEST__BODY_RETAIN;
		r.retain = &t;
	} else {
		f.name = (char *) name;
		f.offsets = off;
		f.n_offsets = n;
		f.run = run;
		r.body_case = ALLOCD__REQUEST__BODY_FREE;
		r.free = &f;
	}
	put(st, &r, 3);
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const struct stream *a,
		       const struct stream *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fputc(mode, f);
	if (b != NULL) {
		fputc((int) (a->len & 0xff), f);
		fputc((int) (a->len >> 8), f);
	}
	fwrite(a->buf, 1, a->len, f);
	if (b != NULL)
		fwrite(b->buf, 1, b->len, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct stream a = {0}, b = {0};
	/* offsets of the fuzz config: region "r" holds p at 0, q at 0x1000 */
	uint64_t p0[] = {0, 64, 128}, q0 = 0x1000;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	hello(&a);
	alloc(&a, "p", 3, 0, 0, 0);
	free_or_retain(&a, 0, "p", p0, 3, 0);
	write_seed(argv[1], "alloc_free", 0x04, &a, NULL);

	a.len = 0;
	hello(&a);
	alloc(&a, "q", 3, 1, 0, 0);
	free_or_retain(&a, 0, "q", &q0, 1, 3);
	write_seed(argv[1], "contiguous_run", 0x08, &a, NULL);

	a.len = 0;
	hello(&a);
	{
		Allocd__Request r = ALLOCD__REQUEST__INIT;
		Allocd__GroupAlloc g = ALLOCD__GROUP_ALLOC__INIT;
		Allocd__HeapAlloc h = ALLOCD__HEAP_ALLOC__INIT;

		g.group = "g";
		g.cfg = 100;
		g.count = 2;
		r.body_case = ALLOCD__REQUEST__BODY_GROUP_ALLOC;
		r.group_alloc = &g;
		put(&a, &r, 4);
		g.group = "gr";
		put(&a, &r, 5);
		g.group = "gi";
		g.cfg = 1;
		put(&a, &r, 6);
		h.heap = "h";
		h.size = 1000;
		h.align = 256;
		r.body_case = ALLOCD__REQUEST__BODY_HEAP_ALLOC;
		r.heap_alloc = &h;
		put(&a, &r, 7);
	}
	write_seed(argv[1], "group_heap", 0x10, &a, NULL);

	a.len = 0;
	hello(&a);
	{
		Allocd__Request r = ALLOCD__REQUEST__INIT;
		Allocd__List l = ALLOCD__LIST__INIT;
		Allocd__Status s = ALLOCD__STATUS__INIT;
		Allocd__Clients c = ALLOCD__CLIENTS__INIT;
		Allocd__Map m = ALLOCD__MAP__INIT;

		l.name = "";
		r.body_case = ALLOCD__REQUEST__BODY_LIST;
		r.list = &l;
		put(&a, &r, 8);
		r.body_case = ALLOCD__REQUEST__BODY_STATUS;
		r.status = &s;
		put(&a, &r, 9);
		r.body_case = ALLOCD__REQUEST__BODY_CLIENTS;
		r.clients = &c;
		put(&a, &r, 10);
		m.pool = "p";
		m.count = 64;
		r.body_case = ALLOCD__REQUEST__BODY_MAP;
		r.map = &m;
		put(&a, &r, 11);
	}
	write_seed(argv[1], "stats", 0x00, &a, NULL);

	/* two sessions: a producer allocates, a consumer (allowed in region s
	 * too) retains and frees */
	a.len = 0;
	hello(&a);
	alloc(&a, "p", 3, 0, 0, 0);
	hello(&b);
	free_or_retain(&b, 1, "p", p0, 3, 0);
	free_or_retain(&b, 0, "p", p0, 3, 0);
	alloc(&b, "t", 2, 0, 0, 0);
	write_seed(argv[1], "handoff", 0x05, &a, &b);

	/* leased caches, with the harness writing the lease pages (mode bit
	 * 7): a leases blocks of p and q into its cache; b retains two of a's
	 * (shared bits), then asks for more of p than is free, which takes
	 * a's cached blocks back; the listings count what the pages say */
	a.len = 0;
	b.len = 0;
	hello(&a);
	alloc(&a, "p", 2, 0, 6, 8);
	alloc(&a, "q", 1, 0, 3, 4);
	hello(&b);
	free_or_retain(&b, 1, "p", p0, 2, 0);
	alloc(&b, "p", 60, 0, 0, 0);
	{
		Allocd__Request r = ALLOCD__REQUEST__INIT;
		Allocd__List l = ALLOCD__LIST__INIT;
		Allocd__Map m = ALLOCD__MAP__INIT;

		l.name = "p";
		r.body_case = ALLOCD__REQUEST__BODY_LIST;
		r.list = &l;
		put(&b, &r, 12);
		m.pool = "p";
		m.count = 64;
		r.body_case = ALLOCD__REQUEST__BODY_MAP;
		r.map = &m;
		put(&b, &r, 13);
	}
	write_seed(argv[1], "lease", 0xa9, &a, &b);
	return 0;
}
