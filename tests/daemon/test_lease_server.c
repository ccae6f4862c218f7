/*
 * Leased caches against a real daemon over raw sockets: the hello's new
 * fields and memfds, the shared bits as a client maps them (read-only,
 * sealed), take-back through a lease page the client writes, and reclaim of
 * leased blocks on disconnect. Every stop checks the daemon idle and whole
 * (daemon_verify_idle, shared bits included).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/daemon_proc.h"
#include "tests/daemon/check_daemon.h"
#include "tests/daemon/raw_client.h"

/* p: 64 blocks of 64 bytes, cache_max 32 and client_cache 16; h: a heap. */
static const char config[] =
    "regions = ( { name = \"r\";\n"
    "  pools = ( { name = \"x\"; block_size = 4096; blocks = 3; },\n"
    "            { name = \"p\"; block_size = 64; blocks = 64; cache_max = 32;\n"
    "              client_cache = 16; } );\n"
    "  heaps = ( { name = \"h\"; size = \"64K\"; } ); } );\n";

static struct test_daemon td;

/* Open fd again for writing through /proc, as uid when we are root (root
 * itself may), else as ourselves: 0 or the negative errno. */
static int bits_reopen_as(int fd, uid_t uid)
{
	char path[64];
	int status, w;
	pid_t pid;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (geteuid() != 0) {
		w = open(path, O_RDWR | O_CLOEXEC);
		return w < 0 ? -errno : (close(w), 0);
	}
	pid = fork();
	if (pid == 0) {
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(255);
		w = open(path, O_RDWR | O_CLOEXEC);
		_exit(w < 0 ? errno : 0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255);
	return -WEXITSTATUS(status);
}

/* One client: its socket, the pool's geometry from the hello, its
 * read-only view of the shared bits and its lease page. */
struct client {
	int fd;
	uint64_t p_offset, bits_offset, lease_offset;
	uint32_t lease_slots;
	const uint64_t *bits;
	size_t bits_size;
	uint32_t *lease;
	size_t lease_size;
};

static void start(void)
{
	ck_assert_int_eq(test_daemon_start(&td, config, NULL), 0);
}

static void stop(void)
{
	ck_assert_int_eq(test_daemon_stop(&td), 0);
}

static void connect_client(struct client *c)
{
	int fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS;
	Allocd__Reply *r;
	void *m;

	memset(c, 0, sizeof(*c));
	c->fd = raw_connect(td.socket);
	ck_assert_int_ge(c->fd, 0);
	r = raw_hello_reply(c->fd, true, fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->status, 0);
	ck_assert_uint_eq(nfds, 3);
	c->bits_size = r->hello->regions[0]->bits_size;
	c->lease_size = r->hello->lease_size;
	for (size_t i = 0; i < r->hello->n_objects; i++) {
		const Allocd__ObjectInfo *oi = r->hello->objects[i];

		if (strcmp(oi->name, "p") != 0)
			continue;
		c->p_offset = oi->offset;
		c->bits_offset = oi->bits_offset;
		c->lease_offset = oi->lease_offset;
		c->lease_slots = oi->lease_slots;
	}
	allocd__reply__free_unpacked(r, NULL);
	m = mmap(NULL, c->bits_size, PROT_READ, MAP_SHARED, fds[1], 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	c->bits = m;
	m = mmap(NULL, c->lease_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	c->lease = m;
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

static void disconnect(struct client *c)
{
	munmap((void *) c->bits, c->bits_size);
	munmap(c->lease, c->lease_size);
	close(c->fd);
}

static uint32_t block(const struct client *c, uint64_t off)
{
	return (uint32_t) ((off - c->p_offset) / 64);
}

static int bit(const struct client *c, uint64_t off)
{
	const uint64_t *w = c->bits + c->bits_offset / 8;
	uint32_t b = block(c, off);

	return (int) ((__atomic_load_n(&w[b / 64], __ATOMIC_ACQUIRE) >> (b % 64)) & 1);
}

/* The daemon sees a close in its own time: retry for up to 5 s. */
static int alloc_eventually(const struct client *c, uint64_t count, uint64_t *off)
{
	int rc = -1;

	for (int i = 0; i < 500 && rc != 0; i++) {
		rc = raw_alloc(c->fd, 9, "p", count, off);
		if (rc != 0)
			usleep(10000);
	}
	return rc;
}

static int bit_clears(const struct client *c, uint64_t off)
{
	for (int i = 0; i < 500 && bit(c, off); i++)
		usleep(10000);
	return !bit(c, off);
}

static uint32_t *slots(const struct client *c)
{
	return c->lease + c->lease_offset / sizeof(uint32_t);
}

/* A client that does not ask for leases (one older than leased caches)
 * gets what it always got: the region memfds alone, no lease geometry, and
 * no cache. */
START_TEST(test_lease_server_hello_without_leases)
{
	int fds[RAW_MAX_FDS];
	size_t nfds = RAW_MAX_FDS, n;
	uint64_t off[4];
	Allocd__Reply *r;
	int fd;

	start();
	fd = raw_connect(td.socket);
	r = raw_hello_reply(fd, false, fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(nfds, 1);
	ck_assert_uint_eq(r->hello->lease_size, 0);
	ck_assert_uint_eq(r->hello->regions[0]->bits_size, 0);
	for (size_t i = 0; i < r->hello->n_objects; i++) {
		ck_assert_uint_eq(r->hello->objects[i]->lease_slots, 0);
		ck_assert_uint_eq(r->hello->objects[i]->bits_offset, 0);
	}
	allocd__reply__free_unpacked(r, NULL);
	close(fds[0]);
	ck_assert_int_eq(raw_alloc_lease(fd, 2, "p", 2, 0, 0, off, 4, &n), 0);
	ck_assert_int_eq(raw_alloc_lease(fd, 3, "p", 0, 8, 16, off, 4, &n), -EINVAL);
	ck_assert_int_eq(raw_free(fd, 4, "p", 2, off), 0);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_lease_server_hello)
{
	int fds[RAW_MAX_FDS], seals;
	size_t nfds = RAW_MAX_FDS;
	Allocd__Reply *r;
	int fd;

	start();
	fd = raw_connect(td.socket);
	r = raw_hello_reply(fd, true, fds, &nfds);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(nfds, 3);
	ck_assert_uint_eq(r->hello->max_output, 1u << 20);
	/* x: 3 slots (its blocks), 64 bytes; p: 32 slots, 128 bytes. */
	ck_assert_uint_eq(r->hello->lease_size, 64 + 128);
	/* One word of bits each. */
	ck_assert_uint_eq(r->hello->regions[0]->bits_size, 16);
	for (size_t i = 0; i < r->hello->n_objects; i++) {
		const Allocd__ObjectInfo *oi = r->hello->objects[i];

		if (strcmp(oi->name, "p") == 0) {
			ck_assert_uint_eq(oi->bits_offset, 8);
			ck_assert_uint_eq(oi->lease_offset, 64);
			ck_assert_uint_eq(oi->lease_slots, 32);
			ck_assert_uint_eq(oi->client_cache, 16);
		} else if (strcmp(oi->name, "x") == 0) {
			ck_assert_uint_eq(oi->lease_slots, 3);
		} else {
			ck_assert_uint_eq(oi->lease_slots, 0);
		}
	}
	allocd__reply__free_unpacked(r, NULL);
	/* The shared bits: nobody but the daemon may ever write them. A
	 * read-only description, of a 0400 file the daemon owns, sealed. */
	seals = fcntl(fds[1], F_GET_SEALS);
	ck_assert_int_eq(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDONLY);
	ck_assert_ptr_eq(mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0), MAP_FAILED);
	ck_assert_int_eq(write(fds[1], "x", 1), -1);
	ck_assert_int_eq(ftruncate(fds[1], 0), -1);
	ck_assert_int_eq(fallocate(fds[1], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 16), -1);
	ck_assert_int_eq(bits_reopen_as(fds[1], 65534), -EACCES);
	/* The lease page: the client's to write, not to shrink under the daemon. */
	seals = fcntl(fds[2], F_GET_SEALS);
	ck_assert_int_eq(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_ptr_ne(mmap(NULL, 192, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0),
			 MAP_FAILED);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	close(fd);
	stop();
}
END_TEST

/* Set while a second client holds the block, clear when it drops back to
 * one, as the client's read-only mapping shows once the reply is in. */
START_TEST(test_lease_server_bits_follow_holders)
{
	struct client a, b;
	uint64_t off[2];

	start();
	connect_client(&a);
	connect_client(&b);
	ck_assert_int_eq(raw_alloc(a.fd, 2, "p", 2, off), 0);
	ck_assert_int_eq(bit(&a, off[0]), 0);
	ck_assert_int_eq(raw_retain(b.fd, 2, "p", 1, &off[1]), 0);
	ck_assert_int_eq(bit(&a, off[1]), 1);
	ck_assert_int_eq(bit(&b, off[1]), 1);
	ck_assert_int_eq(bit(&a, off[0]), 0);
	ck_assert_int_eq(raw_free(b.fd, 3, "p", 1, &off[1]), 0);
	ck_assert_int_eq(bit(&a, off[1]), 0);
	ck_assert_int_eq(raw_retain(b.fd, 4, "p", 1, &off[1]), 0);
	ck_assert_int_eq(bit(&a, off[1]), 1);
	disconnect(&b); /* reclaim clears it too */
	ck_assert(bit_clears(&a, off[1]));
	disconnect(&a);
	stop();
}
END_TEST

/* a leases blocks and lists most of them as cached; b's allocation beyond
 * what is free takes them back: it succeeds, and a holds them no more. */
START_TEST(test_lease_server_take_back)
{
	struct client a, b;
	uint64_t mine[64], off[64];
	size_t n;

	start();
	connect_client(&a);
	connect_client(&b);
	ck_assert_int_eq(raw_alloc_lease(a.fd, 2, "p", 2, 32, 32, mine, 64, &n), 0);
	ck_assert_uint_eq(n, 34);
	for (int i = 0; i < 32; i++)
		slots(&a)[i] = block(&a, mine[2 + i]) + 1;
	ck_assert_int_eq(raw_alloc_lease(b.fd, 2, "p", 62, 0, 0, off, 64, &n), 0);
	ck_assert_uint_eq(n, 62);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(slots(&a)[i], 0);
	/* Taken back and given to b: a's free is refused, b's goes through. */
	ck_assert_int_eq(raw_free(a.fd, 3, "p", 1, &mine[2]), -EPERM);
	ck_assert_int_eq(raw_free(a.fd, 4, "p", 2, mine), 0);
	ck_assert_int_eq(raw_free(b.fd, 3, "p", 62, off), 0);
	/* With nothing cached, more than free is -ENOMEM. */
	ck_assert_int_eq(raw_alloc(b.fd, 4, "p", 65, NULL), -ENOMEM);
	disconnect(&a);
	disconnect(&b);
	stop();
}
END_TEST

START_TEST(test_lease_server_reclaim_on_disconnect)
{
	struct client a, b;
	uint64_t off[64];
	size_t n;

	start();
	connect_client(&a);
	ck_assert_int_eq(raw_alloc_lease(a.fd, 2, "p", 0, 32, 0, off, 64, &n), 0);
	ck_assert_uint_eq(n, 32);
	disconnect(&a);
	connect_client(&b);
	/* Everything is free again once a's leases are reclaimed. */
	ck_assert_int_eq(alloc_eventually(&b, 64, off), 0);
	disconnect(&b);
	stop(); /* and the daemon is idle and whole */
}
END_TEST

Suite *lease_server_suite(void)
{
	Suite *s = suite_create("lease_server");
	TCase *tc = tcase_create("lease_server");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_lease_server_hello);
	tcase_add_test(tc, test_lease_server_hello_without_leases);
	tcase_add_test(tc, test_lease_server_bits_follow_holders);
	tcase_add_test(tc, test_lease_server_take_back);
	tcase_add_test(tc, test_lease_server_reclaim_on_disconnect);
	suite_add_tcase(s, tc);
	return s;
}
