/*
 * resume: a client whose daemon's serving process is replaced (allocatord(8),
 * "Restarts"). A fake daemon (tests/common/fake_daemon) gives a session
 * token at hello, then loses the connection at a chosen byte -- after a
 * whole reply, half a reply, no reply, several requests applied and none
 * answered -- takes the resume hello on a second connection, checks its
 * resume_id and token, says what it applied, and checks which requests come
 * again. The library must read what was written whole, complete what was
 * applied, send the rest again in order, and give the waiting caller its
 * answer; refuse other memory with -ESTALE; give up with -ETIMEDOUT when the
 * daemon stays away, and at once when nothing listens any more.
 *
 * The fake's memory: region "r" (64 KiB), its shared bits and a lease page;
 * pools "p" (offset 0) and "q" (offset 4096), 64 blocks of 64 B each, with 16
 * lease slots each.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/client/check_client.h"
#include "tests/common/fake_daemon.h"

#define REGION_SIZE (64u << 10)
#define BITS_SIZE   64u
#define LEASE_SIZE  4096u
#define CLIENT_ID   7u
#define TOKEN       "0123456789abcdef"

/* The fake's memfds, made in its process. */
struct fake_mem {
	int region, bits, lease;
};

/* How the fake answers a hello. */
struct answer {
	bool resumed;
	uint64_t applied_id, failed_id;
	int32_t failed_status;
	uint64_t region_size; /* announced; 0: REGION_SIZE */
	uint64_t p_offset;    /* pool p's offset */
	int32_t status;       /* a refusal, with error */
	const char *error;
};

static int mem_init(struct fake_mem *m)
{
	m->region = fake_memfd(REGION_SIZE);
	m->bits = fake_memfd(BITS_SIZE);
	m->lease = fake_memfd(LEASE_SIZE);
	return m->region >= 0 && m->bits >= 0 && m->lease >= 0 ? 0 : 70;
}

/* Read a hello and answer it as a says; first: the client's first hello
 * (no resume_id), else a resume of CLIENT_ID with TOKEN. */
static int answer_hello(int conn, const struct fake_mem *m, const struct answer *a, bool first)
{
	Allocd__Request *req = fake_recv(conn);
	Allocd__Reply r = ALLOCD__REPLY__INIT;
	Allocd__HelloReply hr = ALLOCD__HELLO_REPLY__INIT;
	Allocd__RegionInfo ri = ALLOCD__REGION_INFO__INIT, *regions[1] = {&ri};
	Allocd__ObjectInfo p = ALLOCD__OBJECT_INFO__INIT, q = ALLOCD__OBJECT_INFO__INIT;
	Allocd__ObjectInfo *objects[2] = {&p, &q};
	int fds[3] = {m->region, m->bits, m->lease};
	const Allocd__Hello *h;
	int rc;

	if (req == NULL || req->body_case != ALLOCD__REQUEST__BODY_HELLO)
		return 71;
	h = req->hello;
	if (first ? h->resume_id != 0 || h->resume_token.len != 0
		  : h->resume_id != CLIENT_ID || h->resume_token.len != strlen(TOKEN) ||
			memcmp(h->resume_token.data, TOKEN, strlen(TOKEN)) != 0 || !h->leases) {
		allocd__request__free_unpacked(req, NULL);
		return 72;
	}
	ri.name = "r";
	ri.size = a->region_size ? a->region_size : REGION_SIZE;
	ri.bits_size = BITS_SIZE;
	p.name = "p";
	p.offset = a->p_offset;
	q.name = "q";
	q.offset = 4096;
	q.bits_offset = 8;
	q.lease_offset = 64;
	for (size_t i = 0; i < 2; i++) {
		objects[i]->kind = ALLOCD__KIND__KIND_POOL;
		objects[i]->size = 4096;
		objects[i]->block_size = 64;
		objects[i]->total = 64;
		objects[i]->lease_slots = 16;
	}
	hr.max_frame = 4096;
	hr.max_batch = 100;
	hr.max_output = 65536;
	hr.client_id = CLIENT_ID;
	hr.regions = regions;
	hr.n_regions = 1;
	hr.objects = objects;
	hr.n_objects = 2;
	hr.lease_size = LEASE_SIZE;
	hr.session_token.data = (uint8_t *) TOKEN;
	hr.session_token.len = strlen(TOKEN);
	hr.resumed = a->resumed;
	hr.applied_id = a->applied_id;
	hr.failed_id = a->failed_id;
	hr.failed_status = a->failed_status;
	r.version = 1;
	r.id = req->id;
	r.status = a->status;
	if (a->status == 0) {
		r.body_case = ALLOCD__REPLY__BODY_HELLO;
		r.hello = &hr;
	} else {
		r.error = (char *) a->error;
	}
	rc = fake_send(conn, &r, fds, a->status == 0 ? 3 : 0) == 0 ? 0 : 73;
	allocd__request__free_unpacked(req, NULL);
	return rc;
}

static int first_hello(int conn, struct fake_mem *m)
{
	static const struct answer a;
	int rc = mem_init(m);

	return rc ? rc : answer_hello(conn, m, &a, true);
}

/* The next request: it must have id and body kind, else NULL. */
static Allocd__Request *expect(int conn, uint64_t id, Allocd__Request__BodyCase kind)
{
	Allocd__Request *req = fake_recv(conn);

	if (req != NULL && (req->id != id || req->body_case != kind)) {
		allocd__request__free_unpacked(req, NULL);
		return NULL;
	}
	return req;
}

/* Answer req: status (with a text when < 0), and for an Alloc the offsets
 * offs[0..n); whole, or its first keep bytes (keep 0: whole). */
static int answer(int conn, Allocd__Request *req, int32_t status, uint64_t *offs, size_t n,
		  size_t keep)
{
	Allocd__Reply r = ALLOCD__REPLY__INIT;
	Allocd__AllocReply ar = ALLOCD__ALLOC_REPLY__INIT;
	Allocd__ListReply lr = ALLOCD__LIST_REPLY__INIT;
	int rc;

	r.version = 1;
	r.id = req->id;
	r.status = status;
	if (status < 0) {
		r.error = "scripted failure";
	} else if (req->body_case == ALLOCD__REQUEST__BODY_ALLOC) {
		ar.offsets = offs;
		ar.n_offsets = n;
		ar.block_size = 64;
		r.body_case = ALLOCD__REPLY__BODY_ALLOC;
		r.alloc = &ar;
	} else if (req->body_case == ALLOCD__REQUEST__BODY_LIST) {
		r.body_case = ALLOCD__REPLY__BODY_LIST;
		r.list = &lr;
	}
	rc = keep ? fake_send_cut(conn, &r, keep) : fake_send(conn, &r, NULL, 0);
	allocd__request__free_unpacked(req, NULL);
	return rc == 0 ? 0 : 74;
}

/* Take the resume hello on the next connection (into *conn), answered as a
 * says. */
static int resume(struct fake_daemon *f, const struct fake_mem *m, const struct answer *a,
		  int *conn)
{
	*conn = fake_accept(f);
	return *conn < 0 ? 75 : answer_hello(*conn, m, a, false);
}

static mc_client_t *connect_fake(const struct fake_daemon *f)
{
	mc_client_t *c;

	ck_assert_int_eq(mc_connect(f->path, &c), 0);
	return c;
}

static void assert_reason(mc_client_t *c, const char *part)
{
	char why[256];

	ck_assert_int_eq(mc_last_error(c, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, part) != NULL, "reason '%s' lacks '%s'", why, part);
}

/*
 * (a) Replies written whole are read before anything is resumed. Frees of p
 * (id 2) and q (id 3) are read; 2's reply (-EFAULT) is written whole and the
 * connection closed. The client's next send (p, id 4) finds it gone. The
 * daemon says 3 was applied and failed with -ENOENT: 3 and 4 come again.
 * mc_flush reports the first failure, 2's, which only the drained reply
 * tells.
 */
static int script_whole_reply(struct fake_daemon *f, int conn)
{
	static const struct answer a = {
	    .resumed = true, .applied_id = 3, .failed_id = 3, .failed_status = -ENOENT};
	struct fake_mem m;
	Allocd__Request *r2, *r3;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	r2 = expect(conn, 2, ALLOCD__REQUEST__BODY_FREE);
	r3 = expect(conn, 3, ALLOCD__REQUEST__BODY_FREE);
	if (r2 == NULL || r3 == NULL)
		return 1;
	allocd__request__free_unpacked(r3, NULL);
	if (answer(conn, r2, -EFAULT, NULL, 0, 0))
		return 2;
	close(conn);
	if (!fake_step(f))
		return 3;
	rc = resume(f, &m, &a, &conn);
	if (rc)
		return rc;
	r3 = expect(conn, 3, ALLOCD__REQUEST__BODY_FREE); /* 2 was answered: not again */
	if (r3 == NULL || answer(conn, r3, -ENOENT, NULL, 0, 0))
		return 4;
	r2 = expect(conn, 4, ALLOCD__REQUEST__BODY_FREE);
	return r2 == NULL || answer(conn, r2, 0, NULL, 0, 0) ? 5 : 0;
}

START_TEST(test_resume_reads_whole_replies_first)
{
	static const uint64_t off = 0;
	struct fake_daemon f;
	mc_client_t *c;

	fake_start(&f, script_whole_reply);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_free_async(c, "p", 1, &off), 0);
	ck_assert_int_eq(mc_free_async(c, "q", 1, &off), 0); /* sends p: id 2 */
	ck_assert_int_eq(mc_free_async(c, "p", 1, &off), 0); /* sends q: id 3 */
	fake_wait_step(&f);
	ck_assert_int_eq(mc_flush(c), -EFAULT);
	ck_assert_int_eq(mc_flush(c), 0);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/*
 * (b) Half a reply, (c) none: a synchronous alloc (id 2) is read, the
 * connection closed after the first keep bytes of its reply (0: none).
 * applied says whether the daemon applied it: either way it comes again
 * (the same id: the daemon answers an applied one from its reply cache),
 * and the caller gets the answer as if nothing happened.
 */
static int lost_sync_alloc(struct fake_daemon *f, int conn, size_t keep, uint64_t applied)
{
	const struct answer a = {.resumed = true, .applied_id = applied};
	uint64_t off = 192;
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	if (keep > 0 && answer(conn, req, 0, &off, 1, keep))
		return 2;
	if (keep == 0)
		allocd__request__free_unpacked(req, NULL);
	close(conn);
	if (!fake_step(f) || !fake_heard(f))
		return 3;
	rc = resume(f, &m, &a, &conn);
	if (rc)
		return rc;
	/* The mapping stayed the client's all along: what it wrote while
	 * the daemon was away is in the region. */
	{
		char *base = mmap(NULL, REGION_SIZE, PROT_READ, MAP_SHARED, m.region, 0);

		if (base == MAP_FAILED || memcmp(base + 4096, "away", 5) != 0)
			return 4;
		munmap(base, REGION_SIZE);
	}
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	return req == NULL || answer(conn, req, 0, &off, 1, 0) ? 5 : 0;
}

static int script_half_reply(struct fake_daemon *f, int conn)
{
	return lost_sync_alloc(f, conn, 7, 2);
}

static int script_no_reply(struct fake_daemon *f, int conn)
{
	return lost_sync_alloc(f, conn, 0, 0);
}

struct alloc_call {
	mc_client_t *c;
	uint64_t off;
	int rc;
};

static void *alloc_thread(void *arg)
{
	struct alloc_call *a = arg;

	a->rc = mc_alloc(a->c, "p", 1, &a->off);
	return NULL;
}

/* The alloc waits in another thread; meanwhile this one writes into the
 * mapping (mc_ptr takes no lock for a known name), then lets the fake
 * resume. */
static void lost_sync_alloc_test(fake_script script)
{
	struct fake_daemon f;
	struct alloc_call a = {0};
	pthread_t t;
	char *p;

	fake_start(&f, script);
	a.c = connect_fake(&f);
	ck_assert_int_eq(pthread_create(&t, NULL, alloc_thread, &a), 0);
	fake_wait_step(&f);
	p = mc_ptr(a.c, "q", 4096); /* offsets are the region's */
	ck_assert_ptr_nonnull(p);
	memcpy(p, "away", 5);
	fake_tell(&f);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_uint_eq(a.off, 192);
	mc_close(a.c);
	fake_stop(&f);
}

START_TEST(test_resume_half_reply_sent_again)
{
	lost_sync_alloc_test(script_half_reply);
}
END_TEST

START_TEST(test_resume_no_reply_sent_again)
{
	lost_sync_alloc_test(script_no_reply);
}
END_TEST

/*
 * (d) Four async frees (ids 2..5) read, none answered. The daemon applied
 * up to 4, and 3 failed: 2 and 3 complete here (3 with -EFAULT), 4 and 5
 * come again, in order.
 */
static int script_async_in_flight(struct fake_daemon *f, int conn)
{
	static const struct answer a = {
	    .resumed = true, .applied_id = 4, .failed_id = 3, .failed_status = -EFAULT};
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	for (uint64_t id = 2; id <= 5; id++) {
		req = expect(conn, id, ALLOCD__REQUEST__BODY_FREE);
		if (req == NULL)
			return 1;
		allocd__request__free_unpacked(req, NULL);
	}
	close(conn);
	rc = resume(f, &m, &a, &conn);
	if (rc)
		return rc;
	for (uint64_t id = 4; id <= 5; id++) {
		req = expect(conn, id, ALLOCD__REQUEST__BODY_FREE);
		if (req == NULL || answer(conn, req, 0, NULL, 0, 0))
			return 2;
	}
	return 0;
}

START_TEST(test_resume_async_applied_complete_rest_sent_again)
{
	static const uint64_t off = 64;
	struct fake_daemon f;
	mc_client_t *c;

	fake_start(&f, script_async_in_flight);
	c = connect_fake(&f);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(mc_free_async(c, i % 2 ? "q" : "p", 1, &off), 0);
	ck_assert_int_eq(mc_flush(c), -EFAULT);
	ck_assert_int_eq(mc_flush(c), 0);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* The next serving process dies too, during the resume hello: the library
 * tries again, and the third one resumes. */
static int script_dies_again(struct fake_daemon *f, int conn)
{
	static const struct answer a = {.resumed = true};
	uint64_t off = 256;
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	allocd__request__free_unpacked(req, NULL);
	close(conn);
	conn = fake_accept(f);
	req = conn < 0 ? NULL : fake_recv(conn);
	if (req == NULL || req->body_case != ALLOCD__REQUEST__BODY_HELLO)
		return 2;
	allocd__request__free_unpacked(req, NULL);
	close(conn); /* dead before it answered */
	rc = resume(f, &m, &a, &conn);
	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	return req == NULL || answer(conn, req, 0, &off, 1, 0) ? 3 : 0;
}

START_TEST(test_resume_tries_again_when_the_next_dies_too)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;

	fake_start(&f, script_dies_again);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), 0);
	ck_assert_uint_eq(off, 256);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* Other memory after the resume, by _i: another region memfd, another
 * region size, another offset of p, a new session instead of the old. */
static const struct {
	const char *reason;
} mismatches[] = {
    {"region 'r' is another memfd"},
    {"region 'r' is 131072 bytes, was 65536"},
    {"pool 'p' has another offset"},
    {"started a new session"},
};

static int mismatch;

static int script_mismatch(struct fake_daemon *f, int conn)
{
	struct answer a = {.resumed = true};
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	allocd__request__free_unpacked(req, NULL);
	close(conn);
	if (mismatch == 0)
		m.region = fake_memfd(REGION_SIZE);
	a.region_size = mismatch == 1 ? 2 * REGION_SIZE : 0;
	a.p_offset = mismatch == 2 ? 64 : 0;
	a.resumed = mismatch != 3;
	return resume(f, &m, &a, &conn);
}

START_TEST(test_resume_other_memory_is_estale)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;
	char *p;

	mismatch = _i;
	fake_start(&f, script_mismatch);
	c = connect_fake(&f);
	p = mc_ptr(c, "p", 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ESTALE);
	assert_reason(c, mismatches[_i].reason);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ECONNRESET);
	/* Broken, but the mapping stays until mc_close. */
	ck_assert_ptr_eq(mc_ptr(c, "p", 0), p);
	memcpy(p, "still", 6);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* The daemon has no such session waiting (it lost its state). */
static int script_refused(struct fake_daemon *f, int conn)
{
	static const struct answer a = {.status = -ESTALE, .error = "no session 7 waiting"};
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	allocd__request__free_unpacked(req, NULL);
	close(conn);
	return resume(f, &m, &a, &conn);
}

START_TEST(test_resume_refused_is_estale)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;

	fake_start(&f, script_refused);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ESTALE);
	assert_reason(c, "no session 7 waiting");
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ECONNRESET);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* The connection is lost and the daemon never answers again: its
 * listening socket stays (a keeper holds it), nobody accepts. */
static int script_never_back(struct fake_daemon *f, int conn)
{
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	allocd__request__free_unpacked(req, NULL);
	close(conn);
	return 0;
}

START_TEST(test_resume_daemon_away_times_out)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;

	fake_start(&f, script_never_back);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_set_timeout(c, 300), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ETIMEDOUT);
	assert_reason(c, "daemon away: serving process being replaced");
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ECONNRESET);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* Nothing listens any more (the whole daemon stopped): no waiting. */
static int script_gone(struct fake_daemon *f, int conn)
{
	struct fake_mem m;
	Allocd__Request *req;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL)
		return 1;
	allocd__request__free_unpacked(req, NULL);
	close(f->lfd);
	close(conn);
	return 0;
}

START_TEST(test_resume_nothing_listens_is_econnreset)
{
	struct fake_daemon f;
	mc_client_t *c;
	uint64_t off;

	fake_start(&f, script_gone);
	c = connect_fake(&f);
	/* The default timeout is 30 s: a wait would show as the test's. */
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), -ECONNRESET);
	assert_reason(c, "nothing listens");
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/*
 * A new lease page: the cache of p (8 blocks) leases blocks 0..3 (slots 1..4),
 * mc_alloc takes block 3 from it; after the resume the fake's new page must
 * hold slots 1, 2, 3 where p's slots are, and the cache serves on.
 */
static int script_new_lease_page(struct fake_daemon *f, int conn)
{
	static const struct answer a = {.resumed = true, .applied_id = 2};
	uint64_t offs[4] = {0, 64, 128, 192};
	struct fake_mem m;
	Allocd__Request *req;
	const uint32_t *slots;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL || req->alloc->cache != 8 || req->alloc->lease != 4)
		return 1;
	if (answer(conn, req, 0, offs, 4, 0))
		return 2;
	if (!fake_heard(f))
		return 3;
	close(conn);
	close(m.lease);
	m.lease = fake_memfd(LEASE_SIZE);
	rc = resume(f, &m, &a, &conn);
	if (rc)
		return rc;
	slots = mmap(NULL, LEASE_SIZE, PROT_READ, MAP_SHARED, m.lease, 0);
	if (slots == MAP_FAILED)
		return 4;
	req = expect(conn, 3, ALLOCD__REQUEST__BODY_LIST);
	if (req == NULL)
		return 5;
	/* The cached blocks, where p's slots are; q's untouched. */
	rc = slots[0] == 1 && slots[1] == 2 && slots[2] == 3 && slots[3] == 0 && slots[16] == 0
		 ? 0
		 : -EBADE;
	return answer(conn, req, rc, NULL, 0, 0) ? 6 : 0;
}

START_TEST(test_resume_cache_moves_to_new_lease_page)
{
	struct fake_daemon f;
	struct mc_cache_stats st;
	mc_client_t *c;
	uint64_t off;
	size_t n;

	fake_start(&f, script_new_lease_page);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_cache(c, "p", 8), 0);
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), 0); /* from the cache */
	ck_assert_uint_eq(off, 192);
	fake_tell(&f);
	ck_assert_int_eq(mc_list(c, NULL, 0, &n), 0); /* resumed on the way */
	ck_assert_int_eq(mc_alloc(c, "p", 1, &off), 0);
	ck_assert_uint_eq(off, 128);
	ck_assert_int_eq(mc_cache_stats(c, "p", &st), 0);
	ck_assert_uint_eq(st.cached, 2);
	ck_assert_uint_eq(st.hits, 2);
	mc_close(c);
	fake_stop(&f);
}
END_TEST

/* mc_close does not resume: the fake finds no second connection. */
static int script_closed(struct fake_daemon *f, int conn)
{
	struct fake_mem m;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	close(conn);
	if (!fake_step(f) || !fake_heard(f))
		return 1;
	if (fcntl(f->lfd, F_SETFL, O_NONBLOCK) != 0)
		return 2;
	conn = accept(f->lfd, NULL, NULL);
	return conn < 0 && errno == EAGAIN ? 0 : 3;
}

START_TEST(test_resume_not_after_close)
{
	static const uint64_t off = 0;
	struct fake_daemon f;
	mc_client_t *c;

	fake_start(&f, script_closed);
	c = connect_fake(&f);
	ck_assert_int_eq(mc_free_async(c, "p", 1, &off), 0);
	fake_wait_step(&f);
	mc_close(c); /* its flush finds the connection gone */
	fake_tell(&f);
	fake_stop(&f);
}
END_TEST

/*
 * Nothing goes out behind a lease refill until its reply came: that reply is
 * all that names the blocks leased, and a resumed daemon replays the last
 * request's reply only. The cache of p (8) leases 4 blocks; mc_alloc of 3
 * leaves 1 and sends a refill (id 3). A free of q is flushed in another
 * thread; once that thread waits in recvmsg, the fake looks for a request
 * behind the refill: there must be none before it answers.
 */
static int script_refill_last(struct fake_daemon *f, int conn)
{
	uint64_t offs[4] = {0, 64, 128, 192}, more[3] = {256, 320, 384};
	struct fake_mem m;
	Allocd__Request *req;
	char b;
	int rc = first_hello(conn, &m);

	if (rc)
		return rc;
	req = expect(conn, 2, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL || answer(conn, req, 0, offs, 4, 0))
		return 1;
	req = expect(conn, 3, ALLOCD__REQUEST__BODY_ALLOC);
	if (req == NULL || req->alloc->lease != 3 || !fake_heard(f))
		return 2;
	if (recv(conn, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1 || errno != EAGAIN)
		return 3; /* a request behind the refill */
	if (answer(conn, req, 0, more, 3, 0))
		return 4;
	req = expect(conn, 4, ALLOCD__REQUEST__BODY_FREE);
	return req == NULL || answer(conn, req, 0, NULL, 0, 0) ? 5 : 0;
}

struct flush_call {
	mc_client_t *c;
	int tid[2]; /* a pipe: the thread's id */
	int rc;
};

static void *flush_thread(void *arg)
{
	struct flush_call *a = arg;
	static const uint64_t off = 4096;
	pid_t tid = gettid();

	ck_assert(client_write_full(a->tid[1], &tid, sizeof(tid)));
	a->rc = mc_free_async(a->c, "q", 1, &off);
	if (a->rc == 0)
		a->rc = mc_flush(a->c);
	return NULL;
}

/* Wait until thread tid of this process blocks in recvmsg (its syscall
 * file names the call it waits in). */
static void wait_in_recvmsg(pid_t tid)
{
	char path[64], line[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int) tid);
	for (;;) {
		FILE *fp = fopen(path, "r");
		long nr = -1;

		ck_assert_ptr_nonnull(fp);
		if (fgets(line, sizeof(line), fp) != NULL)
			nr = strtol(line, NULL, 10);
		fclose(fp);
		if (nr == SYS_recvmsg)
			return;
		sched_yield();
	}
}

START_TEST(test_resume_nothing_sent_behind_a_refill)
{
	struct fake_daemon f;
	struct flush_call a = {0};
	uint64_t offs[3];
	pthread_t t;
	pid_t tid;

	fake_start(&f, script_refill_last);
	a.c = connect_fake(&f);
	ck_assert_int_eq(mc_cache(a.c, "p", 8), 0);
	ck_assert_int_eq(mc_alloc(a.c, "p", 3, offs), 0); /* sends the refill */
	ck_assert_int_eq(pipe(a.tid), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, flush_thread, &a), 0);
	ck_assert(client_read_full(a.tid[0], &tid, sizeof(tid)));
	wait_in_recvmsg(tid);
	fake_tell(&f);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.rc, 0);
	close(a.tid[0]);
	close(a.tid[1]);
	mc_close(a.c);
	fake_stop(&f);
}
END_TEST

Suite *resume_suite(void)
{
	Suite *s = suite_create("resume");
	TCase *tc = client_tcase("resume");

	tcase_add_test(tc, test_resume_reads_whole_replies_first);
	tcase_add_test(tc, test_resume_half_reply_sent_again);
	tcase_add_test(tc, test_resume_no_reply_sent_again);
	tcase_add_test(tc, test_resume_async_applied_complete_rest_sent_again);
	tcase_add_test(tc, test_resume_tries_again_when_the_next_dies_too);
	tcase_add_loop_test(tc, test_resume_other_memory_is_estale, 0,
			    (int) (sizeof(mismatches) / sizeof(mismatches[0])));
	tcase_add_test(tc, test_resume_refused_is_estale);
	tcase_add_test(tc, test_resume_daemon_away_times_out);
	tcase_add_test(tc, test_resume_nothing_listens_is_econnreset);
	tcase_add_test(tc, test_resume_cache_moves_to_new_lease_page);
	tcase_add_test(tc, test_resume_not_after_close);
	tcase_add_test(tc, test_resume_nothing_sent_behind_a_refill);
	suite_add_tcase(s, tc);
	return s;
}
