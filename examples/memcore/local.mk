# libmemcore's standalone example: installed as documentation, built by the
# user with pkg-config alone (tests/core/test_install does exactly that
# against a staged `make install`). Not built in the tree: it must compile
# from the installed headers, <memcore/...>, and nothing else.
memcoreexampledir = $(docdir)/examples/memcore
dist_memcoreexample_DATA = examples/memcore/memcore_demo.c examples/memcore/Makefile
