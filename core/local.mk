# libmemcore: the allocators. Pure C: no I/O, no libuv, no protobuf.
# Built once as a convenience library, which the daemon, the tests and the
# benchmarks link in statically (so the daemon needs no libmemcore.so), and
# installed from it as a product of its own: see "Installed" below.
noinst_LTLIBRARIES += core/libmemcore.la
core_libmemcore_la_SOURCES = \
	core/bitarray.c core/bitarray.h \
	core/bitarray_inline.h \
	core/mem_blocks.c core/mem_blocks.h core/mem_blocks_lock.h \
	core/multi_mem_blocks.c \
	core/tlsf.c core/tlsf.h core/tlsf_hash.h

# Installed: libmemcore.so.N (versioned soname, only the sys_* and tlsf_*
# symbols exported: the bit array is an implementation detail) and
# libmemcore.a, the public headers as <memcore/...>, memcore.pc and the
# manual pages. The headers stay where they are; bitarray.h is installed
# because struct sys_mem_blocks embeds a struct bitarray.
lib_LTLIBRARIES += core/lib/libmemcore.la
core_lib_libmemcore_la_SOURCES =
core_lib_libmemcore_la_LIBADD = core/libmemcore.la
core_lib_libmemcore_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(MEMCORE_LT_VERSION) \
	-export-symbols-regex '^(sys_|tlsf_)'
# The static library: the same sources, compiled again without libtool
# (configure disables libtool's static libraries for everything else).
lib_LIBRARIES = core/libmemcore.a
core_libmemcore_a_SOURCES = $(core_libmemcore_la_SOURCES)
core_libmemcore_a_CFLAGS = $(AM_CFLAGS)

memcoreincludedir = $(includedir)/memcore
memcoreinclude_HEADERS = core/mem_blocks.h core/tlsf.h core/bitarray.h

# Its own directory variable: client/local.mk owns pkgconfig_DATA.
memcorepcdir = $(pkgconfigdir)
memcorepc_DATA = core/memcore.pc
EXTRA_DIST += core/memcore.pc.in
DISTCLEANFILES += core/memcore.pc
dist_man_MANS += man/sys_mem_blocks.3 man/tlsf.3
