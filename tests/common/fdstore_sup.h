/*
 * A small fd-store supervisor for tests: it does what systemd does for a
 * Type=notify service with FileDescriptorStoreMax=, so that the systemd
 * path is tested without systemd. It runs allocatord with NOTIFY_SOCKET
 * (its own abstract datagram socket; no keeper then), keeps every
 * descriptor stored with FDSTORE=1 by its FDNAME (a later one under a name
 * replaces the earlier, FDSTOREREMOVE=1 drops one), and starts the next
 * allocatord with them as LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES.
 */
#ifndef ALLOCATORD_TESTS_FDSTORE_SUP_H
#define ALLOCATORD_TESTS_FDSTORE_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TEST_SUP_MAX 64

struct test_sup {
	pid_t pid; /* the allocatord running, 0 when none */
	int sock;  /* the notify socket */
	char notify[108];
	char dir[64];
	char socket[100];
	char config[128];
	char log[128];
	size_t n;
	struct {
		char name[256];
		int fd;
	} fds[TEST_SUP_MAX];
	bool ready;      /* the running one said READY=1 */
	char option[32]; /* one more argument for the next start (e.g.
			  * "--discard-state"), "" for none */
};

/* Make the notify socket and a temporary directory, write config_text
 * (NULL: the built-in default) and start allocatord there; wait for
 * READY=1. 0, or -1 with the reason and the log on stderr. */
int test_sup_start(struct test_sup *s, const char *config_text);

/* Read every queued message (READY=1, FDSTORE=1, FDSTOREREMOVE=1). */
void test_sup_collect(struct test_sup *s);

/* The descriptor stored under name, or -1. */
int test_sup_fd(const struct test_sup *s, const char *name);

/* SIGKILL every allocatord process the supervisor started, and wait for
 * it; what it stored before dying is collected first. */
void test_sup_kill(struct test_sup *s);

/* Start the next allocatord with the stored descriptors and wait for its
 * READY=1 (up to 10 s). 0, or -1 with the log on stderr. */
int test_sup_restart(struct test_sup *s);

/* SIGTERM the running one (if any) and return its exit status (-1: died
 * of a signal or did not exit in 20 s); the store is kept. */
int test_sup_term(struct test_sup *s);

/* Stop whatever runs (SIGKILL), close the store, remove the directory. */
void test_sup_fini(struct test_sup *s);

#endif
