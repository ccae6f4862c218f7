/*
 * libFuzzer harness for the state a takeover reads (daemon/state.h). A real
 * state of the built-in configuration is made once; each input damages it:
 * the first byte's low bit says whether to make the hashes right again
 * afterwards (so that the checks behind them are reached), then each
 * (offset lo, offset hi, xor) triple flips bits at offset (modulo the
 * state's size). daemon_init is then handed the damaged state with the
 * built-in configuration: it must refuse it with a message naming the
 * state, or build a table whose every index is right -- never crash, leak
 * or read outside the memfd (the sanitizers see to that).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/state.h"

static uint8_t *tpl;
static size_t tpl_len;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_state: %s\n", what);
	abort();
}

/* The state memfd as the fd store passes it (static: the daemon keeps a
 * pointer to the store). */
static struct fdstore_fd passed;
static struct fdstore store;

static int start(struct daemon *d, int fd, struct errbuf *e)
{
	struct config cfg;
	int rc;

	if (config_load_string(config_default_text, CONFIG_DEFAULT_FILE, &cfg, e->msg,
			       sizeof(e->msg)) < 0)
		die(e->msg);
	snprintf(passed.name, sizeof(passed.name), "state");
	passed.fd = fd;
	store = (struct fdstore){.passed = &passed, .npassed = 1, .notify_fd = -1};
	rc = daemon_init(d, &cfg, true, &store, false, e);
	if (rc < 0)
		config_free(&cfg);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct state_slot s;
	struct daemon d;
	struct errbuf e;

	(void) argc;
	(void) argv;
	log_set_level(LOG_ERROR);
	if (start(&d, -1, &e) < 0 || state_started(&d.state, 0, 1000, &e) < 0)
		die(e.msg);
	if (pread(d.state.fd, &s, sizeof(s), STATE_SLOT_OFFSET(0)) != (ssize_t) sizeof(s))
		die("reading the state");
	tpl_len = (size_t) s.total_size;
	tpl = malloc(tpl_len);
	if (tpl == NULL || pread(d.state.fd, tpl, tpl_len, 0) != (ssize_t) tpl_len)
		die("reading the state");
	daemon_fini(&d);
	return 0;
}

/* FNV-1a 64, as state.h defines the hashes. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= ((const uint8_t *) p)[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static void reseal(uint8_t *b, size_t len)
{
	struct state_slot *s = (struct state_slot *) (b + STATE_SLOT_OFFSET(0));
	const uint64_t basis = UINT64_C(0xcbf29ce484222325);

	if (s->dir_offset <= len && s->dir_size <= len - s->dir_offset)
		s->dir_hash = fnv(basis, b + s->dir_offset, s->dir_size);
	s->hash =
	    fnv(fnv(basis, b, sizeof(struct state_prefix)), s, offsetof(struct state_slot, hash));
}

static void check_table(const struct object_table *t)
{
	for (size_t i = 0; i < t->nregions; i++)
		if (t->regions[i]->index != i)
			die("region index");
	for (size_t i = 0; i < t->nobjects; i++) {
		const struct object *o = t->objects[i];
		const struct object *named = object_table_find(t, o->name);

		if (o->index != i || t->regions[o->region->index] != o->region)
			die("object index");
		if (o->gone ? named == o : named != o)
			die("object name");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(tpl_len);
	struct daemon d;
	struct errbuf e;
	int fd;

	if (b == NULL)
		die("out of memory");
	memcpy(b, tpl, tpl_len);
	for (size_t i = 1; i + 2 < size; i += 3)
		b[((size_t) data[i] | (size_t) data[i + 1] << 8) % tpl_len] ^= data[i + 2];
	if (size > 0 && (data[0] & 1))
		reseal(b, tpl_len);
	fd = memfd_create("fuzz-state", MFD_CLOEXEC);
	if (fd < 0 || write(fd, b, tpl_len) != (ssize_t) tpl_len)
		die("writing the state");
	free(b);
	if (start(&d, fd, &e) == 0) {
		check_table(&d.table);
		daemon_fini(&d);
	} else if (strstr(e.msg, "state") == NULL) {
		die(e.msg);
	}
	return 0;
}
