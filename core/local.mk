# libmemcore: the allocators. Pure C: no I/O, no libuv, no protobuf.
noinst_LTLIBRARIES += core/libmemcore.la
core_libmemcore_la_SOURCES = \
	core/bitarray.c core/bitarray.h \
	core/bitarray_inline.h \
	core/mem_blocks.c core/mem_blocks.h core/mem_blocks_lock.h \
	core/multi_mem_blocks.c \
	core/tlsf.c core/tlsf.h core/tlsf_hash.h
