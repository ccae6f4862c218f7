/*
 * state: the state memfd a serving process leaves to the next one (state.h),
 * driven through daemon_init as a takeover drives it: a daemon started
 * (state committed) and finished leaves a dup of its memfd, and a second
 * daemon_init is handed it with a configuration. The object table must
 * then be numbered as the state says (tombstones for what the
 * configuration dropped, new objects after); a state that does not fit --
 * truncated, bad magic, damaged header or directory, newer format,
 * another layout -- must be refused naming why, or dropped with
 * --discard-state; and no damage at all may crash it (random flips, with
 * the hashes made right again so that the checks behind them are reached).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/reload.h"
#include "daemon/state.h"
#include "tests/common/seed.h"
#include "tests/daemon/check_daemon.h"

static const char base[] =
    "log_level = \"error\";\n"
    "regions = (\n"
    "  { name = \"r\"; size = \"1M\";\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 100; },\n"
    "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64; } ); },\n"
    "  { name = \"s\"; size = \"64K\";\n"
    "    pools = ( { name = \"sp\"; block_size = 64; blocks = 8; } ); }\n"
    ");\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; },\n"
    "           { name = \"gi\"; pools = [ \"p\", \"q\" ]; choice = \"index\"; } );\n";

/* base in another order, without region s and group g, with a new region
 * n: what a restart with an edited file may bring. */
static const char edited[] =
    "log_level = \"error\";\n"
    "regions = (\n"
    "  { name = \"n\";\n"
    "    pools = ( { name = \"np\"; block_size = 128; blocks = 4; } ); },\n"
    "  { name = \"r\"; size = \"1M\";\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 100; },\n"
    "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64; } ); }\n"
    ");\n"
    "groups = ( { name = \"g2\"; pools = [ \"q\", \"p\" ]; choice = \"index\"; },\n"
    "           { name = \"gi\"; pools = [ \"p\", \"q\" ]; choice = \"index\"; } );\n";

/* text with the first `from` replaced by `to` (static buffer). */
static const char *with(const char *text, const char *from, const char *to)
{
	static char buf[4096];
	const char *at = strstr(text, from);

	ck_assert_msg(at != NULL, "'%s' is not in the config", from);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
	return buf;
}

/* What the fd store passes a serving process: the state memfd alone (no
 * store to send to). Static: the daemon keeps a pointer to it. */
static struct fdstore_fd passed;
static struct fdstore store;

/* daemon_init of text ("next.conf") with the state fd passed (-1: none);
 * its result. */
static int start(struct daemon *d, const char *text, int fd, bool discard, struct errbuf *e)
{
	struct config cfg;
	int rc = config_load_string(text, "next.conf", &cfg, e->msg, sizeof(e->msg));

	ck_assert_msg(rc == 0, "config: %s", e->msg);
	log_set_level(LOG_ERROR);
	snprintf(passed.name, sizeof(passed.name), "state");
	passed.fd = fd;
	store = (struct fdstore){.passed = &passed, .npassed = 1, .notify_fd = -1};
	rc = daemon_init(d, &cfg, true, &store, discard, e);
	if (rc < 0)
		config_free(&cfg);
	return rc;
}

/* d serves (the state is committed), then its process ends leaving the
 * state: the memfd as the fd store would keep it. */
static int leave(struct daemon *d)
{
	struct errbuf e;
	int fd;

	ck_assert_msg(state_started(&d->state, 0, 1000 + d->state.takeovers, &e) == 0, "%s", e.msg);
	fd = dup(d->state.fd);
	ck_assert_int_ge(fd, 0);
	daemon_fini(d);
	return fd;
}

/* A state of base, left. */
static int base_state(void)
{
	struct daemon d;
	struct errbuf e;

	ck_assert_msg(start(&d, base, -1, false, &e) == 0, "%s", e.msg);
	return leave(&d);
}

/* Every index right: objects[i]->index == i, regions likewise, names
 * resolve to their object (tombstones to nothing), a live object's region
 * in the table, groups' members live pools of the group's region whose
 * allocators the group's core group uses. */
static void check_table(const struct object_table *t)
{
	for (size_t i = 0; i < t->nregions; i++)
		ck_assert_uint_eq(t->regions[i]->index, i);
	for (size_t i = 0; i < t->nobjects; i++) {
		const struct object *o = t->objects[i];
		const struct object *named = object_table_find(t, o->name);

		ck_assert_uint_eq(o->index, i);
		/* A tombstone's name may be a new object's. */
		if (o->gone)
			ck_assert(named == NULL || (named != o && !named->gone));
		else
			ck_assert_ptr_eq(named, o);
		ck_assert_ptr_eq(t->regions[o->region->index], o->region);
		if (o->gone || o->kind != OBJ_GROUP)
			continue;
		for (size_t k = 0; k < o->u.group.mmb.num_allocators; k++) {
			const struct object *m = o->u.group.members[k];

			ck_assert_ptr_eq(object_table_find(t, m->name), m);
			ck_assert_ptr_eq(m->region, o->region);
			ck_assert_ptr_eq(o->u.group.mmb.allocators[k], &m->u.pool.mb);
		}
	}
}

static const struct object *at(const struct daemon *d, size_t i, const char *name, bool gone)
{
	const struct object *o;

	ck_assert_uint_lt(i, d->table.nobjects);
	o = d->table.objects[i];
	ck_assert_str_eq(o->name, name);
	ck_assert_int_eq(o->gone, gone);
	return o;
}

START_TEST(test_state_cold_start_then_same_config)
{
	struct daemon d;
	struct errbuf e;
	int fd = base_state();

	ck_assert_msg(start(&d, base, fd, false, &e) == 0, "%s", e.msg);
	ck_assert(d.state.taken_over);
	ck_assert_uint_eq(d.state.takeovers, 0);
	ck_assert_uint_eq(d.state.created_ms, 1000);
	check_table(&d.table);
	ck_assert_uint_eq(d.table.nobjects, 6);
	at(&d, 0, "p", false);
	at(&d, 3, "sp", false);
	at(&d, 5, "gi", false);
	ck_assert_int_eq(state_started(&d.state, 4242, 5000, &e), 0);
	ck_assert_uint_eq(d.state.takeovers, 1);
	ck_assert_uint_eq(d.state.last_takeover_ms, 5000);
	ck_assert_uint_eq(d.state.keeper_pid, 4242);
	ck_assert_uint_eq(d.state.created_ms, 1000);
	daemon_fini(&d);
}
END_TEST

/* The edited file renumbered as the state says: r's objects keep 0..2,
 * s and its pool are tombstones at 1 and 3 (the regions' and objects'),
 * g is a tombstone at 4, gi stays 5, n, np and g2 come after. */
START_TEST(test_state_reorders_the_table)
{
	struct daemon d;
	struct errbuf e;
	const struct object *g2, *np;
	int fd = base_state();

	ck_assert_msg(start(&d, edited, fd, false, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	ck_assert_uint_eq(d.table.nregions, 3);
	ck_assert_str_eq(d.table.regions[0]->cfg->name, "r");
	ck_assert(d.table.regions[1]->gone);
	ck_assert_int_eq(d.table.regions[1]->fd, -1);
	ck_assert_str_eq(d.table.regions[2]->cfg->name, "n");
	ck_assert_uint_eq(d.table.nobjects, 8);
	at(&d, 0, "p", false);
	at(&d, 1, "q", false);
	at(&d, 2, "h", false);
	ck_assert_ptr_eq(at(&d, 3, "sp", true)->region, d.table.regions[1]);
	ck_assert_int_eq(at(&d, 4, "g", true)->kind, OBJ_GROUP);
	at(&d, 5, "gi", false);
	np = at(&d, 6, "np", false);
	ck_assert_ptr_eq(np->region, d.table.regions[2]);
	g2 = at(&d, 7, "g2", false);
	ck_assert_ptr_eq(g2->u.group.members[0], d.table.objects[1]);
	ck_assert_ptr_eq(g2->u.group.members[1], d.table.objects[0]);
	/* The directory says the same, and the next takeover finds it so. */
	ck_assert_uint_eq(d.state.nobjects, 8);
	ck_assert_uint_eq(d.state.objects[3].flags, STATE_GONE);
	fd = leave(&d);
	ck_assert_msg(start(&d, edited, fd, false, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	ck_assert_uint_eq(d.table.nobjects, 8);
	at(&d, 4, "g", true);
	at(&d, 7, "g2", false);
	/* A name that comes back gets a new index: the books may hold the
	 * old one. */
	fd = leave(&d);
	ck_assert_msg(start(&d, base, fd, false, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	ck_assert_uint_eq(d.table.nregions, 4);
	at(&d, 3, "sp", true);
	at(&d, 4, "g", true);
	ck_assert_ptr_eq(object_table_find(&d.table, "sp"), d.table.objects[8]);
	ck_assert_ptr_eq(d.table.objects[8]->region, d.table.regions[3]);
	ck_assert_ptr_eq(object_table_find(&d.table, "g"), d.table.objects[9]);
	daemon_fini(&d);
}
END_TEST

/* object_table_reorder on its own: a non-reordering changes nothing. */
START_TEST(test_state_reorder_refuses_a_non_permutation)
{
	struct daemon d;
	struct errbuf e;
	struct region *rv[2];
	struct object *ov[6];

	ck_assert_msg(start(&d, base, -1, false, &e) == 0, "%s", e.msg);
	memcpy(rv, d.table.regions, sizeof(rv));
	memcpy(ov, d.table.objects, sizeof(ov));
	ov[1] = ov[0]; /* q missing, p twice */
	ck_assert_int_eq(object_table_reorder(&d.table, rv, 2, ov, 6), -EINVAL);
	ov[1] = d.table.objects[2];
	ov[2] = d.table.objects[1]; /* a real one: q and h swap */
	ck_assert_int_eq(object_table_reorder(&d.table, rv, 1, ov, 6), -EINVAL); /* s lost */
	check_table(&d.table);
	ck_assert_str_eq(d.table.objects[1]->name, "q");
	daemon_fini(&d);
}
END_TEST

/* Each refused with the state's value, the configuration's, and the way
 * out; the table is not built. */
static const struct {
	const char *from, *to, *says;
} layouts[] = {
    {"blocks = 100;", "blocks = 128;",
     "state: pool 'p' is 100 blocks of 64 B at offset 0 (shared bits at 0) in the state, "
     "128 blocks of 64 B at offset 0 (shared bits at 0) in next.conf"},
    {"size = \"1M\"", "size = \"2M\"",
     "state: region 'r' is 1048576 bytes with 24 bytes of shared bits in the state, 2097152 "
     "bytes with 24 bytes of shared bits in next.conf"},
    {"granule = 64", "granule = 128",
     "state: heap 'h' is 65536 B at offset 65536, granule 64, max_allocs 64 in the state, "
     "65536 B at offset 65536, granule 128, max_allocs 64 in next.conf"},
    {"pools = ( { name = \"sp\"; block_size = 64; blocks = 8; } );",
     "heaps = ( { name = \"sp\"; size = \"4K\"; } );",
     "state: 'sp' is a pool in the state, a heap in next.conf"},
};

START_TEST(test_state_other_layout_refused)
{
	struct daemon d;
	struct errbuf e;
	int fd = base_state(), again = dup(fd);
	const char *text = with(base, layouts[_i].from, layouts[_i].to);

	ck_assert_int_eq(start(&d, text, fd, false, &e), -EINVAL);
	ck_assert_msg(strstr(e.msg, layouts[_i].says) != NULL, "said: %s", e.msg);
	ck_assert_msg(strstr(e.msg, ": " STATE_DISCARD_HINT) != NULL, "said: %s", e.msg);
	/* With --discard-state: a cold start in the configuration's order. */
	ck_assert_msg(start(&d, text, again, true, &e) == 0, "%s", e.msg);
	ck_assert(!d.state.taken_over);
	check_table(&d.table);
	daemon_fini(&d);
}
END_TEST

/* Damage at a byte offset of the memfd (a length to cut it to when
 * `cut`), and what it must be called. */
enum damage { CUT, CUT_TO_DIR, WRITE, FORMAT, FLIP_SLOT, FLIP_DIR };

static const struct {
	enum damage how;
	uint64_t at;
	const char *says;
	int rc;
} damages[] = {
    {CUT, 100, "state: truncated: 100 bytes, smaller than its 4096-byte header", -EINVAL},
    {CUT, 10, "state: truncated: 10 bytes, smaller than its 4096-byte header", -EINVAL},
    {CUT, 0, "state: truncated: 0 bytes", -EINVAL},
    {CUT_TO_DIR, 10, "state: truncated: 4106 bytes, its header says", -EINVAL},
    {WRITE, 0, "state: bad magic: not an allocatord state", -EINVAL},
    {FORMAT, 3, "state format 3 is newer than this allocatord (format 1)", -ENOEXEC},
    {FORMAT, 0, "state: format 0 with a 4096-byte header is damaged", -EINVAL},
    {FLIP_SLOT, 8, "state: header hash mismatch: the header is damaged", -EINVAL},
    {FLIP_SLOT, 40, "state: header hash mismatch: the header is damaged", -EINVAL},
    {FLIP_DIR, 1, "state: directory hash mismatch: the directory is damaged", -EINVAL},
};

static void damage(int fd, unsigned i)
{
	struct state_slot s;
	uint8_t b;
	uint32_t v = (uint32_t) damages[i].at;

	ck_assert_int_eq(pread(fd, &s, sizeof(s), STATE_SLOT_OFFSET(0)), sizeof(s));
	switch (damages[i].how) {
	case CUT:
		ck_assert_int_eq(ftruncate(fd, (off_t) damages[i].at), 0);
		break;
	case CUT_TO_DIR:
		ck_assert_int_eq(ftruncate(fd, (off_t) (s.dir_offset + damages[i].at)), 0);
		break;
	case WRITE:
		ck_assert_int_eq(pwrite(fd, "NOTSTATE", 8, (off_t) damages[i].at), 8);
		break;
	case FORMAT:
		ck_assert_int_eq(pwrite(fd, &v, 4, 8), 4);
		break;
	case FLIP_SLOT:
	case FLIP_DIR: {
		off_t off =
		    (off_t) ((damages[i].how == FLIP_SLOT ? STATE_SLOT_OFFSET(0) : s.dir_offset) +
			     damages[i].at);

		ck_assert_int_eq(pread(fd, &b, 1, off), 1);
		b ^= 0x10;
		ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
		break;
	}
	}
}

START_TEST(test_state_damage_refused)
{
	struct daemon d;
	struct errbuf e;
	int fd = base_state(), again;

	damage(fd, (unsigned) _i);
	again = dup(fd);
	ck_assert_int_eq(start(&d, base, fd, false, &e), damages[_i].rc);
	ck_assert_msg(strstr(e.msg, damages[_i].says) != NULL, "said: %s", e.msg);
	ck_assert_msg(strstr(e.msg, STATE_DISCARD_HINT) != NULL, "said: %s", e.msg);
	ck_assert_msg(start(&d, base, again, true, &e) == 0, "%s", e.msg);
	ck_assert(!d.state.taken_over);
	ck_assert_uint_eq(d.state.takeovers, 0);
	daemon_fini(&d);
}
END_TEST

/* Books that do not fit, with --discard-state: the taken-over state
 * becomes a new one of the same table, no takeover counted, and the next
 * takeover finds it so. */
START_TEST(test_state_drop_keeps_the_table)
{
	struct daemon d;
	struct errbuf e;
	struct stat was, now;
	int fd = base_state();

	ck_assert_msg(start(&d, base, fd, false, &e) == 0, "%s", e.msg);
	fd = leave(&d); /* one takeover */
	ck_assert_msg(start(&d, edited, fd, false, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(d.state.takeovers, 1);
	ck_assert_int_eq(fstat(d.state.fd, &was), 0);
	ck_assert_int_eq(state_drop(&d.state, &e), 0);
	ck_assert(!d.state.taken_over);
	ck_assert_int_eq(fstat(d.state.fd, &now), 0);
	ck_assert_uint_ne(now.st_ino, was.st_ino); /* a new memfd */
	ck_assert_uint_eq(d.state.nobjects, 8);
	ck_assert_int_eq(state_started(&d.state, 0, 7000, &e), 0);
	ck_assert_uint_eq(d.state.takeovers, 0);
	ck_assert_uint_eq(d.state.created_ms, 7000);
	fd = leave(&d);
	ck_assert_msg(start(&d, edited, fd, false, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	at(&d, 3, "sp", true);
	at(&d, 7, "g2", false);
	ck_assert_uint_eq(d.state.created_ms, 7000);
	daemon_fini(&d);
}
END_TEST

/* A serving process killed while it wrote a header slot leaves the other:
 * the state before that change, whole. */
START_TEST(test_state_torn_slot_falls_back)
{
	struct daemon d;
	struct errbuf e;
	int fd = base_state();
	uint8_t b = 0;

	ck_assert_msg(start(&d, base, fd, false, &e) == 0, "%s", e.msg);
	fd = leave(&d); /* slot 1: one takeover */
	ck_assert_int_eq(pwrite(fd, &b, 1, STATE_SLOT_OFFSET(1) + 56), 1);
	ck_assert_msg(start(&d, base, fd, false, &e) == 0, "%s", e.msg);
	ck_assert(d.state.taken_over);
	ck_assert_uint_eq(d.state.takeovers, 0); /* slot 0's */
	check_table(&d.table);
	daemon_fini(&d);
}
END_TEST

/* What a reload adds and removes is in the state at once: a takeover
 * with the reloaded file numbers everything as the reload did. */
START_TEST(test_state_follows_reloads)
{
	static const char text[] =
	    "log_level = \"error\";\n"
	    "regions = (\n"
	    "  { name = \"r\"; size = \"1M\";\n"
	    "    pools = ( { name = \"p\"; block_size = 64; blocks = 100; },\n"
	    "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512; } );\n"
	    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64; } ); },\n"
	    "  { name = \"t\"; pools = ( { name = \"tp\"; block_size = 64; blocks = 8; } ); },\n"
	    "  { name = \"s\"; size = \"64K\";\n"
	    "    pools = ( { name = \"sp\"; block_size = 64; blocks = 8; } ); }\n"
	    ");\n"
	    "groups = ( { name = \"gi\"; pools = [ \"p\", \"q\" ]; choice = \"index\"; } );\n";
	struct daemon d;
	struct errbuf e;
	struct config next;
	struct reload r;
	int fd;

	ck_assert_msg(start(&d, base, -1, false, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(state_started(&d.state, 0, 1000, &e), 0);
	ck_assert_msg(config_load_string(text, "next.conf", &next, e.msg, sizeof(e.msg)) == 0, "%s",
		      e.msg);
	ck_assert_msg(reload_check(&d, &next, &r, &e) == 0, "%s", e.msg);
	ck_assert_msg(reload_apply(&d, &r, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(d.state.nobjects, 7);
	ck_assert_uint_eq(d.state.objects[4].flags, STATE_GONE); /* g */
	fd = dup(d.state.fd);
	daemon_fini(&d); /* no state_started: the reload's commit is what counts */
	ck_assert_msg(start(&d, text, fd, false, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	at(&d, 4, "g", true);
	at(&d, 6, "tp", false);
	ck_assert_uint_eq(d.table.nregions, 3);
	daemon_fini(&d);
}
END_TEST

/* A region the takeover made a tombstone (s, dropped by the edited file)
 * has no configuration: a reload that adds a region after it must not
 * look at its name. */
START_TEST(test_state_reload_after_a_dropped_region)
{
	static const char region_t[] =
	    "  { name = \"t\"; pools = ( { name = \"tp\"; block_size = 64; blocks = 8; } ); },\n"
	    "  { name = \"r\"; size = \"1M\";\n";
	struct daemon d;
	struct errbuf e;
	struct config next;
	struct reload r;
	int fd = base_state();

	ck_assert_msg(start(&d, edited, fd, false, &e) == 0, "%s", e.msg);
	ck_assert_msg(
	    config_load_string(with(edited, "  { name = \"r\"; size = \"1M\";\n", region_t),
			       "next.conf", &next, e.msg, sizeof(e.msg)) == 0,
	    "%s", e.msg);
	ck_assert_msg(reload_check(&d, &next, &r, &e) == 0, "%s", e.msg);
	ck_assert_msg(reload_apply(&d, &r, &e) == 0, "%s", e.msg);
	check_table(&d.table);
	ck_assert_uint_eq(d.table.nregions, 4);
	ck_assert_str_eq(d.table.regions[3]->cfg->name, "t");
	at(&d, 8, "tp", false);
	ck_assert_uint_eq(d.state.nregions, 4);
	daemon_fini(&d);
}
END_TEST

/* FNV-1a 64 as state.h defines it: an implementation of the format of its
 * own, so that the fuzz below can make damage look intact. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= ((const uint8_t *) p)[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Random bytes of the header and the directory changed, the hashes then
 * made right half of the time: daemon_init either refuses with a message
 * or builds a table whose every index is right. Never a crash (ASan and
 * valgrind runs see any read out of bounds). */
START_TEST(test_state_fuzz_never_crashes)
{
	uint64_t seed = test_seed("state fuzz");
	struct test_rng rng;
	struct state_slot s;
	uint8_t *tpl;
	int fd = base_state(), taken = 0, refused = 0;
	size_t total;

	test_rng_init(&rng, seed);
	ck_assert_int_eq(pread(fd, &s, sizeof(s), STATE_SLOT_OFFSET(0)), sizeof(s));
	total = (size_t) s.total_size;
	tpl = malloc(total);
	ck_assert_int_eq(pread(fd, tpl, total, 0), (ssize_t) total);
	close(fd);
	for (int n = 0; n < 400; n++) {
		uint8_t *b = malloc(total);
		struct state_slot *sl = (struct state_slot *) (b + STATE_SLOT_OFFSET(0));
		struct daemon d;
		struct errbuf e;
		int flips = 1 + (int) test_rng_below(&rng, 4), rc;

		memcpy(b, tpl, total);
		for (int k = 0; k < flips; k++) {
			/* The slot or the directory, mostly: the rest is padding. */
			size_t off = test_rng_below(&rng, 2)
					 ? STATE_SLOT_OFFSET(0) + test_rng_below(&rng, sizeof(s))
					 : s.dir_offset + test_rng_below(&rng, s.dir_size);

			b[off] ^= (uint8_t) (1u << test_rng_below(&rng, 8));
		}
		if (test_rng_below(&rng, 2)) {
			if (sl->dir_offset <= total && sl->dir_size <= total - sl->dir_offset)
				sl->dir_hash = fnv(UINT64_C(0xcbf29ce484222325), b + sl->dir_offset,
						   sl->dir_size);
			sl->hash =
			    fnv(fnv(UINT64_C(0xcbf29ce484222325), b, sizeof(struct state_prefix)),
				sl, offsetof(struct state_slot, hash));
		}
		fd = memfd_create("state-fuzz", MFD_CLOEXEC);
		ck_assert_int_eq(write(fd, b, total), (ssize_t) total);
		free(b);
		rc = start(&d, base, fd, false, &e);
		if (rc == 0) {
			check_table(&d.table);
			daemon_fini(&d);
			taken++;
		} else {
			ck_assert_msg(strstr(e.msg, "state") != NULL, "said: %s", e.msg);
			refused++;
		}
	}
	free(tpl);
	/* Both sides were reached: flips in padding or names pass, most
	 * others are refused. */
	ck_assert_int_gt(refused, 0);
	ck_assert_int_gt(taken, 0);
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, test_state_cold_start_then_same_config);
	tcase_add_test(tc, test_state_reorders_the_table);
	tcase_add_test(tc, test_state_reorder_refuses_a_non_permutation);
	tcase_add_loop_test(tc, test_state_other_layout_refused, 0,
			    sizeof(layouts) / sizeof(layouts[0]));
	tcase_add_loop_test(tc, test_state_damage_refused, 0, sizeof(damages) / sizeof(damages[0]));
	tcase_add_test(tc, test_state_torn_slot_falls_back);
	tcase_add_test(tc, test_state_drop_keeps_the_table);
	tcase_add_test(tc, test_state_follows_reloads);
	tcase_add_test(tc, test_state_reload_after_a_dropped_region);
	tcase_add_test(tc, test_state_fuzz_never_crashes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
