# memctl: the command line of allocatord, built on libmemclient only (the
# public client/memclient.h), one file per command as in tmux. Its own folder
# because it is a product of its own, and the folder states the library's
# boundary: nothing here may include more of the tree than memclient.h.
bin_PROGRAMS += memctl/memctl
memctl_memctl_SOURCES = \
	memctl/memctl.h \
	memctl/memctl.c \
	memctl/memctl-util.c \
	memctl/memctl-status.c \
	memctl/memctl-pools.c \
	memctl/memctl-heaps.c \
	memctl/memctl-groups.c \
	memctl/memctl-clients.c \
	memctl/memctl-map.c \
	memctl/memctl-watch.c \
	memctl/memctl-stats.c
memctl_memctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
memctl_memctl_LDADD = client/libmemclient.la $(JANSSON_LIBS)
dist_man_MANS += man/memctl.1
