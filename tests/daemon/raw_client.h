/*
 * A bare protocol client for tests that must send what libmemclient never
 * would: raw frames, garbage, requests without reading replies.
 */
#ifndef ALLOCATORD_TESTS_RAW_CLIENT_H
#define ALLOCATORD_TESTS_RAW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/allocd.pb-c.h"

/* Descriptors a hello may bring: regions, their shared bits, a lease page. */
#define RAW_MAX_FDS (2 * 64 + 1)

/* Connected socket to path, or -1. */
int raw_connect(const char *path);

/* Write all of buf; 0 or -1. */
int raw_write(int fd, const void *buf, size_t len);

/* Send r as one frame; 0 or -1. */
int raw_send(int fd, const Allocd__Request *r);

/* The next reply within timeout_ms, or NULL on EOF, error or timeout.
 * Descriptors that come with it are stored in fds (up to *nfds, which is
 * set to the count) or closed when fds is NULL. Free the reply with
 * allocd__reply__free_unpacked(r, NULL). */
Allocd__Reply *raw_recv(int fd, int timeout_ms, int *fds, size_t *nfds);

/* Did the daemon close the connection within timeout_ms (reading and
 * dropping anything before the end)? 1 yes, 0 no. */
int raw_closed(int fd, int timeout_ms);

/* Hello and its reply, as a client older than leased caches says it (the
 * region memfds come alone); returns the status (0 ok) or -1 on no reply. */
int raw_hello(int fd, int *fds, size_t *nfds);

/* The same, asking for leases (shared bits and a lease page) or not. */
int raw_hello_leases(int fd, bool leases, int *fds, size_t *nfds);

/* Hello; the whole reply (free it) with its descriptors as in raw_recv, or
 * NULL. */
/* Send a hello (id 1) asking for leases or not, and read nothing. 0 or -1. */
int raw_send_hello(int fd, bool leases);

Allocd__Reply *raw_hello_reply(int fd, bool leases, int *fds, size_t *nfds);

/* Hello resuming session resume_id with its token (len bytes); the whole
 * reply (free it) with its descriptors as in raw_recv, or NULL. */
Allocd__Reply *raw_hello_resume(int fd, uint64_t resume_id, const uint8_t *token, size_t len,
				int *fds, size_t *nfds);

/* Alloc with the cache fields; the reply's status, or -1. Up to max offsets
 * go to offsets, their number to *n (when not NULL). */
int raw_alloc_lease(int fd, uint64_t id, const char *pool, uint64_t count, uint64_t lease,
		    uint64_t cache, uint64_t *offsets, size_t max, size_t *n);

/* Retain n offsets of name; the reply's status, or -1. */
int raw_retain(int fd, uint64_t id, const char *name, uint64_t n, const uint64_t *offsets);

/* Allocate count blocks of pool with request id; the reply's status, or
 * -1. The offsets go to offsets when not NULL (room for count). */
int raw_alloc(int fd, uint64_t id, const char *pool, uint64_t count, uint64_t *offsets);

/* A Status request numbered id: its reply (status_info set; free it with
 * allocd__reply__free_unpacked), or NULL. */
Allocd__Reply *raw_daemon_status(int fd, uint64_t id);

/* Free n offsets of name; the reply's status, or -1. */
int raw_free(int fd, uint64_t id, const char *name, uint64_t n, const uint64_t *offsets);

#endif
