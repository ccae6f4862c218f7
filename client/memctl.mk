# memctl: the command line of allocatord, built on libmemclient only (the
# public client/memclient.h), one file per command as in tmux.
bin_PROGRAMS += client/memctl
client_memctl_SOURCES = \
	client/memctl.h \
	client/memctl.c \
	client/memctl-util.c \
	client/memctl-status.c \
	client/memctl-pools.c \
	client/memctl-heaps.c \
	client/memctl-groups.c \
	client/memctl-clients.c \
	client/memctl-map.c \
	client/memctl-watch.c \
	client/memctl-stats.c
client_memctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
client_memctl_LDADD = client/libmemclient.la $(JANSSON_LIBS)
dist_man_MANS += man/memctl.1
