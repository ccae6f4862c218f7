# libmemclient's tests: Check suites against a real allocatord started per
# test (tests/common/client_fixture), plus a scripted fake daemon for replies a
# real one never sends (hence proto/libproto.la: the fake packs its own).
# -no-install links a real binary, not a libtool wrapper, so that valgrind
# (ALLOCATORD_VALGRIND=1, see tests/run-test) sees the test itself.
check_PROGRAMS += tests/client/check_client
tests_client_check_client_SOURCES = \
	tests/client/check_client.c tests/client/check_client.h \
	tests/client/test_connect.c \
	tests/client/test_wire.c \
	tests/client/test_alloc.c \
	tests/client/test_errors.c \
	tests/client/test_stats.c \
	tests/client/test_groups.c \
	tests/client/test_share.c \
	tests/client/test_async.c \
	tests/client/test_cache.c \
	tests/client/cache_procs.c tests/client/cache_procs.h \
	tests/client/test_cache_model.c \
	tests/client/test_cache_misuse.c \
	tests/client/test_examples.c \
	tests/client/test_timeout.c \
	tests/client/test_reload.c \
	tests/client/test_align.c \
	tests/client/test_resume.c \
	tests/client/test_restart.c
tests_client_check_client_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PROTOBUF_C_CFLAGS) -pthread
tests_client_check_client_LDFLAGS = $(AM_LDFLAGS) -no-install -pthread
tests_client_check_client_LDADD = tests/common/libtestclient.la client/libmemclient.la \
	proto/libproto.la tests/common/libtestcommon.la $(PROTOBUF_C_LIBS) $(CHECK_LIBS)
TESTS += tests/client/check_client

# The kill soak: a bounded run in make check; tests/client/soak --kills 1000
# for the long one.
check_PROGRAMS += tests/client/soak
tests_client_soak_SOURCES = tests/client/soak.c
tests_client_soak_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_client_soak_LDADD = client/libmemclient.la tests/common/libtestcommon.la
TESTS += tests/client/soak
