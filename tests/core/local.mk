# The core layer's Check suites: the allocators alone, no daemon.
check_PROGRAMS += tests/core/check_core
tests_core_check_core_SOURCES = \
	tests/core/check_core.c tests/core/check_core.h \
	tests/core/test_bitarray.c \
	tests/core/test_mem_blocks.c \
	tests/core/test_mem_blocks_define.c \
	tests/core/test_multi_mem_blocks.c \
	tests/core/test_mem_blocks_random.c \
	tests/core/test_tlsf.c \
	tests/core/test_tlsf_random.c \
	tests/core/test_mem_blocks_threads.c
tests_core_check_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_core_check_core_LDADD = core/libmemcore.la tests/common/libtestcommon.la $(CHECK_LIBS)
TESTS += tests/core/check_core

