#!/usr/bin/env bash
# scripts/bench-requests.sh — what one request costs: 4 KiB random writes (one at a time, and 16 in flight) and
# cached random reads through the libgfapi drop-in, on a one-brick volume and a replica-3 volume of a private
# `mortar up` cluster (three brick directories on this disk, --force), with the context switches per operation
# (`perf stat -e context-switches -a`) beside each figure, and the busy CPU of the idle cluster. Not part of CI.
#
#   MORTAR_BINARY=.build/release/mortar GFAPI_DIR=$(.build/release/mortar gfapi-path) scripts/bench-requests.sh
#   RUNTIME=20 REPS=3 … scripts/bench-requests.sh      # longer runs, more repetitions (median)
#   METRICS=off … scripts/bench-requests.sh             # bricks that count nothing (`mortar up --no-metrics`), to
#                                                       # measure what counting costs against the default (on)
#   PROFILE=on … scripts/bench-requests.sh              # both volumes profiled (`volume profile VOL start`), to
#                                                       # measure what profiling costs against the default (off)
#
# Needs fio and jq; perf (linux-perf) for the context switches (the column says "–" without it). The idle CPU is
# read from /proc/stat over 3 s right after the cluster came up.
# Builds nothing: build the release binary and the drop-in first (`make gfapi`, `swift build -c release`).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
MORTAR_BINARY=${MORTAR_BINARY:-$REPO/.build/release/mortar}
GFAPI_DIR=${GFAPI_DIR:-$REPO/.build-gfapi/lib}
RUNTIME=${RUNTIME:-8}
REPS=${REPS:-1}
JOBS="$REPO/bench/requests/requests.fio"

die() { echo "bench-requests: $*" >&2; exit 1; }
[ -x "$MORTAR_BINARY" ] || die "no mortar binary at $MORTAR_BINARY (swift build -c release --product mortar)"
[ -e "$GFAPI_DIR/libgfapi.so.0" ] || die "no libgfapi.so.0 in $GFAPI_DIR (make gfapi)"
command -v fio >/dev/null || die "fio is missing (apt-get install fio)"
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
PERF=$(command -v perf || true)
[ -n "$PERF" ] || echo "bench-requests: perf is missing (apt-get install linux-perf): no context switches" >&2

DIR=$(mktemp -d /tmp/mortar-bench-requests-XXXXXX)
cleanup() { "$MORTAR_BINARY" down --dir "$DIR/cluster" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
mortar() { "$MORTAR_BINARY" "$@"; }

echo "bench-requests: starting a cluster in $DIR/cluster" >&2
case "${METRICS:-on}" in on) metrics_flag=--metrics ;; off) metrics_flag=--no-metrics ;; *) die "METRICS must be on or off" ;; esac
mortar up --dir "$DIR/cluster" --bricks 1 "$metrics_flag" >"$DIR/up.log" 2>&1 || die "mortar up failed: $(tail -3 "$DIR/up.log")"
mkdir -p "$DIR/cluster/r/a" "$DIR/cluster/r/b" "$DIR/cluster/r/c"
mortar volume create rep replica 3 "127.0.0.1:$DIR/cluster/r/a" "127.0.0.1:$DIR/cluster/r/b" \
    "127.0.0.1:$DIR/cluster/r/c" --force >/dev/null
mortar volume start rep >/dev/null
for _ in $(seq 1 120); do
    mortar volume status rep 2>/dev/null | grep -q "3 of 3 in sync" && break
    sleep 0.5
done
mortar volume status rep | grep -q "3 of 3 in sync" || die "the replica-3 volume did not come into sync within 60 s"
case "${PROFILE:-off}" in
    on) for volume in demo rep; do mortar volume profile "$volume" start >/dev/null || die "profile start on $volume failed"; done ;;
    off) ;;
    *) die "PROFILE must be on or off" ;;
esac

# Busy CPU of the idle cluster over 3 s, from /proc/stat (all CPUs): 100 - idle %.
idle_busy() {
    local a b a1 a2 a3 a4 a5 a6 a7 a8 b1 b2 b3 b4 b5 b6 b7 b8
    read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
    sleep 3
    read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
    a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8)) b=$((b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8))
    awk -v total=$((b - a)) -v idle=$(((b4 + b5) - (a4 + a5))) 'BEGIN { printf "%.1f", 100 * (total - idle) / total }'
}

# One section on one volume: "IOPS switches-per-op".
run() {  # volume section
    local out="$DIR/$1-$2.json" switches="$DIR/$1-$2.perf"
    if [ -n "$PERF" ]; then
        VOL=$1 RUNTIME=$RUNTIME LD_LIBRARY_PATH=$GFAPI_DIR "$PERF" stat -x, -e context-switches -a -o "$switches" -- \
            fio --section="$2" --output-format=json --output="$out" "$JOBS" >/dev/null 2>"$DIR/$1-$2.err" \
            || die "fio $2 on $1 failed: $(tail -3 "$DIR/$1-$2.err")"
    else
        VOL=$1 RUNTIME=$RUNTIME LD_LIBRARY_PATH=$GFAPI_DIR fio --section="$2" --output-format=json --output="$out" \
            "$JOBS" >/dev/null 2>"$DIR/$1-$2.err" || die "fio $2 on $1 failed: $(tail -3 "$DIR/$1-$2.err")"
    fi
    local iops ios
    iops=$(jq '[.jobs[] | .read.iops + .write.iops] | add' "$out")
    ios=$(jq '[.jobs[] | .read.total_ios + .write.total_ios] | add' "$out")
    local per="–"
    if [ -n "$PERF" ]; then
        per=$(awk -F, -v ios="$ios" '$3 == "context-switches" && ios > 0 { printf "%.1f", $1 / ios }' "$switches")
    fi
    printf '%.0f %s\n' "$iops" "${per:-–}"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench-requests: idle cluster" >&2
idle=$(idle_busy)
echo
echo "Commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ), $(nproc) CPUs;" \
    "$RUNTIME s per job, median of $REPS; metrics ${METRICS:-on}, profile ${PROFILE:-off};" \
    "busy CPU of the idle cluster: $idle %"
echo
echo "| volume | job | IOPS | context switches per operation |"
echo "|---|---|---|---|"
for volume in demo rep; do
    for section in randwrite randwrite-qd16 randread; do
        echo "bench-requests: $volume $section" >&2
        results=()
        for _ in $(seq 1 "$REPS"); do results+=("$(run "$volume" "$section")"); done
        iops=$(printf '%s\n' "${results[@]}" | cut -d' ' -f1 | median)
        per=$(printf '%s\n' "${results[@]}" | cut -d' ' -f2 | grep -v '–' | median || true)
        name=$([ "$volume" = demo ] && echo "one brick" || echo "replica 3")
        printf '| %s | %s | %s | %s |\n' "$name" "$section" "$iops" "${per:-–}"
    done
done
