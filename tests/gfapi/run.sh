#!/usr/bin/env bash
# Every test of the libgfapi drop-in, as scripts/test.sh runs them: the ABI check against the Debian programs that
# link libgfapi, the C API test against a fresh two-brick volume, then fio, qemu, tgt and Samba (programs.sh, which
# starts its own cluster). Needs: GFAPI_DIR (the built library), MORTAR_BINARY; port 24007 free (tgt's glfs backing
# store only talks to the default port).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding libgfapi.so.0}"
: "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"

# The tests own 127.0.0.1:24007 (tgt's glfs backing store only talks to the default port). They run in a network
# namespace of their own, so a daemon or glusterd on this host's loopback neither disturbs them nor is disturbed.
if [ -z "${MORTAR_GFAPI_IN_NETNS:-}" ]; then
    namespace="mortar-gfapi-$$"
    ip netns add "$namespace"
    trap 'ip netns pids "$namespace" 2>/dev/null | xargs -r kill -KILL 2>/dev/null; ip netns del "$namespace"' EXIT
    ip -n "$namespace" link set lo up
    status=0
    MORTAR_GFAPI_IN_NETNS=1 ip netns exec "$namespace" bash "${BASH_SOURCE[0]}" || status=$?
    exit "$status"
fi

if (exec 3<>/dev/tcp/127.0.0.1/24007) 2>/dev/null; then
    echo "gfapi tests: FAILED: something already listens on 127.0.0.1:24007 (a daemon or glusterd); stop it first" >&2
    exit 1
fi

echo "== gfapi: mortar gfapi-path"
found=$("$MORTAR_BINARY" gfapi-path)
cmp -s "$found/libgfapi.so.0" "$GFAPI_DIR/libgfapi.so.0" \
    || { echo "gfapi tests: FAILED: mortar gfapi-path printed '$found', not the library just built" >&2; exit 1; }
found=$(MORTAR_GFAPI_DIR="$GFAPI_DIR" "$MORTAR_BINARY" gfapi-path)
[ "$found" = "$(cd "$GFAPI_DIR" && pwd -P)" ] || [ "$found" = "$GFAPI_DIR" ] \
    || { echo "gfapi tests: FAILED: MORTAR_GFAPI_DIR=$GFAPI_DIR but mortar gfapi-path printed '$found'" >&2; exit 1; }
echo "ok: mortar gfapi-path finds $found"

echo "== gfapi: ABI check"
bash "$here/abi-check.sh"

echo "== gfapi: C API test"
cluster=$(mktemp -d /tmp/mortar-gfapi-api.XXXXXX)
cleanup() {
    "$MORTAR_BINARY" down --dir "$cluster" >/dev/null 2>&1 || true
    rm -rf "$cluster"
}
trap cleanup EXIT
"$MORTAR_BINARY" up --dir "$cluster" --bricks 2 >/dev/null
VOLUME=demo HOST=127.0.0.1 PORT=24007 bash "$here/api-test.sh"
cleanup
trap - EXIT

echo "== gfapi: a write that fails after write-behind acknowledged it reaches the program"
bash "$here/write-behind.sh"

echo "== gfapi: glfs_init in a loop on a replica 3 volume, and the reasons a connect fails"
bash "$here/init-loop.sh"

echo "== gfapi: a volume grows from 2 bricks to 4 and rebalances under fio and the mount"
bash "$here/rebalance.sh"

echo "== gfapi: fio, qemu, tgt and Samba"
bash "$here/programs.sh"
