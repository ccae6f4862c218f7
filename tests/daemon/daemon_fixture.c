#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "tests/daemon/daemon_fixture.h"

const char fixture_config[] =
    "log_level = \"error\";\n"
    "regions = (\n"
    "  { name = \"r\";\n"
    "    pools = ( { name = \"p\"; block_size = 64; blocks = 100; uid_quota = 100; },\n"
    "              { name = \"q\"; block_size = 1536; blocks = 10; align = 512;\n"
    "                client_quota = 4; uid_quota = 10; } );\n"
    "    heaps = ( { name = \"h\"; size = \"64K\"; granule = 64; max_allocs = 64;\n"
    "                client_quota = \"8K\"; uid_quota = \"64K\"; } ); },\n"
    "  { name = \"secret\"; allow_uids = [ 12345 ];\n"
    "    pools = ( { name = \"s\"; block_size = 64; blocks = 8; uid_quota = 8; } ); }\n"
    ");\n"
    "groups = ( { name = \"g\"; pools = [ \"p\", \"q\" ]; choice = \"by_size\"; },\n"
    "           { name = \"gi\"; pools = [ \"p\", \"q\" ]; choice = \"index\"; } );\n";

void fixture_daemon(struct daemon *d, const char *text)
{
	struct errbuf e;
	struct config cfg;
	int rc;

	rc =
	    config_load_string(text ? text : fixture_config, "fixture", &cfg, e.msg, sizeof(e.msg));
	ck_assert_msg(rc == 0, "config: %s", e.msg);
	log_set_level(cfg.log_level);
	rc = daemon_init(d, &cfg, true, NULL, false, &e);
	ck_assert_msg(rc == 0, "daemon_init: %s", e.msg);
}

void fixture_dispatch(struct dispatch *x, struct daemon *d)
{
	struct errbuf e;
	int rc = dispatch_init(x, d, &e);

	ck_assert_msg(rc == 0, "dispatch_init: %s", e.msg);
}

struct session *fixture_session(struct daemon *d, uid_t uid, gid_t gid)
{
	return fixture_session_groups(d, uid, gid, NULL, 0);
}

struct session *fixture_session_groups(struct daemon *d, uid_t uid, gid_t gid, const gid_t *groups,
				       size_t ngroups)
{
	struct session_creds cr = {
	    .pid = getpid(), .uid = uid, .gid = gid, .groups = groups, .ngroups = ngroups};
	struct session *s;
	struct errbuf e;
	int rc = daemon_session_start(d, &cr, &s, &e);

	ck_assert_msg(rc == 0, "daemon_session_start: %s", e.msg);
	/* As after the server sent its hello reply: resumable. */
	s->hello_done = true;
	ledger_sess_greeted(&d->books, s->slot);
	return s;
}

struct object *fixture_object(struct daemon *d, const char *name)
{
	struct object *o = object_table_find(&d->table, name);

	ck_assert_msg(o != NULL, "no object %s", name);
	return o;
}

void fixture_put_frame(struct session *s, const void *data, uint32_t len)
{
	uint8_t hdr[4] = {(uint8_t) len, (uint8_t) (len >> 8), (uint8_t) (len >> 16),
			  (uint8_t) (len >> 24)};

	ck_assert_int_eq(bytebuf_reserve(&s->in, 4 + len), 0);
	memcpy(s->in.data + s->in.tail, hdr, 4);
	memcpy(s->in.data + s->in.tail + 4, data, len);
	s->in.tail += 4 + len;
}

void fixture_put_request(struct session *s, Allocd__Request *r)
{
	size_t n = allocd__request__get_packed_size(r);
	uint8_t *buf = malloc(n + 1);

	allocd__request__pack(r, buf);
	fixture_put_frame(s, buf, (uint32_t) n);
	free(buf);
}

Allocd__Reply *fixture_take_reply(struct session *s)
{
	const uint8_t *payload;
	uint32_t len;
	Allocd__Reply *r;

	if (wire_frame_peek(&s->out, 1u << 24, &payload, &len) != 1)
		return NULL;
	r = allocd__reply__unpack(NULL, len, payload);
	ck_assert_ptr_nonnull(r);
	bytebuf_consume(&s->out, 4 + len);
	return r;
}
