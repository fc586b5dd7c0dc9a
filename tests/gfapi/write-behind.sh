#!/usr/bin/env bash
# tests/gfapi/write-behind.sh — through the libgfapi drop-in, a write that fails after write-behind acknowledged it
# (a full brick: ENOSPC) is reported to the program by a later glfs_pwrite, glfs_fsync or glfs_close — with the
# volume's performance.write-behind on (the default) and off (then by the glfs_pwrite itself).
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/libgfapi.so.0 tests/gfapi/write-behind.sh
#
# Needs root (a 2 MiB tmpfs for the brick). Runs on 127.0.0.1:24007; tests/gfapi/run.sh calls it inside a network
# namespace of its own.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
: "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"

fail() { echo "write-behind.sh: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/mortar-gfapi-wb.XXXXXX)
cluster=$work/cluster
cleanup() {
    "$MORTAR_BINARY" down --dir "$cluster" >/dev/null 2>&1 || true
    umount -l "$work/tiny" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

gcc -std=gnu11 -O1 -Wall -Wextra -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -o "$work/write-behind" \
    "$here/write-behind.c" -L"$GFAPI_DIR" -l:libgfapi.so.0 || fail "compiling write-behind.c"

mortar() { "$MORTAR_BINARY" "$@"; }
mortar up --dir "$cluster" --bricks 1 >/dev/null
mkdir -p "$work/tiny"
mount -t tmpfs -o size=2m tmpfs "$work/tiny" || fail "mounting a 2 MiB tmpfs (this test needs root)"
mortar volume create full "127.0.0.1:$work/tiny" --force >/dev/null
mortar volume start full >/dev/null
deadline=$(( $(date +%s) + 60 ))
until out=$(mortar ls mortar://127.0.0.1/full/ 2>&1); do
    [ "$(date +%s)" -lt "$deadline" ] || fail "volume full did not answer a listing within 60 s of starting: $out"
    sleep 0.2
done

for mode in on off; do
    mortar volume set full performance.write-behind "$mode" >/dev/null
    echo "== performance.write-behind $mode: 8 MiB onto a 2 MiB brick"
    LD_LIBRARY_PATH="$GFAPI_DIR" timeout 300 "$work/write-behind" full 127.0.0.1 24007 $((8 << 20)) \
        || fail "write-behind $mode: the full brick's ENOSPC did not reach the program (status $?)"
    mortar rm mortar://127.0.0.1/full/filling >/dev/null || fail "removing the file that filled the brick"
done
echo "ok: ENOSPC reached the program with write-behind on and off"
