#!/usr/bin/env bash
# tests/gfapi/thrash.sh — replicas converge under fio through the drop-in while members die.
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/libgfapi.so.0 tests/gfapi/thrash.sh   (KEEP_WORK=1 keeps logs)
#
# On a one-host replica 3 volume, fio (ioengine=gfapi, 16 KiB random writes with crc32c headers) writes while
# ROUNDS times two of the three bricks are SIGKILLed a moment apart, so the set falls below min-in-sync. fio stops
# at its first failed write (its gfapi engine treats every error as fatal) and saves
# its verify state; the next fio run starts on a new file, until the kills are done. Then, with every member back
# in sync: the three copies of every file are byte-identical, and `fio --verify_only --verify_state_load=1`
# through the drop-in checks that every write each run got acknowledged reads back. The set must have been seen
# below min-in-sync at least once, or nothing was tested.
# Runs on 127.0.0.1:24007; tests/gfapi/run.sh calls it inside a network namespace of its own.
set -euo pipefail
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
: "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"
ROUNDS=${ROUNDS:-8}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-120}

fail() { echo "thrash.sh: FAILED: $*" >&2; exit 1; }
mortar() { "$MORTAR_BINARY" "$@"; }

work=$(mktemp -d /tmp/mortar-gfapi-thrash.XXXXXX)
cluster=$work/cluster
killer_pid=
cleanup() {
    [ -z "$killer_pid" ] || kill "$killer_pid" 2>/dev/null || true
    mortar down --dir "$cluster" >/dev/null 2>&1 || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "thrash.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wait_in_sync WHAT: until every brick of vm is online and every member in sync, within SYNC_TIMEOUT seconds.
wait_in_sync() {
    local deadline=$(( $(date +%s) + SYNC_TIMEOUT ))
    until mortar volume status vm --json 2>/dev/null \
        | jq -e '(.bricks | all(.online)) and ([.replicaSets[].members[]] | all(. == "in-sync"))' >/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "$1: volume vm not back in sync within $SYNC_TIMEOUT s: $(mortar volume status vm 2>&1)"
        sleep 0.2
    done
}

mortar up --dir "$cluster" --bricks 1 >/dev/null
mkdir -p "$work/b0" "$work/b1" "$work/b2" "$work/fio"
mortar volume create vm replica 3 "127.0.0.1:$work/b0" "127.0.0.1:$work/b1" "127.0.0.1:$work/b2" --force >/dev/null
mortar volume start vm >/dev/null
wait_in_sync "after volume start"

# fio_run NAME FILE [extra options]: one fio through the drop-in with the job every run shares.
fio_run() {
    local name=$1 file=$2
    shift 2
    (cd "$work/fio" && LD_LIBRARY_PATH="$GFAPI_DIR" timeout 300 fio --name="$name" --ioengine=gfapi --volume=vm \
        --brick=127.0.0.1 --filename="$file" --size=8m --bs=16k --rw=randwrite --verify=crc32c \
        --verify_state_save=1 --rate=2m "$@")
}

echo "== fio through the drop-in while two of three members are killed, $ROUNDS times"
(
    for round in $(seq "$ROUNDS"); do
        sleep 0.5
        for pid in $(mortar volume status vm --json | jq -r '.bricks[].pid' | shuf | head -n 2); do
            kill -KILL "$pid"
            sleep 0.$(( RANDOM % 4 + 1 ))
        done
        for _ in $(seq 25); do
            if mortar volume status vm --json \
                | jq -e '[.replicaSets[0].members[] | select(. == "in-sync")] | length < 2' >/dev/null; then
                echo "$round" >>"$work/below-minimum"
                break
            fi
            sleep 0.2
        done
        wait_in_sync "round $round"
    done
) &
killer_pid=$!
started=$(date +%s)
runs=0
read_only=0
while kill -0 "$killer_pid" 2>/dev/null; do
    runs=$((runs + 1))
    status=0
    fio_run "run$runs" "thrash-$runs.img" --do_verify=0 >"$work/fio/run$runs.out" 2>&1 || status=$?
    if grep -q "error=Read-only file system" "$work/fio/run$runs.out"; then
        read_only=$((read_only + 1))
    elif [ "$status" != 0 ]; then
        fail "fio run $runs failed other than with EROFS (status $status): $(tail -n 5 "$work/fio/run$runs.out")"
    fi
done
killer_status=0
wait "$killer_pid" || killer_status=$?
killer_pid=
[ "$killer_status" = 0 ] || fail "the killer failed (status $killer_status)"
below=$(wc -l <"$work/below-minimum" 2>/dev/null || echo 0)
echo "$runs fio runs in $(( $(date +%s) - started )) s; set seen below min-in-sync in $below of $ROUNDS rounds;" \
    "$read_only runs stopped by EROFS"
[ "$below" -gt 0 ] || fail "the set was never seen below min-in-sync: nothing was tested"

started=$(date +%s)
wait_in_sync "after the kills"
echo "back in sync $(( $(date +%s) - started )) s after the last kill"

echo "== the three copies are identical"
compared=0
for run in $(seq "$runs"); do
    copy="thrash-$run.img"
    [ -e "$work/b0/$copy" ] || [ -e "$work/b1/$copy" ] || [ -e "$work/b2/$copy" ] || continue
    for member in b1 b2; do
        cmp "$work/b0/$copy" "$work/$member/$copy" \
            || fail "$copy differs between b0 and $member although every member is in sync"
    done
    compared=$((compared + 1))
done
[ "$compared" -gt 0 ] || fail "no fio run left a file to compare"
echo "ok: $compared files identical on all three members"

echo "== every acknowledged write reads back (fio --verify_only through the drop-in)"
verified=0
for run in $(seq "$runs"); do
    [ -e "$work/fio/local-run$run-0-verify.state" ] || continue
    [ -e "$work/b0/thrash-$run.img" ] || continue
    fio_run "run$run" "thrash-$run.img" --verify_only --verify_state_load=1 >"$work/fio/verify$run.out" 2>&1 \
        || fail "fio --verify_only of run $run failed: $(grep -iE 'verify|error' "$work/fio/verify$run.out" | head -n 5)"
    verified=$((verified + 1))
done
[ "$verified" -gt 0 ] || fail "no fio run left verify state to check"
echo "thrash.sh: all checks passed ($verified runs verified)"
