# Benchmarks: built by `make`, run by `make bench`; they print ratios against
# baselines measured in the same run and never fail on time.
noinst_PROGRAMS += tests/bench/bench_core
tests_bench_bench_core_SOURCES = tests/bench/bench_core.c
tests_bench_bench_core_LDADD = core/libmemcore.la tests/common/libtestcommon.la

BENCHES = tests/bench/bench_core
bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; \
		top_builddir='$(abs_top_builddir)' ./$$b || exit 1; done
.PHONY: bench
