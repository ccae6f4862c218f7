# allocatord: everything but main() lives in a convenience library so that the
# tests and the fuzz harnesses drive the very code the daemon runs.
noinst_LTLIBRARIES += daemon/libdaemon.la
daemon_libdaemon_la_SOURCES = \
	daemon/config.c daemon/config.h daemon/config_print.c daemon/config_diff.c \
	daemon/config_parse.c daemon/config_parse.h \
	daemon/choice.c daemon/choice.h daemon/choice_builtin.c daemon/choice_plugin.h \
	daemon/errbuf.c daemon/errbuf.h \
	daemon/bytes.c daemon/bytes.h \
	daemon/log.c daemon/log.h \
	daemon/region.c daemon/region.h \
	daemon/object_table.c daemon/object_table.h \
	daemon/state.c daemon/state.h daemon/state_dir.c daemon/state_dir.h \
	daemon/ledger.c daemon/ledger.h \
	daemon/holds.c daemon/holds.h \
	daemon/books.c daemon/books.h \
	daemon/session.c daemon/session.h \
	daemon/tenant.c daemon/tenant.h \
	daemon/lease.c daemon/lease.h \
	daemon/lease_page.c daemon/lease_page.h \
	daemon/ops.c daemon/ops.h \
	daemon/arena.c daemon/arena.h \
	daemon/bytebuf.c daemon/bytebuf.h \
	daemon/wire.c daemon/wire.h \
	daemon/hello.c daemon/hello.h \
	daemon/stats.c daemon/stats.h \
	daemon/dispatch.c daemon/dispatch.h \
	daemon/daemon.c daemon/daemon.h \
	daemon/reload.c daemon/reload.h \
	daemon/sockfile.c daemon/sockfile.h \
	daemon/fdstore.c daemon/fdstore.h \
	daemon/keeper.c daemon/keeper.h \
	daemon/memcheck.c daemon/memcheck.h \
	daemon/server.c daemon/server.h
nodist_daemon_libdaemon_la_SOURCES = daemon/default_conf.c
daemon_libdaemon_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBUV_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) -DPKGLIBDIR='"$(pkglibdir)"'
daemon_libdaemon_la_LIBADD = core/libmemcore.la proto/libproto.la \
	$(LIBCONFIG_LIBS) $(LIBUV_LIBS) $(PROTOBUF_C_LIBS) $(LIBS)

sbin_PROGRAMS += daemon/allocatord
daemon_allocatord_SOURCES = daemon/main.c
daemon_allocatord_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS) $(PROTOBUF_C_CFLAGS)
daemon_allocatord_LDADD = daemon/libdaemon.la
# Choice plug-ins resolve the core symbols (sys_mem_blocks_*) from the daemon.
daemon_allocatord_LDFLAGS = $(AM_LDFLAGS) -export-dynamic

# The built-in default configuration, embedded as a C string.
daemon/default_conf.c: $(top_srcdir)/daemon/default.conf $(top_srcdir)/daemon/embed.sh
	$(AM_V_GEN)$(MKDIR_P) daemon && $(SHELL) $(top_srcdir)/daemon/embed.sh config_default_text \
		< $(top_srcdir)/daemon/default.conf > $@.tmp && mv $@.tmp $@
BUILT_SOURCES += daemon/default_conf.c
CLEANFILES += daemon/default_conf.c
EXTRA_DIST += daemon/default.conf daemon/embed.sh

# For choice plug-ins built outside this tree: <allocatord/choice_plugin.h>,
# which includes "core/mem_blocks.h" (cc -I$(includedir)/allocatord), and
# allocatord-plugin.pc, which says so (and where plug-ins go) to pkg-config.
allocatordincludedir = $(includedir)/allocatord
allocatordinclude_HEADERS = daemon/choice_plugin.h
allocatordcoredir = $(includedir)/allocatord/core
allocatordcore_HEADERS = core/bitarray.h core/mem_blocks.h
pkgconfig_DATA += daemon/allocatord-plugin.pc
EXTRA_DIST += daemon/allocatord-plugin.pc.in
DISTCLEANFILES += daemon/allocatord-plugin.pc

dist_man_MANS += man/allocatord.8 man/allocatord.conf.5
