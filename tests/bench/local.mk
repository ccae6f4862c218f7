# Benchmarks: built by `make`, run by `make bench`; they print ratios against
# baselines measured in the same run and never fail on time.
noinst_PROGRAMS += tests/bench/bench_core tests/bench/bench_rtt tests/bench/bench_cache \
	tests/bench/bench_rebuild tests/bench/bench_takeover
tests_bench_bench_core_SOURCES = tests/bench/bench_core.c
tests_bench_bench_core_LDADD = core/libmemcore.la tests/common/libtestcommon.la
tests_bench_bench_rebuild_SOURCES = tests/bench/bench_rebuild.c tests/bench/bench_util.c tests/bench/bench_util.h
tests_bench_bench_rebuild_LDADD = core/libmemcore.la
tests_bench_bench_rtt_SOURCES = tests/bench/bench_rtt.c tests/bench/bench_util.c tests/bench/bench_util.h
tests_bench_bench_rtt_LDADD = client/libmemclient.la tests/common/libtestcommon.la
tests_bench_bench_rtt_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_cache_SOURCES = tests/bench/bench_cache.c tests/bench/bench_util.c tests/bench/bench_util.h
tests_bench_bench_cache_LDADD = client/libmemclient.la tests/common/libtestcommon.la
tests_bench_bench_cache_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_takeover_SOURCES = tests/bench/bench_takeover.c tests/bench/bench_util.c \
	tests/bench/bench_util.h
tests_bench_bench_takeover_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBUV_CFLAGS) \
	$(PROTOBUF_C_CFLAGS)
tests_bench_bench_takeover_LDADD = daemon/libdaemon.la tests/common/libtestcommon.la
tests_bench_bench_takeover_LDFLAGS = $(AM_LDFLAGS) -no-install

BENCHES = tests/bench/bench_core tests/bench/bench_rtt tests/bench/bench_cache \
	tests/bench/bench_rebuild tests/bench/bench_takeover
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; \
		top_builddir='$(abs_top_builddir)' ./$$b || exit 1; done
.PHONY: bench
