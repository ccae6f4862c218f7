# Tests: what every test folder shares (the test driver, tests/common). Each
# folder under tests/ has its own local.mk: one Check runner per layer;
# benchmarks are built by `make` and run by `make bench`, never by
# `make check`.

LOG_COMPILER = $(top_srcdir)/tests/run-test
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir;
EXTRA_DIST += tests/run-test

# The README's tour, run as written (it needs the programs `make` builds).
TESTS += tests/doc/readme-tour
EXTRA_DIST += tests/doc/readme-tour

# Built by plain make too: the benchmarks use it.
noinst_LTLIBRARIES += tests/common/libtestcommon.la
tests_common_libtestcommon_la_SOURCES = tests/common/seed.c tests/common/seed.h \
	tests/common/daemon_proc.c tests/common/daemon_proc.h \
	tests/common/fdstore_sup.c tests/common/fdstore_sup.h

# The daemon-per-test Check fixture of the suites that are libmemclient's
# clients (tests/client, tests/memctl); they link libmemclient themselves.
check_LTLIBRARIES += tests/common/libtestclient.la
tests_common_libtestclient_la_SOURCES = \
	tests/common/client_fixture.c tests/common/client_fixture.h \
	tests/common/fake_daemon.c tests/common/fake_daemon.h
tests_common_libtestclient_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PROTOBUF_C_CFLAGS)
