#!/usr/bin/env bash
# tests/gfapi/init-loop.sh — the libgfapi drop-in connects every time, and says why when it cannot.
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/libgfapi.so.0 tests/gfapi/init-loop.sh
#
# 1. On a fresh one-host cluster with a replica 3 volume: CYCLES (default 1000) glfs_new/glfs_init/glfs_stat/
#    glfs_fini cycles (every tenth in a forked child, as fio runs jobs) while a second loop runs CLI calls on the same
#    volume (ls, stat, volume status, heal info, volume info) — zero failures allowed on either side.
# 2. No brick of the cluster holds a descriptor it did not need: the daemon's listening socket is held by the
#    daemon alone.
# 3. A connect that fails for a real reason — volume missing, client refused (auth.reject), volume stopped, daemon
#    down — fails glfs_init with that reason's errno and prints the reason on standard error exactly once per
#    process.
# Runs on 127.0.0.1:24007; tests/gfapi/run.sh calls it inside a network namespace of its own.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
: "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"
CYCLES=${CYCLES:-1000}
LOOP_TIMEOUT=${LOOP_TIMEOUT:-900}

fail() { echo "init-loop.sh: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/mortar-gfapi-init.XXXXXX)
cluster=$work/cluster
cli_pid=
cleanup() {
    [ -z "$cli_pid" ] || kill "$cli_pid" 2>/dev/null || true
    "$MORTAR_BINARY" down --dir "$cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

gcc -std=gnu11 -O1 -Wall -Wextra -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -o "$work/init-loop" "$here/init-loop.c" \
    -L"$GFAPI_DIR" -l:libgfapi.so.0 -lpthread || fail "compiling init-loop.c"
gcc -std=gnu11 -O1 -Wall -Wextra -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -o "$work/init-once" "$here/init-once.c" \
    -L"$GFAPI_DIR" -l:libgfapi.so.0 -lpthread || fail "compiling init-once.c"
resolved=$(LD_LIBRARY_PATH="$GFAPI_DIR" ldd "$work/init-loop" | awk '$1 == "libgfapi.so.0" {print $3}')
[ "$(readlink -f "$resolved")" = "$(readlink -f "$GFAPI_DIR/libgfapi.so.0")" ] \
    || fail "libgfapi.so.0 resolves to '$resolved', not $GFAPI_DIR/libgfapi.so.0"

mortar() { "$MORTAR_BINARY" "$@"; }
mortar up --dir "$cluster" --bricks 1 >/dev/null
mkdir -p "$work/b1" "$work/b2" "$work/b3"
mortar volume create vm replica 3 "127.0.0.1:$work/b1" "127.0.0.1:$work/b2" "127.0.0.1:$work/b3" --force >/dev/null
mortar volume start vm >/dev/null
# The set accepts changes once its members answer the manager's heartbeat; wait for that within a bound.
deadline=$(( $(date +%s) + 60 ))
until out=$(mortar mkdir -p mortar://127.0.0.1/vm/dir 2>&1); do
    [ "$(date +%s)" -lt "$deadline" ] || fail "volume vm did not accept a mkdir within 60 s of starting: $out"
    sleep 0.2
done
printf 'hello\n' >"$work/file"
mortar cp "$work/file" mortar://127.0.0.1/vm/dir/file >/dev/null

echo "== descriptors: only the daemon holds its listening socket"
daemon_pid=$(cat "$cluster/daemon.pid")
holders=$(ss -Hltnp 'sport = :24007' | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')
[ "$holders" = "pid=$daemon_pid " ] || fail "port 24007 is held by $holders(the daemon is pid $daemon_pid)"
echo "ok: 127.0.0.1:24007 is held by the daemon (pid $daemon_pid) alone"

echo "== $CYCLES glfs_init cycles on replica 3 volume vm, with CLI calls on the same volume alongside"
(
    calls=0
    while :; do
        for command in "ls mortar://127.0.0.1/vm/dir" "stat mortar://127.0.0.1/vm/dir/file" "volume status vm" \
            "volume heal vm info" "volume info vm"; do
            # shellcheck disable=SC2086
            out=$("$MORTAR_BINARY" $command 2>&1) || { echo "init-loop.sh: CLI call 'mortar $command' failed: $out" >&2; exit 1; }
            calls=$((calls + 1))
            echo "$calls" >"$work/cli-calls"
        done
    done
) &
cli_pid=$!
started=$(date +%s)
status=0
LD_LIBRARY_PATH="$GFAPI_DIR" timeout "$LOOP_TIMEOUT" "$work/init-loop" vm 127.0.0.1 24007 "$CYCLES" || status=$?
if ! kill -0 "$cli_pid" 2>/dev/null; then
    cli_status=0
    wait "$cli_pid" || cli_status=$?
    cli_pid=
    fail "the CLI loop stopped early (status $cli_status)"
fi
kill "$cli_pid"
wait "$cli_pid" 2>/dev/null || true
cli_pid=
echo "CLI calls alongside: $(cat "$work/cli-calls" 2>/dev/null || echo 0) in $(( $(date +%s) - started )) s"
[ "$status" = 124 ] && fail "the glfs_init loop did not finish within $LOOP_TIMEOUT s"
[ "$status" = 0 ] || fail "glfs_init cycles failed (see above)"
echo "ok: $CYCLES cycles, none failed"

echo "== a connect that fails says why, in errno and once on standard error"
# expect NAME ERRNO REASON-PATTERN: one init-once run whose glfs_init must fail with ERRNO, printing the reason.
expect() {
    local volume=$1 errno_name=$2 pattern=$3 out err
    out=$(LD_LIBRARY_PATH="$GFAPI_DIR" "$work/init-once" "$volume" 127.0.0.1 24007 2 2>"$work/stderr") \
        || fail "init-once $volume: unexpected exit status; stdout: $out; stderr: $(cat "$work/stderr")"
    err=$(cat "$work/stderr")
    [ "$out" = "errno=$errno_name errno=$errno_name" ] \
        || fail "glfs_init of $volume: expected errno $errno_name twice, got '$out' (stderr: $err)"
    [ "$(grep -c . "$work/stderr")" = 1 ] \
        || fail "glfs_init of $volume twice in one process: expected one line on standard error, got: $err"
    grep -Eq "$pattern" "$work/stderr" || fail "glfs_init of $volume: stderr '$err' does not match /$pattern/"
    echo "ok: $volume -> $errno_name, stderr: $err"
}
expect nosuchvolume ENOENT "volume nosuchvolume does not exist"
# A client the volume's bricks refuse (auth.reject; a client on the brick's host counts as 127.0.0.1) fails
# glfs_init with EACCES and the reason. The bricks pick the option up within a second (bounded: a hang fails).
mortar volume set vm auth.reject 127.0.0.1 >/dev/null
for _ in $(seq 1 50); do
    LD_LIBRARY_PATH="$GFAPI_DIR" "$work/init-once" vm 127.0.0.1 24007 1 2>/dev/null | grep -q EACCES && break
    sleep 0.2
done
expect vm EACCES "not in auth.allow|auth.reject"
mortar volume reset vm auth.reject >/dev/null
mortar volume stop vm >/dev/null
expect vm ENOTCONN "volume vm is not started"
mortar down --dir "$cluster" >/dev/null
expect vm ECONNREFUSED "127\.0\.0\.1:24007"
echo "init-loop.sh: all checks passed"
