# libmemclient (shared, versioned, only mc_* exported).
lib_LTLIBRARIES += client/libmemclient.la
client_libmemclient_la_SOURCES = \
	client/memclient.h client/mc_internal.h \
	client/mc_connect.c \
	client/mc_call.c \
	client/mc_timeout.c \
	client/mc_alloc.c \
	client/mc_async.c \
	client/mc_cache.c \
	client/mc_learn.c \
	client/mc_resume.c \
	client/mc_stats.c
client_libmemclient_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) -pthread
client_libmemclient_la_LIBADD = proto/libproto.la $(PROTOBUF_C_LIBS)
client_libmemclient_la_LDFLAGS = $(AM_LDFLAGS) -pthread -version-info $(MEMCLIENT_LT_VERSION) \
	-export-symbols-regex '^mc_'
include_HEADERS += client/memclient.h
pkgconfig_DATA += client/memclient.pc
EXTRA_DIST += client/memclient.pc.in
DISTCLEANFILES += client/memclient.pc
dist_man_MANS += man/libmemclient.3

# After a real install (no DESTDIR) as root, refresh the linker cache:
# without it memctl, linked to libmemclient in $(libdir), fails to start
# until someone runs ldconfig. Staged installs and non-root installs leave
# the cache alone (README: "Installing" says so).
install-exec-hook:
	@if test -z "$(DESTDIR)" && test "$$(id -u)" = 0 && command -v ldconfig >/dev/null; then \
		echo "ldconfig"; ldconfig || :; \
	fi
