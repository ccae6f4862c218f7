# memctl's tests: the built memctl/memctl run against a real allocatord per
# test (tests/common/client_fixture), its output read back row by row and
# its --json parsed with jansson. -no-install as in tests/client, for
# valgrind.
check_PROGRAMS += tests/memctl/check_memctl
tests_memctl_check_memctl_SOURCES = \
	tests/memctl/check_memctl.c tests/memctl/check_memctl.h \
	tests/memctl/memctl_fixture.c tests/memctl/memctl_fixture.h \
	tests/memctl/test_memctl.c \
	tests/memctl/test_memctl_cli.c \
	tests/memctl/test_memctl_cache.c \
	tests/memctl/test_memctl_ops.c
tests_memctl_check_memctl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_memctl_check_memctl_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_memctl_check_memctl_LDADD = tests/common/libtestclient.la client/libmemclient.la \
	tests/common/libtestcommon.la $(JANSSON_LIBS) $(CHECK_LIBS)
TESTS += tests/memctl/check_memctl
