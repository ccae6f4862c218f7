#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/ops.h"
#include "daemon/session.h"

/* The peer's process name, for memctl clients; "?" if it is gone already. */
static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(comm, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(comm, len, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

void session_log(const struct session *s, enum log_level level, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (level > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_msg(level, "client %llu (pid %d, %s): %s", (unsigned long long)s->id, (int)s->pid,
		s->comm, what);
}

int session_start(struct daemon *d, const struct session_creds *cr, struct session **out)
{
	uint32_t slot = 0;
	struct session *s;

	*out = NULL;
	if (d->nsessions >= d->cfg.max_clients)
		return -EUSERS;
	while (d->slots[slot] != NULL)
		slot++;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->held = calloc(d->layout.nobjects ? d->layout.nobjects : 1, sizeof(*s->held));
	if (s->held == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->id = ++d->next_session_id;
	s->slot = slot;
	s->pid = cr->pid;
	s->uid = cr->uid;
	s->gid = cr->gid;
	s->ngroups = cr->ngroups < SESSION_MAX_GROUPS ? cr->ngroups : SESSION_MAX_GROUPS;
	if (s->ngroups > 0)
		memcpy(s->groups, cr->groups, s->ngroups * sizeof(*s->groups));
	s->since_ms = daemon_wall_ms();
	s->hold_head = HOLD_NIL;
	s->lease.fd = -1;
	read_comm(cr->pid, s->comm, sizeof(s->comm));
	for (size_t i = 0; i < d->layout.nregions; i++)
		if (region_allows(&d->layout.regions[i], s->uid, s->gid, s->groups, s->ngroups))
			s->regions |= UINT64_C(1) << i;

	d->slots[slot] = s;
	d->nsessions++;
	*out = s;
	log_debug("client %llu connected: pid %d uid %u gid %u (%s)", (unsigned long long)s->id,
		  (int)s->pid, (unsigned)s->uid, (unsigned)s->gid, s->comm);
	return 0;
}

void session_end(struct daemon *d, struct session *s)
{
	uint64_t n = ops_reclaim(d, s);

	if (n > 0)
		log_info("client %llu (pid %d, %s) gone: reclaimed %llu holds",
			 (unsigned long long)s->id, (int)s->pid, s->comm, (unsigned long long)n);
	else
		log_debug("client %llu (pid %d, %s) gone", (unsigned long long)s->id, (int)s->pid,
			  s->comm);
	d->slots[s->slot] = NULL;
	d->nsessions--;
	wbuf_free(&s->in);
	wbuf_free(&s->out);
	lease_page_close(&s->lease);
	free(s->held);
	free(s);
}
