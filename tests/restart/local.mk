# Issue 10's tests with real processes: the serving process killed and
# replaced under running clients. The restart soak is in make check (24
# takeovers); ALLOCATORD_RESTART_LONG=1 tests/restart/restart_soak runs 200.
check_PROGRAMS += tests/restart/check_restart
tests_restart_check_restart_SOURCES = \
	tests/restart/check_restart.c tests/restart/check_restart.h \
	tests/restart/test_bad_state.c
tests_restart_check_restart_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_restart_check_restart_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_restart_check_restart_LDADD = tests/common/libtestclient.la client/libmemclient.la \
	tests/common/libtestcommon.la $(CHECK_LIBS)
TESTS += tests/restart/check_restart

check_PROGRAMS += tests/restart/restart_soak
tests_restart_restart_soak_SOURCES = tests/restart/restart_soak.c \
	tests/restart/restart_soak.h tests/restart/restart_worker.c tests/restart/restart_check.c
tests_restart_restart_soak_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_restart_restart_soak_LDADD = client/libmemclient.la tests/common/libtestcommon.la
TESTS += tests/restart/restart_soak
