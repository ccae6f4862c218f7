# The mutation run (tests/mutate/run, its list in tests/mutate/mutants): too
# slow for `make check`; `make mutate` runs it on a scratch copy of the tree.
EXTRA_DIST += tests/mutate/run tests/mutate/mutants
.PHONY: mutate
mutate:
	sh $(top_srcdir)/tests/mutate/run $(top_srcdir)
