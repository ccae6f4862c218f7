# Benchmarks: built by `make`, run by `make bench`; they print ratios against
# baselines measured in the same run and never fail on time.
noinst_PROGRAMS += tests/bench/bench_core tests/bench/bench_rtt tests/bench/bench_cache \
	tests/bench/bench_rebuild tests/bench/bench_takeover tests/bench/bench_restart
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
tests_bench_bench_restart_SOURCES = tests/bench/bench_restart.c tests/bench/bench_util.c \
	tests/bench/bench_util.h
tests_bench_bench_restart_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_restart_LDADD = client/libmemclient.la tests/common/libtestcommon.la
tests_bench_bench_restart_LDFLAGS = $(AM_LDFLAGS) -no-install -pthread

# bench_restart compares the request round trip with the tree before issue 10
# (commit BASELINE_COMMIT): `make bench-baseline` builds that tree's allocatord
# in build-old/ (from git: a source tree from a tarball has no history), and
# `make bench` uses it when it is there (or ALLOCATORD_BASELINE=path).
BASELINE_COMMIT = e27d9c8
bench-baseline:
	rm -rf build-old && mkdir build-old
	cd $(srcdir) && git archive $(BASELINE_COMMIT) | tar -x -C '$(abs_top_builddir)/build-old'
	cd build-old && autoreconf -fi && ./configure -q && \
		$(MAKE) proto/allocd.pb-c.h daemon/default_conf.c && $(MAKE) daemon/allocatord
.PHONY: bench-baseline

BENCHES = tests/bench/bench_core tests/bench/bench_rtt tests/bench/bench_cache \
	tests/bench/bench_rebuild tests/bench/bench_takeover tests/bench/bench_restart
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; \
		top_builddir='$(abs_top_builddir)' \
		ALLOCATORD_BASELINE="$${ALLOCATORD_BASELINE:-$(abs_top_builddir)/build-old/daemon/allocatord}" \
		./$$b || exit 1; done
.PHONY: bench
