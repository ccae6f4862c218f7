# Examples: a choice plug-in (installed with the daemon, used by
# examples/by_uid.conf).
pkglib_LTLIBRARIES = examples/plugins/by_uid.la
examples_plugins_by_uid_la_SOURCES = examples/plugins/by_uid.c
examples_plugins_by_uid_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

# The zero-copy hand-off (producer -> consumer), run by examples/handoff.sh
# and by tests/client/test_examples.c. -no-install: real binaries that run
# from the build tree, not libtool wrappers.
noinst_PROGRAMS += examples/producer examples/consumer examples/hold
examples_producer_SOURCES = examples/producer.c
examples_producer_LDADD = client/libmemclient.la
examples_producer_LDFLAGS = $(AM_LDFLAGS) -no-install
examples_consumer_SOURCES = examples/consumer.c
examples_consumer_LDADD = client/libmemclient.la
examples_consumer_LDFLAGS = $(AM_LDFLAGS) -no-install
# The client the README's tour keeps memory with, for memctl to show.
examples_hold_SOURCES = examples/hold.c
examples_hold_LDADD = client/libmemclient.la
examples_hold_LDFLAGS = $(AM_LDFLAGS) -no-install

# Installed: the examples as documentation, and the systemd unit with the
# configured paths filled in. The placeholders are spelled [@]name[@] in the
# sed rule: config.status substitutes every @name@ of Makefile.in, and a
# plain one here would become the path itself, so the rule would never match.
exampledir = $(docdir)/examples
dist_example_DATA = examples/allocatord.conf examples/by_uid.conf \
	examples/producer.c examples/consumer.c examples/hold.c examples/plugins/by_uid.c
dist_example_SCRIPTS = examples/handoff.sh
systemdsystemunit_DATA = examples/allocatord.service
dist_systemdsystemunit_DATA = examples/allocatord.socket
examples/allocatord.service: $(top_srcdir)/examples/allocatord.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) examples && \
		sed -e 's|[@]sbindir[@]|$(sbindir)|g' -e 's|[@]sysconfdir[@]|$(sysconfdir)|g' \
		$(top_srcdir)/examples/allocatord.service.in > $@.tmp && mv $@.tmp $@
CLEANFILES += examples/allocatord.service
EXTRA_DIST += examples/allocatord.service.in
