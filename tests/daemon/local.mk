# The daemon's Check suites: its modules driven directly, and the allocatord
# program over raw sockets.
check_PROGRAMS += tests/daemon/check_daemon
tests_daemon_check_daemon_SOURCES = \
	tests/daemon/check_daemon.c tests/daemon/check_daemon.h \
	tests/daemon/daemon_fixture.c tests/daemon/daemon_fixture.h \
	tests/daemon/test_config.c \
	tests/daemon/test_choice.c \
	tests/daemon/test_ops.c \
	tests/daemon/test_ops_random.c \
	tests/daemon/test_ops_limits.c \
	tests/daemon/test_holds.c \
	tests/daemon/test_books.c \
	tests/daemon/test_books_server.c \
	tests/daemon/test_peer_groups.c \
	tests/daemon/test_limits.c \
	tests/daemon/test_lease.c \
	tests/daemon/test_dispatch.c \
	tests/daemon/test_memcheck.c \
	tests/daemon/test_startup.c \
	tests/daemon/raw_client.c tests/daemon/raw_client.h \
	tests/daemon/test_server.c \
	tests/daemon/test_io_abuse.c \
	tests/daemon/test_hostile.c \
	tests/daemon/test_lease_server.c \
	tests/daemon/test_limits_server.c \
	tests/daemon/test_steady.c \
	tests/daemon/test_reload.c \
	tests/daemon/test_state.c \
	tests/daemon/test_state_proc.c \
	tests/daemon/test_socket.c \
	tests/daemon/test_holes.c \
	tests/daemon/test_takeover.c
tests_daemon_check_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBUV_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_daemon_check_daemon_LDADD = daemon/libdaemon.la tests/common/libtestcommon.la $(CHECK_LIBS)
TESTS += tests/daemon/check_daemon

# Broken choice plug-ins that allocatord must refuse at start.
PLUGIN_TEST_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES += \
	tests/daemon/plugins/bad_abi.la \
	tests/daemon/plugins/no_symbol.la \
	tests/daemon/plugins/no_choose.la \
	tests/daemon/plugins/init_fails.la \
	tests/daemon/plugins/malloc_count.la \
	tests/daemon/plugins/swap_after_bind.la
tests_daemon_plugins_bad_abi_la_SOURCES = tests/daemon/plugins/bad_abi.c
tests_daemon_plugins_bad_abi_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_TEST_LDFLAGS)
tests_daemon_plugins_no_symbol_la_SOURCES = tests/daemon/plugins/no_symbol.c
tests_daemon_plugins_no_symbol_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_TEST_LDFLAGS)
tests_daemon_plugins_no_choose_la_SOURCES = tests/daemon/plugins/no_choose.c
tests_daemon_plugins_no_choose_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_TEST_LDFLAGS)
tests_daemon_plugins_init_fails_la_SOURCES = tests/daemon/plugins/init_fails.c
tests_daemon_plugins_init_fails_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_TEST_LDFLAGS)
# An LD_PRELOAD shim, not a plug-in; never built with the sanitizers' runtime.
tests_daemon_plugins_malloc_count_la_SOURCES = tests/daemon/plugins/malloc_count.c
tests_daemon_plugins_malloc_count_la_CFLAGS = $(WARN_CFLAGS) -Wno-missing-prototypes
tests_daemon_plugins_malloc_count_la_LDFLAGS = $(PLUGIN_TEST_LDFLAGS)
# The same: the attacker who swaps the socket file for a link after bind.
tests_daemon_plugins_swap_after_bind_la_SOURCES = tests/daemon/plugins/swap_after_bind.c
tests_daemon_plugins_swap_after_bind_la_CFLAGS = $(WARN_CFLAGS) -Wno-missing-prototypes
tests_daemon_plugins_swap_after_bind_la_LDFLAGS = $(PLUGIN_TEST_LDFLAGS)
tests_daemon_plugins_swap_after_bind_la_LIBADD = -ldl
