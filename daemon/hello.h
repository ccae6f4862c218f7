/*
 * hello: the hello reply, built in the daemon's arena.
 */
#ifndef ALLOCATORD_DAEMON_HELLO_H
#define ALLOCATORD_DAEMON_HELLO_H

#include "daemon/daemon.h"
#include "daemon/errbuf.h"
#include "proto/allocd.pb-c.h"

/* The regions s may use, in table order, and their objects, with the
 * daemon's version, max_frame and max_batch. 0 or -ENOMEM (arena full). */
int hello_reply_build(struct daemon *d, const struct session *s, Allocd__HelloReply *out,
		      struct errbuf *e);

#endif
