#!/bin/sh
# handoff.sh -- the zero-copy hand-off in one command: examples/producer
# allocates blocks from allocatord and fills them, examples/consumer takes
# them over and reads them in place. Only offsets travel between the two,
# as text over two FIFOs (the protocol is described in examples/producer.c):
#
#     producer --(message M POOL COUNT, offsets)--> consumer
#     producer <--------------(ok M)--------------- consumer
#
# Usage: handoff.sh [-s SOCKET] [PRODUCER OPTIONS...]
#   -s SOCKET goes to both programs (default: $ALLOCATORD_SOCKET, else the
#   default path); every other option goes to the producer: -p POOL,
#   -n COUNT, -m MESSAGES (see producer --help).
#
# With a daemon running on its built-in default configuration:
#     allocatord -s /tmp/allocd.sock &
#     examples/handoff.sh -s /tmp/allocd.sock -n 8 -m 2
#
# The programs come from the build tree, next to this script (run it as
# BUILDDIR/examples/handoff.sh after an in-tree build); set PRODUCER= and
# CONSUMER= to use others, e.g. for an out-of-tree build:
#     PRODUCER=build/examples/producer CONSUMER=build/examples/consumer \
#         examples/handoff.sh -s /tmp/allocd.sock
#
# The same by hand, in two terminals:
#     mkfifo /tmp/offsets /tmp/acks
#     (terminal 1) examples/producer -s /tmp/allocd.sock >/tmp/offsets </tmp/acks
#     (terminal 2) examples/consumer -s /tmp/allocd.sock </tmp/offsets >/tmp/acks
# Both open /tmp/offsets first, so neither waits for the other forever.
#
# Exit status: the consumer's if it failed (1: a block was not as written,
# or an error), else the producer's; 0 when the whole hand-off worked.

set -u

here=$(dirname "$0")
PRODUCER=${PRODUCER:-$here/producer}
CONSUMER=${CONSUMER:-$here/consumer}

socket=
if [ "${1:-}" = -s ]; then
	if [ $# -lt 2 ]; then
		echo "handoff.sh: -s needs a socket path" >&2
		exit 2
	fi
	socket=$2
	shift 2
fi

for prog in "$PRODUCER" "$CONSUMER"; do
	if [ ! -x "$prog" ]; then
		echo "handoff.sh: $prog is not a program: build the examples (make), or set PRODUCER= and CONSUMER=" >&2
		exit 2
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/handoff.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' HUP INT TERM
mkfifo "$dir/offsets" "$dir/acks" || exit 1

# Offsets one way, answers the other; each program's stderr is its report.
# ${socket:+-s "$socket"} is the two words -s SOCKET, or nothing.
"$PRODUCER" ${socket:+-s "$socket"} "$@" >"$dir/offsets" <"$dir/acks" &
producer=$!
"$CONSUMER" ${socket:+-s "$socket"} <"$dir/offsets" >"$dir/acks"
consumer_status=$?
wait "$producer"
producer_status=$?

if [ "$consumer_status" -ne 0 ]; then
	exit "$consumer_status"
fi
exit "$producer_status"
