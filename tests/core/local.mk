# The core layer's Check suites: the allocators alone, no daemon.
check_PROGRAMS += tests/core/check_core
tests_core_check_core_SOURCES = \
	tests/core/check_core.c tests/core/check_core.h \
	tests/core/test_bitarray.c \
	tests/core/test_mem_blocks.c \
	tests/core/test_mem_blocks_define.c \
	tests/core/test_multi_mem_blocks.c \
	tests/core/test_mem_blocks_random.c \
	tests/core/test_mem_blocks_rebuild.c \
	tests/core/test_tlsf.c \
	tests/core/test_tlsf_random.c \
	tests/core/test_tlsf_rebuild.c \
	tests/core/test_mem_blocks_threads.c
tests_core_check_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_core_check_core_LDADD = core/libmemcore.la tests/common/libtestcommon.la $(CHECK_LIBS)
TESTS += tests/core/check_core

# libmemcore installed and used on its own: the script, with this build's
# compiler and sanitizer flags filled in (a build with sanitizers installs
# a library that needs them to link).
check_SCRIPTS += tests/core/test_install
TESTS += tests/core/test_install
tests/core/test_install: $(top_srcdir)/tests/core/test_install.sh Makefile
	$(AM_V_GEN)$(MKDIR_P) tests/core && \
		sed -e 's|%CC%|$(CC)|g' -e 's|%SAN_CFLAGS%|$(SAN_CFLAGS)|g' \
		    -e 's|%SAN_LDFLAGS%|$(SAN_LDFLAGS)|g' -e 's|%MAKE%|$(MAKE)|g' \
		$(top_srcdir)/tests/core/test_install.sh > $@.tmp && \
		chmod +x $@.tmp && mv $@.tmp $@
CLEANFILES += tests/core/test_install
EXTRA_DIST += tests/core/test_install.sh tests/core/zephyr_compat.c
