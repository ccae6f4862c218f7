/*
 * session: starting and releasing client sessions, their log lines and
 * region access (see session.h). A session's slot is its index in
 * daemon.slots for its whole life, and holds name sessions by slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "daemon/holds.h"
#include "daemon/log.h"
#include "daemon/session.h"

/* The peer's process name, for memctl clients; "?" if it is gone already. */
static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	char raw[64];
	ssize_t n;
	int fd;

	snprintf(comm, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	if (n <= 0)
		return;
	raw[n] = '\0';
	raw[strcspn(raw, "\n")] = '\0';
	/* Any process may name itself anything: escapes included. */
	log_sanitize(comm, len, raw);
}

uint64_t session_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name (field 2) may hold anything, ')' too: fields 3.. start
	 * after the last ')'. Field 22 is the 20th after it. */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &t) != 1)
		return 0;
	return t;
}

void session_record(const struct session *s)
{
	struct ledger_sess *r = s->rec;

	r->pid = s->pid;
	r->id = s->id;
	memcpy(r->token, s->token, sizeof(r->token));
	r->start_time = s->start_time;
	r->uid = s->uid;
	r->gid = s->gid;
	r->regions = s->regions;
	r->sent = s->sent;
	r->since_ms = s->since_ms;
	r->leases = s->leases;
	r->admin = s->admin;
	memcpy(r->comm, s->comm, sizeof(r->comm));
	memcpy(r->client_name, s->client_name, sizeof(r->client_name));
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* May s's uid log n more lines (see tenant_log_take)? A session not yet
 * joined to its uid's entry (only while it starts) is not limited by it,
 * nor is an administrator's (exempt from the per-uid limits, as with
 * max_clients_per_uid: root's many tools must not hide each other). */
static bool session_uid_may_log(struct session *s, uint64_t n)
{
	return s->tenant == NULL || s->admin || tenant_log_take(s->tenant, monotonic_ms(), n);
}

/* The count of s's suppressed lines is itself a line of its uid's: over
 * the uid's budget, the count joins the uid's own. */
static void session_log_suppressed(struct session *s)
{
	if (s->log_suppressed == 0)
		return;
	if (session_uid_may_log(s, 1))
		log_warn("client %llu (pid %d, %s): %llu log lines suppressed",
			 (unsigned long long) s->id, (int) s->pid, s->comm,
			 (unsigned long long) s->log_suppressed);
	else
		s->tenant->log_suppressed += s->log_suppressed - 1;
	s->log_suppressed = 0;
}

static void session_vlog(struct session *s, enum log_level level, bool limited, const char *fmt,
			 va_list ap)
{
	uint64_t now = monotonic_ms();
	char what[512];

	if (level > log_get_level())
		return;
	if (now - s->log_window_ms >= SESSION_LOG_WINDOW_MS) {
		session_log_suppressed(s);
		s->log_window_ms = now;
		s->log_lines = 0;
	}
	if (limited && s->log_lines >= SESSION_LOG_BURST) {
		s->log_suppressed++;
		return;
	}
	/* Every line counts against the uid's budget, the final one too: a
	 * uid reconnecting for each burst must not get a line per connection. */
	if (!session_uid_may_log(s, 1))
		return;
	s->log_lines++;
	vsnprintf(what, sizeof(what), fmt, ap);
	log_msg(level, "client %llu (pid %d, %s): %s", (unsigned long long) s->id, (int) s->pid,
		s->comm, what);
}

void session_log(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vlog(s, level, true, fmt, ap);
	va_end(ap);
}

void session_log_final(struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	session_log_suppressed(s); /* what was dropped, before why it ends */
	va_start(ap, fmt);
	session_vlog(s, level, false, fmt, ap);
	va_end(ap);
}

struct session *session_new(const struct object_table *t, const struct session_creds *cr,
			    uint64_t id, uint32_t slot, uint64_t since_ms)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->held = calloc(t->nobjects ? t->nobjects : 1, sizeof(*s->held));
	if (s->held == NULL) {
		free(s);
		return NULL;
	}
	s->id = id;
	s->slot = slot;
	s->pid = cr->pid;
	s->uid = cr->uid;
	s->gid = cr->gid;
	s->since_ms = since_ms;
	s->log_window_ms = monotonic_ms();
	s->hold_head = HOLD_NIL;
	s->lease.fd = -1;
	s->pidfd = -1;
	s->start_time = session_start_time(cr->pid);
	/* A secret: without it no other process resumes the session. */
	if (getrandom(s->token, sizeof(s->token), 0) != (ssize_t) sizeof(s->token)) {
		free(s->held);
		free(s);
		return NULL;
	}
	read_comm(cr->pid, s->comm, sizeof(s->comm));
	for (size_t i = 0; i < t->nregions; i++)
		if (!t->regions[i]->gone &&
		    region_allows(t->regions[i], s->uid, s->gid, cr->groups, cr->ngroups))
			s->regions |= UINT64_C(1) << i;
	log_debug("client %llu connected: pid %d uid %u gid %u (%s)", (unsigned long long) s->id,
		  (int) s->pid, (unsigned) s->uid, (unsigned) s->gid, s->comm);
	return s;
}

int session_grow(struct session *s, const struct object_table *t, const struct object_table *add)
{
	size_t now = t->nobjects + add->nobjects;
	struct session_held *held = realloc(s->held, (now ? now : 1) * sizeof(*held));

	if (held == NULL)
		return -ENOMEM;
	s->held = held;
	memset(held + t->nobjects, 0, add->nobjects * sizeof(*held));
	if (lease_page_grow(&s->lease, t->nobjects, now) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < add->nregions; i++)
		if (region_allows(add->regions[i], s->uid, s->gid, NULL, 0))
			s->regions |= UINT64_C(1) << add->regions[i]->index;
	session_record(s);
	return 0;
}

void session_free(struct session *s)
{
	session_log_suppressed(s);
	bytebuf_free(&s->in);
	bytebuf_free(&s->out);
	lease_page_close(&s->lease);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s->held);
	free(s);
}

int session_check_access(const struct session *s, const struct object *o, struct errbuf *e)
{
	if (session_may_use(s, o->region))
		return 0;
	/* The client named o; its region it may not even know of. */
	return errbuf_set(e, -EACCES, "%s '%s': not allowed for uid %u", object_kind_name(o->kind),
			  o->name, (unsigned) s->uid);
}
