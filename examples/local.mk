# Examples: a choice plug-in (installed with the daemon, used by
# examples/by_uid.conf).
pkglib_LTLIBRARIES = examples/plugins/by_uid.la
examples_plugins_by_uid_la_SOURCES = examples/plugins/by_uid.c
examples_plugins_by_uid_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
EXTRA_DIST += examples/allocatord.conf examples/by_uid.conf
