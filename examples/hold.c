/*
 * hold: a client that takes some memory of the built-in configuration and
 * keeps it until it is killed, so that memctl has something to show (the
 * README's tour runs it).
 *
 * It takes 40 blocks of pool "small" and gives 10 of them back (the 6th to
 * the 15th, which leaves a hole in memctl's map), 6 contiguous blocks of
 * "large", 3 blocks of group "buffers" for 1500-byte buffers (by_size picks
 * "medium"), and two allocations of heap "heap" (100,000 bytes aligned to
 * 4 KiB, and 5,000 bytes): 41 holds in all. It says so on stdout, then
 * waits for a signal. Killing it, with kill -9 too, gives everything back:
 * the daemon drops the holds of a client that is gone.
 *
 * Build: in this tree `make` builds examples/hold. Against an installed
 * libmemclient, include <memclient.h> instead of "client/memclient.h" and
 *         cc -std=c11 -o hold hold.c $(pkg-config --cflags --libs memclient)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/memclient.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "hold: %s: %s\n", what, strerror(-rc));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket = NULL;
	uint64_t small[40], large, buffers[3], heap[2];
	size_t block_size;
	mc_client_t *c;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		if (opt == 's') {
			socket = optarg;
		} else {
			fprintf(
			    opt == 'h' ? stdout : stderr,
			    "Usage: hold [-s SOCKET]\n"
			    "Hold memory of allocatord's built-in configuration until killed\n"
			    "(see examples/hold.c). SOCKET defaults to $ALLOCATORD_SOCKET, else\n"
			    "the default path.\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	rc = mc_connect(socket, &c);
	if (rc < 0)
		return fail("cannot connect", rc);
	if ((rc = mc_alloc(c, "small", 40, small)) < 0)
		return fail("small", rc);
	if ((rc = mc_free(c, "small", 10, small + 5)) < 0)
		return fail("small", rc);
	if ((rc = mc_alloc_contiguous(c, "large", 6, &large)) < 0)
		return fail("large", rc);
	if ((rc = mc_group_alloc(c, "buffers", 1500, 3, buffers, &block_size)) < 0)
		return fail("buffers", rc);
	if ((rc = mc_heap_alloc(c, "heap", 100000, 4096, &heap[0])) < 0 ||
	    (rc = mc_heap_alloc(c, "heap", 5000, 0, &heap[1])) < 0)
		return fail("heap", rc);
	printf("hold: pid %d holds 30 small, 6 large, 3 buffers (%zu-byte) blocks and 2 heap "
	       "allocations; kill it to give them back\n",
	       (int) getpid(), block_size);
	fflush(stdout);
	for (;;)
		pause();
}
