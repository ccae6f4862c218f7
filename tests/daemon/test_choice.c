/*
 * choice: the built-in choice functions, chosen through a real group
 * (sys_multi_mem_blocks_alloc) so that what is checked is the pool that
 * serves; and the plug-in loader, against the example plug-in and the broken
 * ones in tests/daemon/plugins/ (found under $top_builddir, which make check
 * exports).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/choice.h"
#include "tests/daemon/check_daemon.h"

#define MAX_POOLS  4
#define MAX_BLOCKS 16 /* per pool, and per allocation */
#define ERRLEN     512
#define PATHLEN    4096

#define PLUGIN_DIR "tests/daemon/plugins/.libs/"
#define BY_UID_SO  "examples/plugins/.libs/by_uid.so"

struct pool_spec {
	size_t blk_sz;
	size_t blocks;
};

/* A group of pools over malloc'ed buffers, and its choice function. */
struct fixture {
	sys_multi_mem_blocks_t group;
	sys_mem_blocks_t pools[MAX_POOLS];
	uint8_t *bufs[MAX_POOLS];
	size_t n;
	struct choice choice;
};

static void fixture_setup(struct fixture *f, const struct pool_spec *spec, size_t n)
{
	ck_assert_uint_le(n, MAX_POOLS);
	memset(f, 0, sizeof(*f));
	sys_multi_mem_blocks_init(&f->group, NULL);
	for (size_t i = 0; i < n; i++) {
		int rc;

		ck_assert_uint_le(spec[i].blocks, MAX_BLOCKS);
		f->bufs[i] = malloc(spec[i].blk_sz * spec[i].blocks);
		ck_assert_ptr_nonnull(f->bufs[i]);
		rc = sys_mem_blocks_init(&f->pools[i], spec[i].blk_sz, spec[i].blocks, f->bufs[i]);
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(sys_multi_mem_blocks_add_allocator(&f->group, &f->pools[i]), 0);
		f->n++;
	}
}

static void fixture_teardown(struct fixture *f)
{
	choice_close(&f->choice);
	sys_multi_mem_blocks_deinit(&f->group);
	for (size_t i = 0; i < f->n; i++) {
		sys_mem_blocks_deinit(&f->pools[i]);
		free(f->bufs[i]);
	}
}

static void open_builtin(struct fixture *f, const char *name)
{
	char err[ERRLEN] = "";
	int rc = choice_open(&f->choice, &f->group, name, NULL, NULL, err, sizeof(err));

	ck_assert_msg(rc == 0, "choice_open(%s) = %d: %s", name, rc, err);
	ck_assert_str_eq(f->choice.desc->name, name);
	ck_assert_msg(f->group.choice_fn == f->choice.desc->choose,
		      "choice_open did not install %s's choose in the group", name);
}

/* Index of the pool that owns p, or -1. */
static int pool_of(const struct fixture *f, const void *p)
{
	uintptr_t a = (uintptr_t) p;

	for (size_t i = 0; i < f->n; i++) {
		uintptr_t lo = (uintptr_t) f->bufs[i];
		uintptr_t hi = lo + f->pools[i].info.blk_sz * f->pools[i].info.num_blocks;

		if (a >= lo && a < hi)
			return (int) i;
	}
	return -1;
}

/* Allocate cfg->count blocks through the group; they stay allocated.
 * Returns the index of the pool that served them, or the negative errno. */
static int alloc_cfg(struct fixture *f, struct allocatord_choice_cfg *cfg)
{
	void *blocks[MAX_BLOCKS];
	size_t blk_size = 0;
	int rc, served;

	ck_assert_uint_le(cfg->count, MAX_BLOCKS);
	cfg->state = f->choice.state;
	rc = sys_multi_mem_blocks_alloc(&f->group, cfg, cfg->count, blocks, &blk_size);
	if (rc != 0)
		return rc;
	served = pool_of(f, blocks[0]);
	ck_assert_int_ge(served, 0);
	for (size_t i = 1; i < cfg->count; i++)
		ck_assert_int_eq(pool_of(f, blocks[i]), served);
	ck_assert_uint_eq(blk_size, f->pools[served].info.blk_sz);
	return served;
}

static int alloc_hint(struct fixture *f, uint64_t hint, size_t count)
{
	struct allocatord_choice_cfg cfg = {.hint = hint, .count = count, .uid = 1000, .pid = 1};

	return alloc_cfg(f, &cfg);
}

static int alloc_uid(struct fixture *f, uid_t uid, size_t count)
{
	struct allocatord_choice_cfg cfg = {.count = count, .uid = uid, .gid = 100, .pid = 1};

	return alloc_cfg(f, &cfg);
}

/* What the group's choice function picks now: a pool index, -1 for NULL,
 * -2 for a pool that is not a member. */
static int chosen(struct fixture *f, uint64_t hint, size_t count)
{
	struct allocatord_choice_cfg cfg = {.hint = hint, .count = count, .state = f->choice.state};
	sys_mem_blocks_t *mb = f->group.choice_fn(&f->group, &cfg);

	if (mb == NULL)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (mb == &f->pools[i])
			return (int) i;
	return -2;
}

/* Take blocks from pool i directly until `leave` are free. */
static void fill(struct fixture *f, size_t i, size_t leave)
{
	void *blocks[MAX_BLOCKS];
	size_t nfree = sys_mem_blocks_free_count(&f->pools[i]);

	ck_assert_uint_ge(nfree, leave);
	ck_assert_int_eq(sys_mem_blocks_alloc(&f->pools[i], nfree - leave, blocks), 0);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&f->pools[i]), leave);
}

static void assert_zeroed(const struct choice *c)
{
	ck_assert_ptr_null(c->desc);
	ck_assert_ptr_null(c->dl);
	ck_assert_ptr_null(c->state);
}

/* $top_builddir/rel; fails the test clearly when the harness did not set it
 * or the file was not built. */
static void built_path(char *buf, size_t len, const char *rel)
{
	const char *top = getenv("top_builddir");
	int n;

	ck_assert_msg(top != NULL && top[0] != '\0',
		      "top_builddir is not set: run through make check, or export "
		      "top_builddir=<the build directory>");
	n = snprintf(buf, len, "%s/%s", top, rel);
	ck_assert_msg(n > 0 && (size_t) n < len, "path too long: %s/%s", top, rel);
	ck_assert_msg(access(buf, R_OK) == 0, "%s is not there: was it built?", buf);
}

static void assert_not_loaded(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (h != NULL)
		dlclose(h);
	ck_assert_msg(h == NULL, "%s is still loaded", path);
}

static void assert_mentions(const char *err, const char *what)
{
	ck_assert_msg(strstr(err, what) != NULL, "message '%s' does not contain '%s'", err, what);
}

/*
 * Open the plug-in at path in a fresh one-pool group, expecting a refusal:
 * the errno, and the struct zeroed, the group untouched, the object unloaded.
 * The message is left in err.
 */
static void expect_refused(const char *path, const char *arg, int want, char *err)
{
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;
	int rc;

	fixture_setup(&f, spec, 1);
	memset(&f.choice, 0xa5, sizeof(f.choice)); /* choice_open must zero it */
	rc = choice_open(&f.choice, &f.group, NULL, path, arg, err, ERRLEN);
	ck_assert_msg(rc == want, "choice_open(%s) = %d (%s), want %d; message '%s'", path, rc,
		      strerror(-rc), want, err);
	assert_zeroed(&f.choice);
	ck_assert_msg(f.group.choice_fn == NULL, "a refused choice was installed in the group");
	assert_not_loaded(path);
	assert_mentions(err, path);
	fixture_teardown(&f);
}

/* ---- by_size ---- */

/* Config order is not size order, so "first that fits" is not "smallest". */
enum { P256, P64, P128 };
static const struct pool_spec by_size_pools[] = {{256, 8}, {64, 8}, {128, 8}};

START_TEST(test_choice_by_size_exact_fit)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	ck_assert_int_eq(alloc_hint(&f, 64, 1), P64);
	ck_assert_int_eq(alloc_hint(&f, 128, 1), P128);
	ck_assert_int_eq(alloc_hint(&f, 256, 1), P256);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_next_larger)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	ck_assert_int_eq(alloc_hint(&f, 1, 1), P64);
	ck_assert_int_eq(alloc_hint(&f, 65, 1), P128);
	ck_assert_int_eq(alloc_hint(&f, 100, 1), P128);
	ck_assert_int_eq(alloc_hint(&f, 129, 1), P256);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_hint_zero)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	ck_assert_int_eq(alloc_hint(&f, 0, 1), P64);
	fill(&f, P64, 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), P128);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_falls_back_when_full)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	fill(&f, P128, 0);
	ck_assert_int_eq(alloc_hint(&f, 128, 1), P256);
	fill(&f, P64, 0);
	ck_assert_int_eq(alloc_hint(&f, 64, 1), P256);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_counts_blocks)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	fill(&f, P128, 3);
	ck_assert_int_eq(alloc_hint(&f, 128, 4), P256);
	ck_assert_int_eq(alloc_hint(&f, 128, 3), P128);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_enomem_when_fitting_full)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	fill(&f, P128, 0);
	fill(&f, P256, 0);
	/* P64 has room but its blocks are too small: full, not "no such size". */
	ck_assert_int_eq(alloc_hint(&f, 100, 1), -ENOMEM);
	ck_assert_int_eq(chosen(&f, 100, 1), P128);
	ck_assert_uint_eq(sys_mem_blocks_free_count(&f.pools[P64]), 8);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_einval_when_too_large)
{
	struct fixture f;
	void *block;
	size_t blk_size = 99;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "by_size");
	ck_assert_int_eq(alloc_hint(&f, 257, 1), -EINVAL);
	ck_assert_int_eq(alloc_hint(&f, UINT64_MAX, 1), -EINVAL);
	/* No cfg at all: nothing to choose by. */
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, NULL, 1, &block, &blk_size), -EINVAL);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(sys_mem_blocks_free_count(&f.pools[i]), 8);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_by_size_ties_to_lowest_index)
{
	static const struct pool_spec spec[] = {{128, 4}, {64, 4}, {128, 4}};
	struct fixture f;

	fixture_setup(&f, spec, 3);
	open_builtin(&f, "by_size");
	ck_assert_int_eq(alloc_hint(&f, 100, 1), 0);
	fill(&f, 0, 0);
	ck_assert_int_eq(alloc_hint(&f, 100, 1), 2);
	/* Both full: the lowest index of the smallest fitting size again. */
	fill(&f, 2, 0);
	ck_assert_int_eq(alloc_hint(&f, 100, 1), -ENOMEM);
	ck_assert_int_eq(chosen(&f, 100, 1), 0);
	fixture_teardown(&f);
}
END_TEST

/* ---- round_robin ---- */

static const struct pool_spec rr_pools[] = {{64, 4}, {64, 4}, {128, 4}};

START_TEST(test_choice_round_robin_cycles)
{
	struct fixture f;

	fixture_setup(&f, rr_pools, 3);
	open_builtin(&f, "round_robin");
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(alloc_hint(&f, 999, 1), i);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_round_robin_skips_full)
{
	struct fixture f;

	fixture_setup(&f, rr_pools, 3);
	open_builtin(&f, "round_robin");
	fill(&f, 1, 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 2);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 2);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_round_robin_counts_blocks)
{
	struct fixture f;

	fixture_setup(&f, rr_pools, 3);
	open_builtin(&f, "round_robin");
	fill(&f, 1, 1);
	ck_assert_int_eq(alloc_hint(&f, 0, 2), 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 2), 2); /* room for 1 is not room for 2 */
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 1);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_round_robin_enomem_when_all_full)
{
	struct fixture f;

	fixture_setup(&f, rr_pools, 3);
	open_builtin(&f, "round_robin");
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	for (size_t i = 0; i < 3; i++)
		fill(&f, i, 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), -ENOMEM);
	/* The member after the previous choice, and the turn does not move. */
	ck_assert_int_eq(chosen(&f, 0, 1), 1);
	ck_assert_int_eq(chosen(&f, 0, 1), 1);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_round_robin_groups_independent)
{
	struct fixture a, b;

	fixture_setup(&a, rr_pools, 3);
	fixture_setup(&b, rr_pools, 3);
	open_builtin(&a, "round_robin");
	open_builtin(&b, "round_robin");
	ck_assert_ptr_ne(a.choice.state, b.choice.state);
	ck_assert_int_eq(alloc_hint(&a, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&a, 0, 1), 1);
	ck_assert_int_eq(alloc_hint(&b, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&a, 0, 1), 2);
	ck_assert_int_eq(alloc_hint(&b, 0, 1), 1);
	fixture_teardown(&a);
	fixture_teardown(&b);
}
END_TEST

/* ---- most_free ---- */

START_TEST(test_choice_most_free_picks_emptiest)
{
	static const struct pool_spec spec[] = {{64, 8}, {64, 8}, {64, 8}};
	struct fixture f;

	fixture_setup(&f, spec, 3);
	open_builtin(&f, "most_free");
	fill(&f, 0, 2);
	fill(&f, 2, 5);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 1); /* 8 free */
	fill(&f, 1, 4);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 2); /* 5 free against 4 */
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_most_free_counts_blocks_not_bytes)
{
	/* 8 x 64 = 512 bytes against 4 x 1024 = 4096 bytes: blocks decide. */
	static const struct pool_spec spec[] = {{1024, 4}, {64, 8}};
	struct fixture f;

	fixture_setup(&f, spec, 2);
	open_builtin(&f, "most_free");
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 1);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_most_free_ties_to_lowest_index)
{
	static const struct pool_spec spec[] = {{64, 4}, {64, 4}, {64, 4}};
	struct fixture f;

	fixture_setup(&f, spec, 3);
	open_builtin(&f, "most_free");
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 1);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 2);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_most_free_enomem_when_all_full)
{
	static const struct pool_spec spec[] = {{64, 4}, {64, 4}};
	struct fixture f;

	fixture_setup(&f, spec, 2);
	open_builtin(&f, "most_free");
	fill(&f, 0, 1);
	fill(&f, 1, 1);
	ck_assert_int_eq(alloc_hint(&f, 0, 2), -ENOMEM);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	fixture_teardown(&f);
}
END_TEST

/* ---- index ---- */

START_TEST(test_choice_index_each_member)
{
	struct fixture f;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "index");
	ck_assert_int_eq(alloc_hint(&f, 2, 1), 2);
	ck_assert_int_eq(alloc_hint(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_hint(&f, 1, 2), 1);
	fill(&f, 1, 0);
	ck_assert_int_eq(alloc_hint(&f, 1, 1), -ENOMEM);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_index_out_of_range)
{
	struct fixture f;
	void *block;
	size_t blk_size = 99;

	fixture_setup(&f, by_size_pools, 3);
	open_builtin(&f, "index");
	ck_assert_int_eq(alloc_hint(&f, 3, 1), -EINVAL);
	ck_assert_int_eq(alloc_hint(&f, UINT64_MAX, 1), -EINVAL);
	ck_assert_int_eq(alloc_hint(&f, (uint64_t) 1 << 32, 1), -EINVAL);
	ck_assert_int_eq(sys_multi_mem_blocks_alloc(&f.group, NULL, 1, &block, &blk_size), -EINVAL);
	fixture_teardown(&f);
}
END_TEST

/* ---- every built-in ---- */

START_TEST(test_choice_empty_group_chooses_nothing)
{
	static const char *const names[] = {"by_size", "round_robin", "most_free", "index"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fixture f;

		fixture_setup(&f, NULL, 0);
		open_builtin(&f, names[i]);
		ck_assert_msg(alloc_hint(&f, 0, 1) == -EINVAL, "%s chose a pool in an empty group",
			      names[i]);
		fixture_teardown(&f);
	}
}
END_TEST

/* ---- opening built-ins ---- */

START_TEST(test_choice_unknown_builtin)
{
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;
	char err[ERRLEN] = "";

	fixture_setup(&f, spec, 1);
	memset(&f.choice, 0xa5, sizeof(f.choice));
	ck_assert_int_eq(choice_open(&f.choice, &f.group, "xyz", NULL, NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "unknown choice function 'xyz' "
			      "(built in: by_size, round_robin, most_free, index)");
	assert_zeroed(&f.choice);
	ck_assert_msg(f.group.choice_fn == NULL, "an unknown choice was installed in the group");
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_name_or_plugin)
{
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;
	char err[ERRLEN] = "";

	fixture_setup(&f, spec, 1);
	ck_assert_int_eq(choice_open(&f.choice, &f.group, NULL, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "give either choice or plugin");
	err[0] = '\0';
	ck_assert_int_eq(choice_open(&f.choice, &f.group, "index", "/x.so", NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "give either choice or plugin");
	assert_zeroed(&f.choice);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_message_truncated)
{
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;
	char err[8];

	fixture_setup(&f, spec, 1);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(choice_open(&f.choice, &f.group, "xyz", NULL, NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "unknown");
	/* No buffer at all is fine too. */
	ck_assert_int_eq(choice_open(&f.choice, &f.group, "xyz", NULL, NULL, NULL, 0), -ENOENT);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_close_safe)
{
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;
	struct choice zero = {0};

	choice_close(&zero);
	assert_zeroed(&zero);
	choice_close(&zero);
	choice_close(NULL);

	/* round_robin has a fini and state: closed twice, freed once. */
	fixture_setup(&f, spec, 1);
	open_builtin(&f, "round_robin");
	ck_assert_ptr_nonnull(f.choice.state);
	choice_close(&f.choice);
	assert_zeroed(&f.choice);
	choice_close(&f.choice);
	assert_zeroed(&f.choice);
	fixture_teardown(&f);
}
END_TEST

/* ---- plug-ins ---- */

static const struct pool_spec uid_pools[] = {{64, 4}, {64, 4}, {64, 4}};

static void open_by_uid(struct fixture *f, const char *path, const char *arg)
{
	char err[ERRLEN] = "";
	int rc = choice_open(&f->choice, &f->group, NULL, path, arg, err, sizeof(err));

	ck_assert_msg(rc == 0, "choice_open(%s, %s) = %d: %s", path, arg ? arg : "NULL", rc, err);
	ck_assert_ptr_nonnull(f->choice.dl);
	ck_assert_str_eq(f->choice.desc->name, "by_uid");
	ck_assert_msg(f->group.choice_fn == f->choice.desc->choose,
		      "choice_open did not install the plug-in's choose in the group");
}

START_TEST(test_choice_plugin_by_uid)
{
	struct fixture f;
	char path[PATHLEN];

	built_path(path, sizeof(path), BY_UID_SO);
	fixture_setup(&f, uid_pools, 3);
	open_by_uid(&f, path, NULL);
	ck_assert_int_eq(alloc_uid(&f, 0, 1), 0);
	ck_assert_int_eq(alloc_uid(&f, 1001, 1), 1001 % 3);
	ck_assert_int_eq(alloc_uid(&f, 4, 1), 1);
	/* uid 1's pool (1) is full: the next one with room. */
	fill(&f, 1, 0);
	ck_assert_int_eq(alloc_uid(&f, 1, 1), 2);
	/* Pool 2 has 1 free, not 2: on to the last one tried, pool 0. */
	fill(&f, 2, 1);
	ck_assert_int_eq(alloc_uid(&f, 1, 2), 0);
	/* uid 2: its own pool while it has room, then wraps to pool 0. */
	ck_assert_int_eq(alloc_uid(&f, 2, 1), 2);
	ck_assert_int_eq(alloc_uid(&f, 2, 1), 0);
	ck_assert_int_eq(alloc_uid(&f, 2, 1), -ENOMEM);
	choice_close(&f.choice);
	assert_zeroed(&f.choice);
	assert_not_loaded(path);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_plugin_by_uid_no_fallback)
{
	struct fixture f;
	char path[PATHLEN];

	built_path(path, sizeof(path), BY_UID_SO);
	fixture_setup(&f, uid_pools, 3);
	open_by_uid(&f, path, "fallback=no");
	ck_assert_int_eq(alloc_uid(&f, 1, 1), 1);
	fill(&f, 1, 0);
	ck_assert_int_eq(alloc_uid(&f, 1, 1), -ENOMEM);
	ck_assert_int_eq(alloc_uid(&f, 2, 1), 2);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_choice_plugin_state_per_group)
{
	struct fixture a, b;
	char path[PATHLEN];

	built_path(path, sizeof(path), BY_UID_SO);
	fixture_setup(&a, uid_pools, 3);
	fixture_setup(&b, uid_pools, 3);
	open_by_uid(&a, path, "fallback=yes");
	open_by_uid(&b, path, "fallback=no");
	fill(&a, 1, 0);
	fill(&b, 1, 0);
	ck_assert_int_eq(alloc_uid(&a, 1, 1), 2);
	ck_assert_int_eq(alloc_uid(&b, 1, 1), -ENOMEM);
	/* One object, two users: closing one group keeps it for the other. */
	choice_close(&a.choice);
	ck_assert_int_eq(alloc_uid(&b, 2, 1), 2);
	fixture_teardown(&a);
	fixture_teardown(&b);
	assert_not_loaded(path);
}
END_TEST

START_TEST(test_choice_plugin_bad_arg)
{
	char path[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";

	built_path(path, sizeof(path), BY_UID_SO);
	expect_refused(path, "fallback=maybe", -EINVAL, err);
	snprintf(want, sizeof(want), "%s: init failed: %s", path, strerror(EINVAL));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_choice_plugin_bad_abi)
{
	char path[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";

	built_path(path, sizeof(path), PLUGIN_DIR "bad_abi.so");
	expect_refused(path, NULL, -ELIBBAD, err);
	snprintf(want, sizeof(want), "%s: ABI version 999, this allocatord speaks %u", path,
		 ALLOCATORD_CHOICE_ABI_VERSION);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_choice_plugin_no_symbol)
{
	char path[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";

	built_path(path, sizeof(path), PLUGIN_DIR "no_symbol.so");
	expect_refused(path, NULL, -ELIBBAD, err);
	snprintf(want, sizeof(want), "%s: no symbol 'allocatord_choice'", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_choice_plugin_no_choose)
{
	char path[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";

	built_path(path, sizeof(path), PLUGIN_DIR "no_choose.so");
	expect_refused(path, NULL, -ELIBBAD, err);
	snprintf(want, sizeof(want), "%s: 'allocatord_choice' has no choose function", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* init_fails.so's fini aborts: this test also proves fini does not run. */
START_TEST(test_choice_plugin_init_fails)
{
	char path[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";

	built_path(path, sizeof(path), PLUGIN_DIR "init_fails.so");
	expect_refused(path, "anything", -EINVAL, err);
	snprintf(want, sizeof(want), "%s: init failed: %s", path, strerror(EINVAL));
	ck_assert_str_eq(err, want);
}
END_TEST

/* A name without a slash is an installed plug-in: looked for in
 * $ALLOCATORD_PLUGIN_DIR, else in the package's plug-in directory, and the
 * messages name the file tried. */
START_TEST(test_choice_plugin_bare_name_searched_in_plugin_dir)
{
	char dir[PATHLEN], want[PATHLEN + 64], err[ERRLEN] = "";
	static const struct pool_spec spec[] = {{64, 4}};
	struct fixture f;

	built_path(dir, sizeof(dir), PLUGIN_DIR);
	setenv("ALLOCATORD_PLUGIN_DIR", dir, 1);
	fixture_setup(&f, spec, 1);
	ck_assert_int_eq(choice_open(&f.choice, &f.group, NULL, "bad_abi.so", NULL, err, ERRLEN),
			 -ELIBBAD);
	snprintf(want, sizeof(want), "%s/bad_abi.so: ABI version 999", dir);
	assert_mentions(err, want);
	unsetenv("ALLOCATORD_PLUGIN_DIR");
	ck_assert_int_eq(
	    choice_open(&f.choice, &f.group, NULL, "no_such_plugin.so", NULL, err, ERRLEN),
	    -ENOENT);
	assert_mentions(err, "/allocatord/no_such_plugin.so");
	fixture_teardown(&f);
}
END_TEST

/* A scratch directory for files that are not plug-ins. */
static void make_tmpdir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/test_choice.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp(%s): %s", dir, strerror(errno));
}

START_TEST(test_choice_plugin_missing)
{
	char dir[PATHLEN], path[PATHLEN + 16], err[ERRLEN] = "";

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/absent.so", dir);
	expect_refused(path, NULL, -ENOENT, err);
	assert_mentions(err, strerror(ENOENT));
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_choice_plugin_not_elf)
{
	char dir[PATHLEN], path[PATHLEN + 16], err[ERRLEN] = "";
	FILE *fp;

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/notes.so", dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	/* Longer than an ELF header, so the reason is the header, not the size. */
	for (int i = 0; i < 8; i++)
		fputs("this is a text file, not a shared object\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	expect_refused(path, NULL, -ELIBBAD, err);
	assert_mentions(err, "ELF");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

Suite *choice_suite(void)
{
	Suite *s = suite_create("choice");
	TCase *tc;

	tc = tcase_create("by_size");
	tcase_add_test(tc, test_choice_by_size_exact_fit);
	tcase_add_test(tc, test_choice_by_size_next_larger);
	tcase_add_test(tc, test_choice_by_size_hint_zero);
	tcase_add_test(tc, test_choice_by_size_falls_back_when_full);
	tcase_add_test(tc, test_choice_by_size_counts_blocks);
	tcase_add_test(tc, test_choice_by_size_enomem_when_fitting_full);
	tcase_add_test(tc, test_choice_by_size_einval_when_too_large);
	tcase_add_test(tc, test_choice_by_size_ties_to_lowest_index);
	suite_add_tcase(s, tc);

	tc = tcase_create("round_robin");
	tcase_add_test(tc, test_choice_round_robin_cycles);
	tcase_add_test(tc, test_choice_round_robin_skips_full);
	tcase_add_test(tc, test_choice_round_robin_counts_blocks);
	tcase_add_test(tc, test_choice_round_robin_enomem_when_all_full);
	tcase_add_test(tc, test_choice_round_robin_groups_independent);
	suite_add_tcase(s, tc);

	tc = tcase_create("most_free");
	tcase_add_test(tc, test_choice_most_free_picks_emptiest);
	tcase_add_test(tc, test_choice_most_free_counts_blocks_not_bytes);
	tcase_add_test(tc, test_choice_most_free_ties_to_lowest_index);
	tcase_add_test(tc, test_choice_most_free_enomem_when_all_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("index");
	tcase_add_test(tc, test_choice_index_each_member);
	tcase_add_test(tc, test_choice_index_out_of_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_test(tc, test_choice_empty_group_chooses_nothing);
	tcase_add_test(tc, test_choice_unknown_builtin);
	tcase_add_test(tc, test_choice_name_or_plugin);
	tcase_add_test(tc, test_choice_message_truncated);
	tcase_add_test(tc, test_choice_close_safe);
	suite_add_tcase(s, tc);

	tc = tcase_create("plugin");
	tcase_add_test(tc, test_choice_plugin_by_uid);
	tcase_add_test(tc, test_choice_plugin_bare_name_searched_in_plugin_dir);
	tcase_add_test(tc, test_choice_plugin_by_uid_no_fallback);
	tcase_add_test(tc, test_choice_plugin_state_per_group);
	tcase_add_test(tc, test_choice_plugin_bad_arg);
	tcase_add_test(tc, test_choice_plugin_bad_abi);
	tcase_add_test(tc, test_choice_plugin_no_symbol);
	tcase_add_test(tc, test_choice_plugin_no_choose);
	tcase_add_test(tc, test_choice_plugin_init_fails);
	tcase_add_test(tc, test_choice_plugin_missing);
	tcase_add_test(tc, test_choice_plugin_not_elf);
	suite_add_tcase(s, tc);

	return s;
}
