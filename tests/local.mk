# Tests: one Check runner per layer; benchmarks are built by `make` and run by
# `make bench`, never by `make check`.

LOG_COMPILER = $(top_srcdir)/tests/run-test
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir;
EXTRA_DIST += tests/run-test

# Built by plain make too: the benchmarks use it.
noinst_LTLIBRARIES += tests/common/libtestcommon.la
tests_common_libtestcommon_la_SOURCES = tests/common/seed.c tests/common/seed.h

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
