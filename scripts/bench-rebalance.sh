#!/usr/bin/env bash
# scripts/bench-rebalance.sh — add-brick + rebalance, Mortar against GlusterFS 10.3, on this machine.
#
#   MORTAR_BINARY=.build/release/mortar FILES=10000 bash scripts/bench-rebalance.sh    (as root)
#
# For each system, the same steps: a 2-brick distribute volume, mounted with FUSE; FILES files of 1-5 KiB in 20
# directories copied in through the mount; fio (4 KiB random reads and writes, 50/50, one job, QD1, on a 64 MiB file
# through the mount) for FIO_SECONDS as the baseline; then 2 bricks added and the rebalance started with the same
# fio running; the time until the rebalance reports completed. Prints files moved, files/s, MiB/s, and the client's
# fio IOPS during the rebalance over the baseline, and the Mortar / GlusterFS ratios. GlusterFS runs through
# ../shared/bench (glusterd on 127.0.0.1:24007, bricks under /srv/gbase); Mortar through `mortar up` (its daemon
# on the same port, so the two never run at once). Results go to $RESULTS/rebalance-<time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${FILES:-10000}
FIO_SECONDS=${FIO_SECONDS:-8}
MORTAR_BINARY=${MORTAR_BINARY:-$PWD/.build/release/mortar}
SHARED_BENCH=${SHARED_BENCH:-$(cd ../shared/bench && pwd)}
RESULTS=${RESULTS:-/tmp/mortar-bench}
mkdir -p "$RESULTS"
out="$RESULTS/rebalance-$(date +%Y%m%d-%H%M%S).txt"
work=$(mktemp -d /tmp/mortar-bench-rebalance.XXXXXX)
LOG=$work/log
die() { echo "bench-rebalance: $*" >&2; exit 1; }
say() { echo "$*" | tee -a "$out"; }
mortar() { "$MORTAR_BINARY" "$@"; }
[ "$(id -u)" = 0 ] || die "run as root (mounts, bricks under /srv/gbase)"
[ -x "$MORTAR_BINARY" ] || die "no mortar binary at $MORTAR_BINARY"

gmnt=/mnt/grb
mmnt=$work/mnt
cleanup() {
    mountpoint -q "$gmnt" && umount "$gmnt" 2>/dev/null
    mountpoint -q "$mmnt" && umount "$mmnt" 2>/dev/null
    if gluster volume info grb >/dev/null 2>&1; then
        gluster --mode=script volume stop grb force >>"$LOG" 2>&1 || true
        gluster --mode=script volume delete grb >>"$LOG" 2>&1 || true
    fi
    "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || true
    mortar down --dir "$work/cluster" >>"$LOG" 2>&1 || true
    rm -rf /srv/gbase/grb "$work/src"
}
trap cleanup EXIT

# The data set, made once: 20 directories of FILES / 20 files each, 1 to 5 KiB.
per=$(( FILES / 20 ))
for d in $(seq 0 19); do
    mkdir -p "$work/src/d$d"
    head -c $(( per * 1024 * (1 + d % 5) )) /dev/urandom | (cd "$work/src/d$d" && split -b $(( 1024 * (1 + d % 5) )) -a 4 - f)
done
bytes=$(du -sb "$work/src" | cut -f1)

# fio_iops MOUNT SECONDS: 4 KiB random 50/50 reads and writes through the mount, QD1; prints total IOPS.
fio_iops() {
    fio --name=client --directory="$1" --filename=client.dat --size=64m --bs=4k --rw=randrw --rwmixread=50 \
        --ioengine=psync --time_based --runtime="$2" --output-format=json 2>>"$LOG" \
        | jq '.jobs[0].read.iops + .jobs[0].write.iops | floor'
}

# rebalance_run NAME MOUNT ADD STATUS: copies the data in, measures the baseline, adds bricks (ADD), starts the
# rebalance with fio running, and waits for STATUS to say completed. Prints "seconds moved baseline during".
rebalance_run() {
    local name=$1 mnt=$2 add=$3 status=$4
    cp -r "$work/src" "$mnt/data"
    fio_iops "$mnt" 2 >/dev/null   # lay the fio file out
    local baseline during started elapsed moved
    baseline=$(fio_iops "$mnt" "$FIO_SECONDS")
    $add >>"$LOG" 2>&1 || die "$name: add-brick failed (see $LOG)"
    started=$(date +%s.%N)
    fio_iops "$mnt" "$FIO_SECONDS" >"$work/during" &
    local fio=$!
    eval "$name"_start >>"$LOG" 2>&1 || die "$name: rebalance start failed (see $LOG)"
    until $status | grep -q "completed"; do
        $status | grep -Eq "failed|stopped" && die "$name: rebalance did not complete: $($status)"
        sleep 0.2
    done
    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    wait "$fio"
    during=$(cat "$work/during")
    moved=$($status | awk '/completed/ { print $2; exit }')
    echo "$elapsed $moved $baseline $during"
}

# GlusterFS 10.3
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
port_busy 24007 && die "127.0.0.1:24007 is busy; stop the daemon or glusterd first"
"$SHARED_BENCH/gluster-setup.sh" >>"$LOG" 2>&1 || die "gluster-setup.sh failed (see $LOG)"
host=$(hostname)
mkdir -p /srv/gbase/grb "$gmnt"
gluster --mode=script volume create grb "$host:/srv/gbase/grb/b0" "$host:/srv/gbase/grb/b1" force >>"$LOG" 2>&1
gluster --mode=script volume start grb >>"$LOG" 2>&1
mount -t glusterfs 127.0.0.1:/grb "$gmnt"
gluster_add() { gluster --mode=script volume add-brick grb "$host:/srv/gbase/grb/b2" "$host:/srv/gbase/grb/b3" force; }
gluster_start() { gluster --mode=script volume rebalance grb start; }
gluster_status() { gluster volume rebalance grb status 2>/dev/null | grep -E "^ *localhost|completed|in progress|failed|stopped" | head -1; }
read -r g_seconds g_moved g_base g_during < <(rebalance_run gluster "$gmnt" gluster_add gluster_status) || true
[ -n "${g_during:-}" ] || die "GlusterFS's run gave no figures (see $LOG)"
umount "$gmnt"
gluster --mode=script volume stop grb force >>"$LOG" 2>&1
gluster --mode=script volume delete grb >>"$LOG" 2>&1
"$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1
rm -rf /srv/gbase/grb

# Mortar
mortar up --dir "$work/cluster" --bricks 1 >>"$LOG" 2>&1
mkdir -p "$work/m0" "$work/m1" "$work/m2" "$work/m3" "$mmnt"
mortar volume create grb "127.0.0.1:$work/m0" "127.0.0.1:$work/m1" --force >>"$LOG" 2>&1
mortar volume start grb >>"$LOG" 2>&1
mortar mount mortar://127.0.0.1/grb "$mmnt"
mortar_add() { mortar volume add-brick grb "127.0.0.1:$work/m2" "127.0.0.1:$work/m3"; }
mortar_start() { mortar volume rebalance grb start; }
mortar_status() { mortar volume rebalance grb status | sed -n 3p; }
read -r m_seconds m_moved m_base m_during < <(rebalance_run mortar "$mmnt" mortar_add mortar_status) || true
[ -n "${m_during:-}" ] || die "Mortar's run gave no figures (see $LOG)"
umount "$mmnt"

rate() { echo "scale=1; $1 / $2" | bc; }
say "rebalance after add-brick 2 -> 4, $FILES files ($bytes bytes), fio 4 KiB randrw QD1 through the FUSE mount"
say "system     moved  seconds  files/s  MiB/s   client IOPS baseline  during  during/baseline"
for s in g m; do
    eval "sec=\$${s}_seconds moved=\$${s}_moved base=\$${s}_base during=\$${s}_during"
    name=$([ "$s" = g ] && echo "GlusterFS" || echo "Mortar")
    mib=$(echo "scale=2; $bytes * $moved / $FILES / 1048576 / $sec" | bc)
    say "$(printf '%-10s %-6s %-8.1f %-8s %-7s %-21s %-7s %s' "$name" "$moved" "$sec" "$(rate "$moved" "$sec")" "$mib" "$base" "$during" "$(echo "scale=2; $during / $base" | bc)")"
done
say "Mortar / GlusterFS files/s: $(echo "scale=2; ($m_moved / $m_seconds) / ($g_moved / $g_seconds)" | bc)"
say "(command: MORTAR_BINARY=$MORTAR_BINARY FILES=$FILES bash scripts/bench-rebalance.sh; log: $LOG)"
