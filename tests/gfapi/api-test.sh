#!/bin/bash
# api-test.sh — build tests/gfapi/api-test.c against GlusterFS's real <glusterfs/api/glfs.h>, link it with
# the libgfapi.so.0 in $GFAPI_DIR, and run it against a volume.
#
#   GFAPI_DIR=/tmp/mortar-gfapi-dev VOLUME=demo HOST=127.0.0.1 PORT=24007 tests/gfapi/api-test.sh
#
# Environment:
#   GFAPI_DIR   directory holding the libgfapi.so.0 under test (required)
#   VOLUME      volume name (default demo); HOST (default 127.0.0.1); PORT (default 24007)
#   GFAPI_TEST_REFERENCE=glusterfs   the library is GlusterFS's own: a check GlusterFS is known to fail (where
#                                    Mortar documents other behaviour) prints "skip - … (GlusterFS differs: …;
#                                    observed: …)" instead of "not ok" when it fails
#   GFAPI_TEST_TIMEOUT  watchdog in seconds (default 300)
#   KEEP_BUILD=1        keep the temporary build directory (printed at the end)
# Exit status: the test program's (0 = every check passed), 2 for setup problems.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
VOLUME=${VOLUME:-demo}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-24007}
HEADER=/usr/include/glusterfs/api/glfs.h

die() { echo "api-test.sh: $*" >&2; exit 2; }

GFAPI_DIR=$(cd "$GFAPI_DIR" 2>/dev/null && pwd) || die "GFAPI_DIR does not exist"
[ -e "$GFAPI_DIR/libgfapi.so.0" ] || die "no libgfapi.so.0 in $GFAPI_DIR"

# Toolchain and the real header (installed on demand when running as root).
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
[ -f "$HEADER" ] || missing+=(libglusterfs-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "api-test.sh: installing ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
    command -v gcc >/dev/null 2>&1 || die "gcc not found (apt-get install gcc)"
    [ -f "$HEADER" ] || die "$HEADER not found (apt-get install libglusterfs-dev)"
fi

build=$(mktemp -d /tmp/gfapi-api-test.XXXXXX)
cleanup() { if [ "${KEEP_BUILD:-0}" = 1 ]; then echo "api-test.sh: build kept in $build" >&2; else rm -rf "$build"; fi; }
trap cleanup EXIT

# Link directory: the library under test plus the unversioned libgfapi.so name the linker looks for.
mkdir "$build/lib"
ln -s "$GFAPI_DIR/libgfapi.so.0" "$build/lib/libgfapi.so.0"
ln -s "$GFAPI_DIR/libgfapi.so.0" "$build/lib/libgfapi.so"

gcc -std=gnu11 -O1 -g -Wall -Wextra -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE \
    -o "$build/api-test" "$here/api-test.c" -L"$build/lib" -lgfapi -lpthread \
    || die "compiling api-test.c failed"

# The binary must resolve libgfapi.so.0 to the library under test, not the system copy.
resolved=$(LD_LIBRARY_PATH="$GFAPI_DIR" ldd "$build/api-test" | awk '$1 == "libgfapi.so.0" {print $3}')
[ "$(readlink -f "$resolved")" = "$(readlink -f "$GFAPI_DIR/libgfapi.so.0")" ] \
    || die "libgfapi.so.0 resolves to '$resolved', not $GFAPI_DIR/libgfapi.so.0"
echo "# library under test: $(readlink -f "$GFAPI_DIR/libgfapi.so.0") ($(stat -c '%s bytes, modified %y' "$(readlink -f "$GFAPI_DIR/libgfapi.so.0")"))"

export GFAPI_TEST_LOGDIR="$build"
rc=0
LD_LIBRARY_PATH="$GFAPI_DIR" "$build/api-test" "$VOLUME" "$HOST" "$PORT" || rc=$?
if [ "$rc" != 0 ] && [ -s "$build/api-test-gfapi.log" ]; then
    echo "# last lines of the library log ($build/api-test-gfapi.log):"
    tail -n 40 "$build/api-test-gfapi.log" | sed 's/^/#   /'
fi
exit "$rc"
