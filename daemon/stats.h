/*
 * stats: the listing replies (List, Status, Clients, Map), built in the
 * daemon's arena and limited to what the asking session may see: objects in
 * the regions its allow-lists admit.
 */
#ifndef ALLOCATORD_DAEMON_STATS_H
#define ALLOCATORD_DAEMON_STATS_H

#include "daemon/daemon.h"
#include "daemon/errbuf.h"
#include "proto/allocd.pb-c.h"

/* Every visible object, or only `name` (-ENOENT / -EACCES otherwise). */
int stats_list(struct daemon *d, const struct session *s, const char *name, Allocd__ListReply *out,
	       struct errbuf *e);

int stats_status(struct daemon *d, const struct session *s, Allocd__StatusReply *out,
		 struct errbuf *e);

/* Clients with an id above after_id, as many as fit in one frame. */
int stats_clients(struct daemon *d, const struct session *s, uint64_t after_id,
		  Allocd__ClientsReply *out, struct errbuf *e);

/* The allocation bitmap of blocks [first, first + count) of a pool, cut to
 * what fits in one frame. */
int stats_map(struct daemon *d, const struct session *s, const char *pool, uint64_t first,
	      uint64_t count, Allocd__MapReply *out, struct errbuf *e);

/*
 * Will the largest hello, list and per-client replies fit in one frame? They
 * are not paged (the object count is fixed by the config), so a config with
 * too many objects for max_frame is refused at start instead of locking
 * clients out later. 0, or -E2BIG with a message naming the sizes. Uses and
 * resets d's arena: call it before serving (dispatch_init does).
 */
int stats_check_fit(struct daemon *d, struct errbuf *e);

#endif
