/*
 * A fake allocatord for libmemclient's tests: a forked process that listens
 * on a socket in a fresh temporary directory and runs a scripted
 * conversation, for what a real daemon never sends (tests/client/test_wire)
 * and for restarts a test must control to the byte (tests/client/
 * test_resume): a connection closed after a whole reply, half a reply or
 * none, a resume hello answered with chosen applied ids or other memory.
 *
 * The script runs in the fake's process with the first accepted connection;
 * it may accept more (fake_accept). It returns 0 when the conversation went
 * as planned -- the fake then waits, connections still open, until
 * fake_stop kills it -- or a code that says where it did not, which
 * fake_stop reports as the fake's exit status. Steps synchronise the two
 * processes without timing: the fake says one with fake_step, the test waits
 * for it with fake_wait_step; the test says one with fake_tell and the fake
 * waits for it with fake_heard.
 */
#ifndef ALLOCATORD_TESTS_FAKE_DAEMON_H
#define ALLOCATORD_TESTS_FAKE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/allocd.pb-c.h"

struct fake_daemon {
	char dir[64];
	char path[108];
	pid_t pid;
	int lfd;     /* the listening socket (the fake's process only) */
	int to_test; /* step pipes: the fake's write end / the test's read end */
	int to_fake;
};

typedef int (*fake_script)(struct fake_daemon *f, int conn);

/* Start the fake; it listens once this returns. */
void fake_start(struct fake_daemon *f, fake_script script);

/* The script must have finished and be waiting (it is killed here), not
 * have exited with a complaint (its code is then the failed assertion's
 * value). Removes the directory. */
void fake_stop(struct fake_daemon *f);

/* The fake's side. */
int fake_accept(struct fake_daemon *f); /* the next connection, or -1 */
bool fake_step(struct fake_daemon *f);  /* tell the test */
bool fake_heard(struct fake_daemon *f); /* wait for the test's word */

/* The test's side. */
void fake_wait_step(struct fake_daemon *f);
void fake_tell(struct fake_daemon *f);

/* The next request frame (free with allocd__request__free_unpacked(r,
 * NULL)), or NULL on EOF or a frame that does not decode. */
Allocd__Request *fake_recv(int conn);

/* One reply frame, with fds (if any) on its first byte; its first keep
 * bytes only when keep < the frame's length (half a reply). 0 or -1. */
int fake_send(int conn, const Allocd__Reply *r, const int *fds, size_t nfds);
int fake_send_cut(int conn, const Allocd__Reply *r, size_t keep);

/* A memfd of size bytes, or -1. */
int fake_memfd(size_t size);

#endif
