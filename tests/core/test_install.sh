#!/bin/sh
# libmemcore as a product: `make install DESTDIR=<stage>` (the whole
# package, as a packager runs it), then, with pkg-config looking only at
# the staged memcore.pc (PKG_CONFIG_LIBDIR + PKG_CONFIG_SYSROOT_DIR), build
# and run the installed example and a program written for Zephyr, linked
# once against libmemcore.so (found by its versioned soname) and once
# against libmemcore.a. Also checks what else the install must hold: the
# headers under <memcore/...>, the manual pages, the soname, and that the
# shared library exports the API and not the bit array.
#
# Generated into the build tree as tests/core/test_install, with the
# compiler and sanitizer flags of this build filled in (see local.mk).
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
CC='%CC%'
SAN_CFLAGS='%SAN_CFLAGS%'
SAN_LDFLAGS='%SAN_LDFLAGS%'
MAKE_CMD='%MAKE%'

stage=$(mktemp -d "${TMPDIR:-/tmp}/memcore-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
fail() {
	echo "test_install: $*" >&2
	exit 1
}

# A nested make of this tree: without the jobserver of the make that runs
# the tests (its fds are not ours).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $MAKE_CMD -C "$top_builddir" install \
	DESTDIR="$stage/root" >"$stage/install.log" 2>&1 ||
	{ cat "$stage/install.log" >&2; fail "make install DESTDIR=... failed"; }

pc=$(find "$stage/root" -name memcore.pc)
[ -n "$pc" ] || fail "no memcore.pc installed"
PKG_CONFIG_LIBDIR=${pc%/memcore.pc}
PKG_CONFIG_SYSROOT_DIR=$stage/root
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
cflags=$(pkg-config --cflags memcore)
libs=$(pkg-config --libs memcore)
static_other=$(pkg-config --static --libs-only-other memcore)
# The variables as written in the .pc, then under the stage.
libdir=$stage/root$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=libdir memcore)
incdir=$stage/root$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=includedir memcore)

for h in mem_blocks.h tlsf.h bitarray.h; do
	[ -f "$incdir/memcore/$h" ] || fail "missing $incdir/memcore/$h"
done
for m in man3/sys_mem_blocks.3 man3/tlsf.3; do
	[ -n "$(find "$stage/root" -path "*/man/$m")" ] || fail "manual page $m not installed"
done
[ -n "$(find "$stage/root" -path '*/examples/memcore/memcore_demo.c')" ] ||
	fail "examples/memcore/memcore_demo.c not installed"
[ -f "$libdir/libmemcore.a" ] || fail "no $libdir/libmemcore.a"
soname=$(readelf -d "$libdir/libmemcore.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in
libmemcore.so.[0-9]*) ;;
*) fail "libmemcore.so has soname '$soname', want libmemcore.so.N" ;;
esac
[ -f "$libdir/$soname" ] || fail "the soname $soname is not installed"
exports=$(nm -D --defined-only "$libdir/libmemcore.so" | awk '{print $3}')
for sym in sys_mem_blocks_alloc sys_mem_blocks_init_locked sys_multi_mem_blocks_free \
	sys_mem_blocks_rebuild tlsf_alloc tlsf_free tlsf_rebuild; do
	echo "$exports" | grep -qx "$sym" || fail "libmemcore.so does not export $sym"
done
if echo "$exports" | grep -q '^bitarray_'; then
	fail "libmemcore.so exports the bit array: $(echo "$exports" | grep '^bitarray_' | head -1)"
fi

# Build with the flags pkg-config gives and nothing else of this tree (the
# sanitizer flags only because the staged library was built with them).
for prog in "$top_srcdir/examples/memcore/memcore_demo.c" "$top_srcdir/tests/core/zephyr_compat.c"; do
	name=$(basename "$prog" .c)
	# shellcheck disable=SC2086 # the flags are word lists
	$CC -std=gnu11 -Wall -Wextra -Werror $SAN_CFLAGS $cflags "$prog" $SAN_LDFLAGS $libs \
		-o "$stage/$name" || fail "$name does not build with pkg-config --cflags --libs memcore"
	LD_LIBRARY_PATH=$libdir "$stage/$name" || fail "$name (shared) failed"
	# shellcheck disable=SC2086
	$CC -std=gnu11 $SAN_CFLAGS $cflags "$prog" $SAN_LDFLAGS "$libdir/libmemcore.a" \
		$static_other -o "$stage/$name.static" ||
		fail "$name does not build against libmemcore.a"
	"$stage/$name.static" >/dev/null || fail "$name (static) failed"
	readelf -d "$stage/$name" | grep -q "NEEDED.*\[$soname\]" ||
		fail "$name does not record $soname"
done
echo "test_install: ok ($soname, headers, .pc, man pages, example and Zephyr program)"
