# Issue 10's tests with real processes: the serving process killed and
# replaced under running clients. The restart soak is in make check (24
# takeovers); ALLOCATORD_RESTART_LONG=1 tests/restart/restart_soak runs 200.
check_PROGRAMS += tests/restart/restart_soak
tests_restart_restart_soak_SOURCES = tests/restart/restart_soak.c \
	tests/restart/restart_soak.h tests/restart/restart_worker.c
tests_restart_restart_soak_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_restart_restart_soak_LDADD = client/libmemclient.la tests/common/libtestcommon.la
TESTS += tests/restart/restart_soak
