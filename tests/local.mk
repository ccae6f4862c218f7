# Tests: one Check runner per layer; benchmarks are built by `make` and run by
# `make bench`, never by `make check`.

LOG_COMPILER = $(top_srcdir)/tests/run-test
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir;
EXTRA_DIST += tests/run-test

# Built by plain make too: the benchmarks use it.
noinst_LTLIBRARIES += tests/common/libtestcommon.la
tests_common_libtestcommon_la_SOURCES = tests/common/seed.c tests/common/seed.h \
	tests/common/daemon_proc.c tests/common/daemon_proc.h

check_PROGRAMS += tests/core/check_core
tests_core_check_core_SOURCES = \
	tests/core/check_core.c tests/core/check_core.h \
	tests/core/test_bitarray.c \
	tests/core/test_mem_blocks.c \
	tests/core/test_mem_blocks_define.c \
	tests/core/test_multi_mem_blocks.c \
	tests/core/test_mem_blocks_random.c \
	tests/core/test_tlsf.c \
	tests/core/test_tlsf_random.c
tests_core_check_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_core_check_core_LDADD = core/libmemcore.la tests/common/libtestcommon.la $(CHECK_LIBS)
TESTS += tests/core/check_core

check_PROGRAMS += tests/daemon/check_daemon
tests_daemon_check_daemon_SOURCES = \
	tests/daemon/check_daemon.c tests/daemon/check_daemon.h \
	tests/daemon/daemon_fixture.c tests/daemon/daemon_fixture.h \
	tests/daemon/test_config.c \
	tests/daemon/test_choice.c \
	tests/daemon/test_ops.c \
	tests/daemon/test_ops_random.c \
	tests/daemon/test_lease.c \
	tests/daemon/test_dispatch.c \
	tests/daemon/test_startup.c \
	tests/daemon/raw_client.c tests/daemon/raw_client.h \
	tests/daemon/test_server.c \
	tests/daemon/test_lease_server.c \
	tests/daemon/test_steady.c
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
	tests/daemon/plugins/malloc_count.la
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
