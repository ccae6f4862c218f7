# libFuzzer harnesses (request frames, configuration files, core rebuilds,
# damaged takeover states): CC=clang ./configure --enable-fuzzing, then
#   make fuzz                       each harness for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=3600     a longer run
# Findings (crashes, leaks, sanitizer reports) fail the target and are left
# in fuzz-work/ as crash-*/leak-* files to replay: tests/fuzz/fuzz_X FILE.
FUZZ_SECONDS = 60
FUZZ_CORPORA = tests/fuzz/corpus/request tests/fuzz/corpus/config
EXTRA_DIST += tests/fuzz/gen_corpus.c tests/fuzz/lsan.supp $(FUZZ_CORPORA)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_request tests/fuzz/fuzz_config tests/fuzz/gen_corpus \
	tests/fuzz/fuzz_rebuild tests/fuzz/fuzz_state
tests_fuzz_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c
tests_fuzz_fuzz_request_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_fuzz_fuzz_request_LDADD = daemon/libdaemon.la
tests_fuzz_fuzz_request_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_fuzz_fuzz_config_LDADD = daemon/libdaemon.la
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_rebuild_SOURCES = tests/fuzz/fuzz_rebuild.c
tests_fuzz_fuzz_rebuild_LDADD = core/libmemcore.la
tests_fuzz_fuzz_rebuild_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_state_SOURCES = tests/fuzz/fuzz_state.c
tests_fuzz_fuzz_state_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_fuzz_fuzz_state_LDADD = daemon/libdaemon.la
tests_fuzz_fuzz_state_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_gen_corpus_SOURCES = tests/fuzz/gen_corpus.c
tests_fuzz_gen_corpus_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_fuzz_gen_corpus_LDADD = proto/libproto.la

fuzz: tests/fuzz/fuzz_request tests/fuzz/fuzz_config tests/fuzz/fuzz_rebuild \
		tests/fuzz/fuzz_state
	@$(MKDIR_P) fuzz-work/request fuzz-work/config fuzz-work/rebuild fuzz-work/state
	cd fuzz-work && ../tests/fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) \
		-max_len=8192 -print_final_stats=1 request $(abs_top_srcdir)/tests/fuzz/corpus/request
	cd fuzz-work && LSAN_OPTIONS=suppressions=$(abs_top_srcdir)/tests/fuzz/lsan.supp \
		../tests/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) \
		-max_len=4096 -print_final_stats=1 config $(abs_top_srcdir)/tests/fuzz/corpus/config
	cd fuzz-work && ../tests/fuzz/fuzz_rebuild -max_total_time=$(FUZZ_SECONDS) \
		-max_len=2600 -print_final_stats=1 rebuild
	cd fuzz-work && LSAN_OPTIONS=suppressions=$(abs_top_srcdir)/tests/fuzz/lsan.supp \
		../tests/fuzz/fuzz_state -max_total_time=$(FUZZ_SECONDS) \
		-max_len=256 -print_final_stats=1 state
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing first" >&2; exit 1
endif
.PHONY: fuzz
clean-local: clean-fuzz
clean-fuzz:
	rm -rf fuzz-work
.PHONY: clean-fuzz
