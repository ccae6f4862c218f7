/*
 * consumer: the receiving half of a zero-copy hand-off through allocatord
 * (the sending half, and the protocol, are in examples/producer.c).
 *
 * For each message read on stdin ("message M POOL COUNT", then COUNT
 * offsets) it
 *   1. takes its own hold on the blocks with mc_retain(), so that they stay
 *      allocated whatever the producer does next;
 *   2. answers "ok M" on stdout: the producer may now free its hold;
 *   3. checks every block where it lies in the shared memory, through
 *      mc_ptr() -- no copy -- and reports each one on stderr;
 *   4. frees its hold with mc_free(): the blocks go back to the pool once
 *      nobody holds them.
 * If the retain fails (an offset that is not a block of that pool, say) it
 * answers "fail M REASON" and exits 1 without touching the memory. It exits
 * 0 when stdin ends after one message or more, every block as the producer
 * wrote it; 1 on a mismatch, on an error, or when no message came; 2 on a
 * usage error.
 *
 * Build: in this tree `make` builds examples/consumer. Against an installed
 * libmemclient, include <memclient.h> instead of "client/memclient.h" and
 *         cc -std=c11 -o consumer consumer.c $(pkg-config --cflags --libs memclient)
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/memclient.h"

/* What producer.c needs in a block: its label and its checksum. */
#define MIN_BLOCK_SIZE 48

static void usage(FILE *out)
{
	fprintf(out, "Usage: consumer [-s SOCKET]\n"
		     "Take the blocks a producer hands over (offsets on stdin), answer \"ok M\"\n"
		     "on stdout once they are held, verify them in place, report on stderr and\n"
		     "free them.\n"
		     "\n"
		     "  -s, --socket SOCKET   the daemon's socket (default: $ALLOCATORD_SOCKET,\n"
		     "                        else the default path, see libmemclient(3))\n"
		     "  -h, --help            show this help and exit\n"
		     "\n"
		     "Exit status: 0 when one message or more came and every block was intact;\n"
		     "1 on a mismatch, an error or no message; 2 on a usage error.\n"
		     "See examples/producer.c and examples/handoff.sh.\n");
}

/* FNV-1a, 32 bits: the same function as in producer.c. */
static uint32_t checksum(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < len; k++)
		h = (h ^ p[k]) * 16777619u;
	return h;
}

/* What the daemon's error means for a retain, beyond strerror(). */
static const char *retain_hint(int rc)
{
	switch (rc) {
	case -EFAULT:
		return " (an offset is not an allocated block of that pool)";
	case -EALREADY:
		return " (this consumer holds one of them already: an offset sent twice?)";
	case -ENOENT:
		return " (no such pool)";
	default:
		return "";
	}
}

/* The block size of pool, asked of the daemon. 0 or a negative errno. */
static int pool_block_size(mc_client_t *c, const char *pool, size_t *size)
{
	struct mc_stats st;
	size_t n;
	int rc = mc_stats(c, pool, &st, 1, &n);

	if (rc < 0)
		return rc;
	if (n != 1 || st.info.kind != MC_POOL)
		return -EINVAL;
	*size = (size_t) st.info.block_size;
	return 0;
}

/*
 * Check block i of message m in place: its label and its checksum. Returns
 * 0 if it is what the producer wrote, 1 if not; reports either way.
 */
static int verify_block(const uint8_t *p, size_t size, unsigned m, size_t i, uint64_t offset)
{
	size_t body = size - sizeof(uint32_t);
	uint32_t stored, sum = checksum(p, body);
	char want[64], seen[41];
	size_t len;

	memcpy(&stored, p + body, sizeof(stored));
	snprintf(want, sizeof(want), "block %zu of message %u", i, m);
	if (sum == stored && memcmp(p, want, strlen(want) + 1) == 0) {
		fprintf(stderr, "consumer: 0x%" PRIx64 ": \"%s\", checksum 0x%08" PRIx32 ": ok\n",
			offset, want, sum);
		return 0;
	}
	/* Only to print it: a damaged label may hold anything. */
	for (len = 0; len + 1 < sizeof(seen) && len < body && p[len] != '\0'; len++)
		seen[len] = isprint(p[len]) ? (char) p[len] : '?';
	seen[len] = '\0';
	fprintf(stderr,
		"consumer: 0x%" PRIx64 ": MISMATCH: expected \"%s\", found \"%s\", checksum "
		"0x%08" PRIx32 " (stored 0x%08" PRIx32 ")\n",
		offset, want, seen, sum, stored);
	return 1;
}

/* Check every block of message m, so that the report shows each one that
 * is wrong. Returns 0 if all are intact, else 1. */
static int verify_message(mc_client_t *c, unsigned m, const char *pool, size_t bs, size_t count,
			  const uint64_t *offsets)
{
	int status = 0;

	fprintf(stderr, "consumer: message %u: %zu blocks of \"%s\" (%zu bytes each)\n", m, count,
		pool, bs);
	for (size_t i = 0; i < count; i++) {
		/* The retain succeeded, so the offset is a block of this pool
		 * and lies inside the mapping. */
		const uint8_t *p = mc_ptr(c, pool, offsets[i]);

		if (p == NULL) {
			fprintf(stderr, "consumer: 0x%" PRIx64 " of \"%s\" is not mapped\n",
				offsets[i], pool);
			status = 1;
		} else {
			status |= verify_block(p, bs, m, i, offsets[i]);
		}
	}
	return status;
}

/*
 * Take message m (already read: pool, count offsets), tell the producer,
 * verify, free. Returns 0, or 1 after reporting what went wrong.
 */
static int take_message(mc_client_t *c, unsigned m, const char *pool, size_t count,
			const uint64_t *offsets)
{
	int rc, status = 0;
	size_t bs;

	/* All or nothing: on error this consumer holds none of them. */
	rc = mc_retain(c, pool, count, offsets);
	if (rc < 0) {
		fprintf(stderr,
			"consumer: message %u: cannot retain its blocks of pool \"%s\": %s%s\n", m,
			pool, strerror(-rc), retain_hint(rc));
		printf("fail %u %s\n", m, strerror(-rc));
		fflush(stdout);
		return 1;
	}
	/* The blocks are ours too now: the producer may let go of them. */
	printf("ok %u\n", m);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "consumer: answering message %u: %s\n", m, strerror(errno));
		return 1;
	}

	/* The size comes from the daemon, not from the message: a block is
	 * never read past its end, whatever the producer sent. */
	rc = pool_block_size(c, pool, &bs);
	if (rc < 0) {
		fprintf(stderr, "consumer: \"%s\": %s\n", pool,
			rc == -EINVAL ? "not a pool" : strerror(-rc));
		status = 1;
	} else if (bs < MIN_BLOCK_SIZE) {
		fprintf(stderr,
			"consumer: blocks of %zu bytes cannot hold what a producer writes\n", bs);
		status = 1;
	} else {
		status = verify_message(c, m, pool, bs, count, offsets);
	}

	/* Whatever was found, give the blocks back. */
	rc = mc_free(c, pool, count, offsets);
	if (rc < 0) {
		fprintf(stderr, "consumer: freeing message %u: %s\n", m, strerror(-rc));
		return 1;
	}
	return status;
}

/* One line of stdin without its newline; false at the end or on an error. */
static int read_line(char *line, size_t len)
{
	if (fgets(line, (int) len, stdin) == NULL)
		return 0;
	line[strcspn(line, "\n")] = '\0';
	return 1;
}

/* Read the offsets of a message announced as "message M POOL COUNT" and
 * take it. Returns 0 or 1. */
static int receive(mc_client_t *c, const char *header)
{
	char pool[64], line[128], *end;
	unsigned m;
	size_t count;
	uint64_t *offsets;
	int status;

	if (sscanf(header, "message %u %63s %zu", &m, pool, &count) != 3 || count == 0) {
		fprintf(stderr, "consumer: malformed message header \"%s\"\n", header);
		return 1;
	}
	offsets = calloc(count, sizeof(*offsets));
	if (offsets == NULL) {
		fprintf(stderr, "consumer: message %u: no memory for %zu offsets\n", m, count);
		return 1;
	}
	for (size_t i = 0; i < count; i++) {
		if (!read_line(line, sizeof(line))) {
			fprintf(stderr, "consumer: message %u ended after %zu of %zu offsets\n", m,
				i, count);
			free(offsets);
			return 1;
		}
		errno = 0;
		offsets[i] = strtoull(line, &end, 0);
		if (errno != 0 || end == line || *end != '\0') {
			fprintf(stderr, "consumer: message %u: malformed offset \"%s\"\n", m, line);
			free(offsets);
			return 1;
		}
	}
	status = take_message(c, m, pool, count, offsets);
	free(offsets);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {.name = "socket", .has_arg = required_argument, .val = 's'},
	    {.name = "help", .has_arg = no_argument, .val = 'h'},
	    {0},
	};
	const char *socket = NULL;
	unsigned messages = 0;
	char line[256];
	mc_client_t *c;
	int opt, rc, status = 0;

	while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "consumer: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* A producer that is gone must show as an error message, not kill
	 * this process with SIGPIPE when it answers. */
	signal(SIGPIPE, SIG_IGN);

	rc = mc_connect(socket, &c);
	if (rc < 0) {
		fprintf(stderr, "consumer: connecting to %s: %s\n",
			socket ? socket : "the default socket", strerror(-rc));
		return 1;
	}
	/* The producer closing its end is the end of the hand-off. */
	while (status == 0 && read_line(line, sizeof(line))) {
		status = receive(c, line);
		messages += status == 0;
	}
	if (status == 0 && ferror(stdin)) {
		fprintf(stderr, "consumer: reading stdin: %s\n", strerror(errno));
		status = 1;
	}
	if (status == 0 && messages == 0) {
		fprintf(stderr, "consumer: no message received\n");
		status = 1;
	}
	if (status == 0)
		fprintf(stderr, "consumer: %u messages received, every block intact\n", messages);
	/* Drops whatever this process still holds after an error. */
	mc_close(c);
	return status;
}
