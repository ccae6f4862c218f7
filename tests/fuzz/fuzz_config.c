/*
 * libFuzzer harness for the configuration loader: any text goes through
 * config_load_string(); what loads must satisfy the invariants config.h
 * promises (unique names, objects aligned -- heaps to their size's power of
 * two, up to 2 MiB -- inside their region, not overlapping, groups of pools of one region), print
 * without trouble, and
 * -- when small enough to build here and free of plug-ins -- build a dry-run
 * daemon and tear it down. What does not load must leave the config empty
 * and say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/dispatch.h"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
	abort();
}

static void check_layout(const struct config *c, uint64_t *blocks, uint64_t *bytes)
{
	for (size_t i = 0; i < c->nregions; i++) {
		const struct cfg_region *r = &c->regions[i];
		uint64_t end = 0;

		*bytes += r->size;
		for (size_t j = 0; j < r->npools; j++) {
			const struct cfg_pool *p = &r->pools[j];

			if (p->offset < end || p->offset % p->align != 0 ||
			    p->block_size % p->align != 0 || p->offset % 4096 != 0)
				die("pool placement");
			end = p->offset + p->block_size * p->blocks;
			if (end > r->size)
				die("pool inside its region");
			*blocks += p->blocks;
		}
		for (size_t j = 0; j < r->nheaps; j++) {
			const struct cfg_heap *h = &r->heaps[j];

			if (h->offset < end || h->offset % h->granule != 0 || h->size % h->granule)
				die("heap placement");
			/* what makes TLSF's in-heap alignment a region alignment */
			if (h->offset % wire_heap_align(h->size) != 0)
				die("heap offset aligned to its size's power of two");
			end = h->offset + h->size;
			if (end > r->size)
				die("heap inside its region");
			*blocks += h->max_allocs;
		}
	}
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i].nmembers == 0 ||
		    (c->groups[i].choice == NULL) == (c->groups[i].plugin == NULL))
			die("group shape");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	uint64_t blocks = 0, bytes = 0;
	struct config cfg, zero;
	bool plugins = false;
	struct dispatch x;
	struct daemon d;
	struct errbuf e;
	FILE *out;

	memcpy(text, data, size);
	text[size] = '\0';
	memset(&zero, 0, sizeof(zero));
	e.msg[0] = '\0';
	if (config_load_string(text, "fuzz.conf", &cfg, e.msg, sizeof(e.msg)) < 0) {
		if (memcmp(&cfg, &zero, sizeof(cfg)) != 0 || strncmp(e.msg, "fuzz.conf", 9) != 0)
			die("a refused config is empty and its message names the file");
		free(text);
		return 0;
	}
	check_layout(&cfg, &blocks, &bytes);
	out = fopen("/dev/null", "w");
	config_print(&cfg, out);
	fclose(out);
	for (size_t i = 0; i < cfg.ngroups; i++)
		plugins |= cfg.groups[i].plugin != NULL;
	/* Build what fits in a fuzzer's memory; plug-in paths are not dlopen()ed
	 * from fuzzed text. Warnings (memcheck's about lease pages) would only
	 * flood the fuzzer's output. */
	log_set_level(LOG_ERROR);
	if (!plugins && blocks <= (1u << 20) && bytes <= (UINT64_C(1) << 34) &&
	    cfg.max_frame <= (1u << 20) && daemon_init(&d, &cfg, true, NULL, false, &e) == 0) {
		if (dispatch_init(&x, &d, &e) == 0)
			dispatch_fini(&x);
		daemon_fini(&d);
	} else {
		config_free(&cfg);
	}
	free(text);
	return 0;
}
