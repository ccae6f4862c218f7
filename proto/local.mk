# The wire protocol: the schema, plus wire.{c,h} for what a schema cannot say
# (version, framing, limits, default socket, kinds). protoc-c generates
# allocd.pb-c.{c,h} at build time (never committed); --proto_path keeps the
# generated #include right in a VPATH build. The .c is the real target and the
# .h depends on it, so that `make -j` runs protoc-c once.
noinst_LTLIBRARIES += proto/libproto.la
proto_libproto_la_SOURCES = proto/wire.c proto/wire.h
nodist_proto_libproto_la_SOURCES = proto/allocd.pb-c.c proto/allocd.pb-c.h
proto_libproto_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) -Wno-missing-prototypes
proto_libproto_la_LIBADD = $(PROTOBUF_C_LIBS)

proto/allocd.pb-c.c: $(top_srcdir)/proto/allocd.proto
	$(AM_V_GEN)$(MKDIR_P) proto && \
		$(PROTOC_C) --proto_path=$(top_srcdir)/proto --c_out=proto $(top_srcdir)/proto/allocd.proto
proto/allocd.pb-c.h: proto/allocd.pb-c.c
	@:

BUILT_SOURCES += proto/allocd.pb-c.c proto/allocd.pb-c.h
CLEANFILES += proto/allocd.pb-c.c proto/allocd.pb-c.h
EXTRA_DIST += proto/allocd.proto
