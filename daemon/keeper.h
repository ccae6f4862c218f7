/*
 * keeper: the process the user starts (unless --no-keeper, or under
 * systemd, which is the keeper then). It parses no client input: it runs
 * the serving process and keeps what must outlive it, so that a kill -9 or
 * a crash of the serving process loses no client's memory, holds or
 * socket.
 *
 * The serving process is the keeper's own binary, by the path it had when
 * the keeper started (readlink /proc/self/exe, once: an upgrade runs the
 * file now at that path), with the same arguments, and in its environment
 * NOTIFY_SOCKET, the keeper's datagram socket (abstract, named
 * "@allocatord-keeper-<pid>-<random>"), ALLOCATORD_KEEPER=<keeper pid>
 * and, from the second start on, LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES
 * with every descriptor stored (fdstore.h). The keeper obeys only
 * datagrams whose SCM_CREDENTIALS pid is the serving process's: FDSTORE=1
 * (a later descriptor under a name replaces the earlier one),
 * FDSTOREREMOVE=1, READY=1, STATUS= (logged at debug level); the rest is
 * ignored, as systemd ignores what it does not know.
 *
 * Bounded: at most KEEPER_STORE_MAX descriptors are stored (a region's
 * memfd each, plus state, books, listen, lock, with room for as many
 * again: 2 * WIRE_MAX_REGIONS + 4); one more is refused, closed and
 * logged. Its memory is that table, fixed.
 *
 * When the serving process ends:
 *   exit 0                  a clean stop: the keeper exits 0.
 *   exit 1 before READY=1   a start-up failure (a bad configuration, a
 *                           state refused): logged, the keeper exits 1,
 *                           since a restart would fail the same way.
 *   exit 75 (hand-over)     an upgrade: started again at once.
 *   anything else           (a signal, another status, exit 1 after
 *                           READY) started again at once, with the cause
 *                           logged; when serving processes die within
 *                           KEEPER_FAST_MS of their start several times in
 *                           a row, the restarts wait 100 ms, 200 ms, ...
 *                           up to 5 s.
 * Signals to the keeper: SIGTERM, SIGINT -> SIGTERM to the serving process
 * (its clean stop), and the keeper exits with its status; SIGHUP ->
 * forwarded (reload); SIGUSR2 -> forwarded: the serving process hands over
 * (exit 75), then the keeper execs the binary now on disk in its own place
 * (same pid), passing its store in KEEPER_STORE_ENV, and that new keeper
 * starts the new serving process. Should that exec fail, the keeper goes on
 * as it was and starts a serving process itself.
 */
#ifndef ALLOCATORD_DAEMON_KEEPER_H
#define ALLOCATORD_DAEMON_KEEPER_H

#include "daemon/errbuf.h"
#include "daemon/fdstore.h"
#include "proto/wire.h"

#define KEEPER_STORE_MAX (2 * WIRE_MAX_REGIONS + 4)

/* The store across the keeper's own exec at an upgrade: "fd=name:..." */
#define KEEPER_STORE_ENV "ALLOCATORD_KEEPER_STORE"

/* A serving process that dies sooner than this after its start counts
 * as a fast death (backoff). */
#define KEEPER_FAST_MS 1000

/*
 * Run the serving process with argv (main's, argv[0] included) until it
 * stops, as above. passed is what this process was given (fdstore_init:
 * e.g. a socket systemd's socket activation passed without NOTIFY_SOCKET);
 * the keeper takes every descriptor in it into its store. Returns the
 * keeper's exit status; a failure to start (no /proc/self/exe, socket,
 * fork) is 1 with the reason logged.
 */
int keeper_run(char **argv, struct fdstore *passed);

#endif
