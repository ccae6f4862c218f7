/*
 * producer: the sending half of a zero-copy hand-off through allocatord.
 *
 * It allocates COUNT blocks of a pool, writes into them in place, and sends
 * only their offsets to a consumer (examples/consumer.c), which maps the
 * same memory and reads the blocks where they are. Nothing but a few lines
 * of text crosses the channel between the two.
 *
 * The hand-off protocol, one text line at a time:
 *
 *   producer -> consumer (the producer's stdout, the consumer's stdin):
 *       message M POOL COUNT        M counts from 0
 *       0xOFFSET                    COUNT lines, one per block
 *   consumer -> producer (the consumer's stdout, the producer's stdin):
 *       ok M                        the consumer now holds message M's blocks
 *       fail M REASON               it could not take them; it exits
 *
 * The producer frees its own hold on a message's blocks only once "ok M"
 * has come back: from then on the daemon keeps the blocks for the consumer,
 * and they return to the pool when the consumer frees them too. If anything
 * else arrives, or nothing (the consumer is gone), the producer exits 1;
 * its connection closes and the daemon drops its holds, so nothing leaks
 * either way. After the last message the producer closes its stdout, which
 * tells the consumer that no more messages follow.
 *
 * Block i of message M holds the text "block i of message M", filler bytes
 * that differ per block, and in its last 4 bytes an FNV-1a checksum of the
 * rest, so the consumer can tell a wrong, stale or damaged block.
 *
 * Run the two with a pipe in each direction; examples/handoff.sh does that
 * with two FIFOs.
 *
 * Build: in this tree `make` builds examples/producer. Against an installed
 * libmemclient, include <memclient.h> instead of "client/memclient.h" and
 *         cc -std=c11 -o producer producer.c $(pkg-config --cflags --libs memclient)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/memclient.h"

/* The label and the checksum must fit in a block. */
#define MIN_BLOCK_SIZE 48

static void usage(FILE *out)
{
	fprintf(out, "Usage: producer [-s SOCKET] [-p POOL] [-n COUNT] [-m MESSAGES]\n"
		     "Allocate COUNT blocks of POOL from allocatord, fill them, and hand their\n"
		     "offsets to a consumer: the offsets go to stdout, and the blocks are freed\n"
		     "once the consumer answers \"ok M\" on stdin. Repeated MESSAGES times.\n"
		     "\n"
		     "  -s, --socket SOCKET   the daemon's socket (default: $ALLOCATORD_SOCKET,\n"
		     "                        else the default path, see libmemclient(3))\n"
		     "  -p, --pool POOL       pool to allocate from (default: medium)\n"
		     "  -n, --count COUNT     blocks per message (default: 8)\n"
		     "  -m, --messages M      messages to send (default: 1)\n"
		     "  -h, --help            show this help and exit\n"
		     "\n"
		     "Exit status: 0 when the consumer took every message, 1 on any failure,\n"
		     "2 on a usage error. See examples/handoff.sh.\n");
}

/* FNV-1a, 32 bits: enough to catch a damaged or mixed-up block. */
static uint32_t checksum(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < len; k++)
		h = (h ^ p[k]) * 16777619u;
	return h;
}

/* Write block i of message m in place: label, filler, checksum. */
static void fill_block(uint8_t *p, size_t size, unsigned m, size_t i)
{
	size_t body = size - sizeof(uint32_t);
	int len = snprintf((char *) p, body, "block %zu of message %u", i, m);
	uint32_t sum;

	for (size_t k = (size_t) len + 1; k < body; k++)
		p[k] = (uint8_t) (k * 31 + i * 7 + m);
	sum = checksum(p, body);
	memcpy(p + body, &sum, sizeof(sum));
}

/* A positive count from an option argument; 0 if it is not one. */
static size_t parse_count(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > SIZE_MAX)
		return 0;
	return (size_t) v;
}

/* The block size of pool, asked of the daemon. 0 or a negative errno. */
static int pool_block_size(mc_client_t *c, const char *pool, size_t *size)
{
	struct mc_stats st;
	size_t n;
	int rc = mc_stats(c, pool, &st, 1, &n);

	if (rc < 0)
		return rc;
	/* A group or a heap of that name: mc_alloc takes pools only. */
	if (n != 1 || st.info.kind != MC_POOL)
		return -EINVAL;
	*size = (size_t) st.info.block_size;
	return 0;
}

/*
 * Send message m: allocate, fill, write the offsets, wait for the consumer's
 * "ok m", then drop this process's hold. Returns 0 or 1 after a message.
 */
static int send_message(mc_client_t *c, const char *pool, size_t bs, unsigned m, size_t count,
			uint64_t *offsets)
{
	char line[256];
	unsigned acked;
	int rc;

	rc = mc_alloc(c, pool, count, offsets);
	if (rc < 0) {
		fprintf(stderr, "producer: allocating %zu blocks of pool \"%s\": %s\n", count, pool,
			strerror(-rc));
		return 1;
	}
	/* mc_ptr is where the block is in this process: write straight into
	 * the shared memory, no buffer to copy from. */
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = mc_ptr(c, pool, offsets[i]);

		if (p == NULL) {
			fprintf(stderr, "producer: offset 0x%" PRIx64 " of \"%s\" is not mapped\n",
				offsets[i], pool);
			return 1;
		}
		fill_block(p, bs, m, i);
	}

	printf("message %u %s %zu\n", m, pool, count);
	for (size_t i = 0; i < count; i++)
		printf("0x%" PRIx64 "\n", offsets[i]);
	/* The consumer waits for the whole message: push it out now. */
	if (fflush(stdout) != 0) {
		fprintf(stderr, "producer: sending message %u: %s\n", m, strerror(errno));
		return 1;
	}

	/* Until the consumer holds the blocks, this process's hold is all that
	 * keeps them allocated: freeing earlier would let the daemon hand them
	 * to someone else under the consumer's eyes. */
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "producer: the consumer hung up before taking message %u\n", m);
		return 1;
	}
	if (sscanf(line, "ok %u", &acked) != 1 || acked != m) {
		line[strcspn(line, "\n")] = '\0';
		fprintf(stderr, "producer: message %u was not taken: the consumer said \"%s\"\n", m,
			line);
		return 1;
	}

	rc = mc_free(c, pool, count, offsets);
	if (rc < 0) {
		fprintf(stderr, "producer: freeing message %u: %s\n", m, strerror(-rc));
		return 1;
	}
	fprintf(stderr, "producer: message %u: %zu blocks of \"%s\" handed over\n", m, count, pool);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {.name = "socket", .has_arg = required_argument, .val = 's'},
	    {.name = "pool", .has_arg = required_argument, .val = 'p'},
	    {.name = "count", .has_arg = required_argument, .val = 'n'},
	    {.name = "messages", .has_arg = required_argument, .val = 'm'},
	    {.name = "help", .has_arg = no_argument, .val = 'h'},
	    {0},
	};
	const char *socket = NULL, *pool = "medium";
	size_t count = 8, messages = 1, bs = 0;
	uint64_t *offsets;
	mc_client_t *c;
	int opt, rc, status = 0;

	while ((opt = getopt_long(argc, argv, "s:p:n:m:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket = optarg;
			break;
		case 'p':
			pool = optarg;
			break;
		case 'n':
			count = parse_count(optarg);
			break;
		case 'm':
			messages = parse_count(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || count == 0 || messages == 0 || messages > UINT32_MAX) {
		fprintf(stderr, "producer: COUNT and MESSAGES must be positive integers, and no "
				"other arguments are taken\n");
		usage(stderr);
		return 2;
	}
	/* A consumer that dies must show as an error message, not kill this
	 * process with SIGPIPE on the next write. */
	signal(SIGPIPE, SIG_IGN);

	offsets = calloc(count, sizeof(*offsets));
	if (offsets == NULL) {
		fprintf(stderr, "producer: no memory for %zu offsets\n", count);
		return 1;
	}
	/* NULL: $ALLOCATORD_SOCKET, else the default path. */
	rc = mc_connect(socket, &c);
	if (rc < 0) {
		fprintf(stderr, "producer: connecting to %s: %s\n",
			socket ? socket : "the default socket", strerror(-rc));
		free(offsets);
		return 1;
	}
	rc = pool_block_size(c, pool, &bs);
	if (rc == -ENOENT)
		fprintf(stderr, "producer: there is no pool named \"%s\"\n", pool);
	else if (rc == -EINVAL)
		fprintf(stderr, "producer: \"%s\" is a heap or a group, not a pool\n", pool);
	else if (rc < 0)
		fprintf(stderr, "producer: pool \"%s\": %s\n", pool, strerror(-rc));
	else if (bs < MIN_BLOCK_SIZE)
		fprintf(stderr, "producer: pool \"%s\" has %zu-byte blocks, at least %d needed\n",
			pool, bs, MIN_BLOCK_SIZE);
	status = rc < 0 || bs < MIN_BLOCK_SIZE;

	for (size_t m = 0; m < messages && status == 0; m++)
		status = send_message(c, pool, bs, (unsigned) m, count, offsets);

	/* Closing the connection drops any hold still left (after a failure),
	 * so an early exit never leaks blocks. */
	mc_close(c);
	free(offsets);
	return status;
}
