#!/usr/bin/env bash
# scripts/bench-failover.sh — how long writes stall when a host is lost, Mortar against GlusterFS 10.3, measured the
# same way. Run by hand, as root; not part of CI.
#
#   MORTAR_BINARY=/path/to/mortar bash scripts/bench-failover.sh      # every system and case, one run each
#   SYSTEMS=gluster PING_TIMEOUTS=5 CASES=other bash scripts/bench-failover.sh   # a subset
#   bash scripts/bench-failover.sh --table /tmp/mortar-bench-failover/<run id>/results.tsv   # redo the table
#
# The scenario is tests/netns/control-plane.sh's: three hosts h1..h3 and a client c, each in its own network
# namespace on a private bridge (tests/netns/lib.sh; namespaces "mbf<pid>x<n>-*", subnet SUBNET.0/24, default
# 10.213.91), one replica-3 volume with one brick per host, and on the client a FUSE mount of it from h1 naming h2
# and h3 as backups (Mortar: -o backup_servers=IP2:IP3; GlusterFS: mount.glusterfs -o backup-volfile-servers=IP2:IP3)
# under the same writer loop (a 4 KiB file per write, dd conv=fsync, "N epoch-seconds" logged per acknowledged
# write, every 50 ms). After 20 acknowledged writes one host is lost: its link goes down (ip -n NS link set eth0
# down) and every process in its namespace is SIGKILLed. Then the script waits, at most BOUND s (120), for 20 more
# acknowledged writes, and the figure is the longest gap between consecutive acknowledged writes from 1 s before
# the loss (control-plane.sh's awk, in scripts/lib/failover_stall.py). Writes that never resume within BOUND are
# reported as ">BOUND"; writes that failed (dd exited non-zero) are counted.
#
# Every case runs on a fresh cluster (namespaces, daemons, bricks and mount set up for it and torn down after it):
#   Mortar   "manager": the host whose daemon holds the manager role (`mortar peer status` says "holds the manager
#            role"); "other": a host that holds neither the manager role nor serves the mount (h3, or h2 when h3
#            is the manager). Each host runs an etcd member (heartbeat 50 ms, election 500 ms) and
#            `mortar daemon --etcd`, exactly as control-plane.sh starts them; TLS from scripts/lib/credentials.sh.
#   GlusterFS "volfile server": h1, the host the client mounted from; "other": h3. Each host runs its own glusterd
#            (own working, run and log directories, own CLI socket, bound to its namespace's address; see
#            gluster_start_host). Once with the default network.ping-timeout (42 s) and once per other value in
#            PING_TIMEOUTS (`gluster volume set VOL network.ping-timeout N` before the volume starts).
# The table also gives when the loss came, in seconds after the first acknowledged write (about 1.5 s with
# SETTLE=0). It matters for GlusterFS: its client pings a brick only while requests are pending, ping-timeout s after
# the last ping's reply, and gives up on it ping-timeout s after an unanswered ping (rpc-clnt-ping.c), so a loss
# stalls writes for between 1x and 2x network.ping-timeout depending on where in that cycle it falls; a loss just
# after the mount started (SETTLE=0) lands near the 2x end.
# The 1-minute load average is recorded at the loss and once writes resumed (the figures are sensitive to CPU
# contention on a small machine). Before each case the script waits up to QUIET_WAIT s (30) for the 1-minute load to
# drop below QUIET_LOAD (1.5), and goes on regardless.
#
# Knobs: MORTAR_BINARY (default .build/release/mortar; copy a build somewhere no `pkill -f debug/mortar` reaches),
# SYSTEMS ("mortar gluster"), CASES ("primary other": "primary" = Mortar's manager / GlusterFS's volfile server),
# PING_TIMEOUTS ("42 5"), SETTLE (s of writing after the 20th acknowledged write before the loss, 0), RUNS (1),
# BOUND (120), SUBNET (10.213.91), OUT (results directory, default /tmp/mortar-bench-failover/<run id>: results.tsv,
# table.md, and per case the ack log, writer errors and every host's logs; an existing OUT is appended to).
# Time: one run of all six cases took about 8 minutes on a 2-CPU VM (each GlusterFS case at the default
# ping-timeout waits out its ~83 s stall); RUNS=2 about 17.
# Needs root, iproute2, etcd, jq, python3, /dev/fuse, and GlusterFS 10.3 (apt-get install glusterfs-server
# glusterfs-client) for the GlusterFS cases. Processes outside this run's namespaces are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
name=bench-failover

if [ "${1:-}" = "--table" ]; then
    python3 "$repo/scripts/lib/failover_stall.py" table "${2:?usage: $0 --table RESULTS.tsv}"
    exit 0
fi

mortar="${MORTAR_BINARY:-$repo/.build/release/mortar}"
SYSTEMS=${SYSTEMS:-"mortar gluster"}
CASES=${CASES:-"primary other"}
PING_TIMEOUTS=${PING_TIMEOUTS:-"42 5"}
SETTLE=${SETTLE:-0}
RUNS=${RUNS:-1}
BOUND=${BOUND:-120}
QUIET_WAIT=${QUIET_WAIT:-30}
QUIET_LOAD=${QUIET_LOAD:-1.5}
subnet=${SUBNET:-10.213.91}
OUT=${OUT:-/tmp/mortar-bench-failover/$(date +%Y%m%d-%H%M%S)}
hosts="h1 h2 h3 c"
volume=bf
before_loss=20
after_loss=20

source tests/netns/lib.sh
die() { echo "$name: $*" >&2; exit 1; }
log() { echo "$name: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root for network namespaces"
[ -c /dev/fuse ] || die "needs /dev/fuse for the client's mount"
for tool in ip jq python3 awk; do command -v "$tool" >/dev/null || die "needs $tool"; done
for system in $SYSTEMS; do
    case $system in
        mortar)
            [ -x "$mortar" ] || die "no mortar executable at MORTAR_BINARY=$mortar"
            command -v etcd >/dev/null || die "needs etcd (scripts/install-deps.sh)" ;;
        gluster)
            for tool in glusterd gluster mount.glusterfs; do
                command -v "$tool" >/dev/null \
                    || die "needs $tool: apt-get update && apt-get install -y glusterfs-server glusterfs-client"
            done ;;
        *) die "unknown system '$system' (SYSTEMS takes mortar and gluster)" ;;
    esac
done
for case_name in $CASES; do
    case $case_name in primary | other) ;; *) die "unknown case '$case_name' (CASES takes primary and other)" ;; esac
done

mkdir -p "$OUT"
results="$OUT/results.tsv"
[ -f "$results" ] || printf 'system\tcase\tlost\tping_timeout\tloss_at\tstall\tfailed\tacked_after\tload_at_loss\tload_after\tnote\n' >"$results"

# The current case's world: namespaces "$prefix-*", files under $work. Unix sockets our bricks made outside $work
# (/run/mortar, /run/gluster) are noted in $OUT/sockets from the processes' arguments and removed at the end.
world=0
prefix=""
work=""
writer=""
address() { echo "$subnet.$1"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

note_sockets() {
    [ -n "$prefix" ] || return 0
    local host pid
    for host in $hosts; do
        for pid in $(ip netns pids "$prefix-$host" 2>/dev/null); do
            cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' '\n' \
                | awk 'previous == "-S" || previous == "--unix-socket" { print } { previous = $0 }' >>"$OUT/sockets" || true
        done
    done
}
end_world() {
    [ -n "$prefix" ] || return 0
    [ -n "$work" ] && touch "$work/stop" 2>/dev/null || true
    # The writer stops and unmounts by itself unless its mount hangs.
    local start=$SECONDS
    while [ -n "$writer" ] && kill -0 "$writer" 2>/dev/null && [ $((SECONDS - start)) -lt 10 ]; do sleep 0.2; done
    note_sockets
    # SIGKILL every process of the namespaces until none is left (one that forks while being stopped would escape
    # netns_down's single pass), then netns_down deletes them.
    local host pids
    for _ in $(seq 1 50); do
        pids=$(for host in $hosts sw; do ip netns pids "$prefix-$host" 2>/dev/null; done)
        [ -n "$pids" ] || break
        kill -KILL $pids 2>/dev/null || true
        sleep 0.1
    done
    netns_down
    [ -z "$writer" ] || wait "$writer" 2>/dev/null || true
    writer=""
    [ -z "$work" ] || rm -rf "$work"
    prefix=""
    work=""
}
remove_sockets() {
    [ -f "$OUT/sockets" ] || return 0
    local socket
    sort -u "$OUT/sockets" | while read -r socket; do
        case $socket in /run/mortar/*.sock | /run/gluster/*.socket | /var/run/gluster/*.socket) rm -f "$socket" ;; esac
    done
    rm -f "$OUT/sockets"
}
# Directories every glusterd makes at fixed places whatever its options: removed at the end if this run made them
# and they hold nothing but the empty gsyncd_template.conf glusterd leaves there.
gluster_fixed_dirs="/run/gluster/snaps /var/lib/glusterd/geo-replication /var/lib/glusterd/ss_brick"
made_dirs=""
for dir in $gluster_fixed_dirs; do [ -e "$dir" ] || made_dirs="$made_dirs $dir"; done
cleanup() {
    end_world
    remove_sockets
    local dir
    for dir in $made_dirs; do
        [ ! -f "$dir/gsyncd_template.conf" ] || [ -s "$dir/gsyncd_template.conf" ] || rm -f "$dir/gsyncd_template.conf"
        rmdir "$dir" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

new_world() {
    world=$((world + 1))
    prefix="mbf$$x$world"
    work=$(mktemp -d /tmp/mbf-XXXXXX)
    netns_up
}

wait_quiet() {
    local start=$SECONDS
    while [ $((SECONDS - start)) -lt "$QUIET_WAIT" ]; do
        awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }' && return 0
        sleep 5
    done
    log "load still $(load1) after ${QUIET_WAIT} s; going on"
}

# The writer of control-plane.sh, on the client, through a FUSE mount of the volume from h1 with h2 and h3 as
# backups. It mounts inside its own `ip netns exec` (a mount namespace of its own), so the mount is seen only there.
start_writer() {
    local kind=$1
    mkdir -p "$work/src" "$work/mnt"
    for n in $(seq 0 49); do head -c 4096 /dev/urandom >"$work/src/f$n"; done
    : >"$work/acked"
    : >"$work/writer.err"
    on c bash -c '
        set -u
        kind=$1 work=$2 mortar=$3 server=$4 backups=$5 volume=$6
        case $kind in
            mortar) "$mortar" mount -o "backup_servers=$backups,tls_dir=$work/client" "mortar://$server/$volume" "$work/mnt" \
                        2>>"$work/writer.err" || { echo "mount failed" >>"$work/writer.err"; exit 1; } ;;
            gluster) mount -t glusterfs -o "backup-volfile-servers=$backups,log-file=$work/client.log" "$server:/$volume" \
                        "$work/mnt" 2>>"$work/writer.err" || { echo "mount failed" >>"$work/writer.err"; exit 1; } ;;
        esac
        trap "umount -l \"$work/mnt\"" EXIT
        mkdir -p "$work/mnt/w"
        i=0
        while [ ! -e "$work/stop" ]; do
            if dd if="$work/src/f$((i % 50))" of="$work/mnt/w/f$i" bs=4k conv=fsync status=none 2>>"$work/writer.err"; then
                echo "$i $(date +%s.%N)" >>"$work/acked"
            else
                echo "write $i failed at $(date +%s.%N)" >>"$work/writer.err"
            fi
            i=$((i + 1))
            sleep 0.05
        done
    ' writer "$kind" "$work" "$mortar" "$(address 1)" "$(address 2):$(address 3)" "$volume" &
    writer=$!
}
acked() { wc -l <"$work/acked"; }
# wait_for_acks N BOUND: 0 once N more writes are acknowledged, 1 if BOUND s pass first, 2 if the writer stopped.
wait_for_acks() {
    local target=$(($(acked) + $1)) start=$SECONDS
    while [ "$(acked)" -lt "$target" ]; do
        kill -0 "$writer" 2>/dev/null || return 2
        [ $((SECONDS - start)) -lt "$2" ] || return 1
        sleep 0.1
    done
}

# record SYSTEM CASE LOST PING_TIMEOUT LOSS_AT STALL FAILED ACKED_AFTER LOAD_AT LOAD_AFTER NOTE
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
    log "RESULT $1 $2: lost $3 $5 s after the first write, ping-timeout $4: stall $6 s, $7 writes failed, $8 acknowledged since; load $9 -> ${10}${11:+; ${11}}"
}
# keep_logs LABEL: copies what explains a case into $OUT/LABEL (ack log, writer errors, client log, every host's
# daemon, etcd and GlusterFS logs).
keep_logs() {
    local label=$1 i
    mkdir -p "$OUT/$label"
    cp "$work/acked" "$work/writer.err" "$OUT/$label/" 2>/dev/null || true
    [ ! -f "$work/client.log" ] || cp "$work/client.log" "$OUT/$label/"
    for i in 1 2 3; do
        mkdir -p "$OUT/$label/h$i"
        cp "$work/h$i/daemon.log" "$work/h$i/etcd.log" "$OUT/$label/h$i/" 2>/dev/null || true
        [ ! -d "$work/h$i/log" ] || cp -r "$work/h$i/log" "$OUT/$label/h$i/" 2>/dev/null || true
    done
    return 0
}

# lose_and_measure SYSTEM CASE LOST ROLES PING_TIMEOUT LABEL: the loss of host LOST under the writer, recorded.
lose_and_measure() {
    local system=$1 case_name=$2 lost=$3 roles=$4 ping=$5 label=$6 pid
    local before load_at kill_time status=0 stall failed after note="" first loss_at
    before=$(acked)
    first=$(awk 'NR == 1 { print $2 }' "$work/acked")
    load_at=$(load1)
    note_sockets
    kill_time=$(date +%s.%N)
    ip -n "$prefix-h$lost" link set eth0 down
    for pid in $(ip netns pids "$prefix-h$lost"); do kill -KILL "$pid" 2>/dev/null || true; done
    wait_for_acks "$after_loss" "$BOUND" || status=$?
    after=$(( $(acked) - before ))
    loss_at=$(awk -v k="$kill_time" -v f="$first" 'BEGIN { printf "%.1f", k - f }')
    stall=$(python3 "$repo/scripts/lib/failover_stall.py" stall "$work/acked" "$kill_time")
    case $status in
        1) note="fewer than $after_loss writes acknowledged within $BOUND s (longest gap seen $stall s)"; stall=">$BOUND" ;;
        2) note="the writer stopped (see $OUT/$label/writer.err)"; stall="n/a" ;;
    esac
    failed=$(grep -c '^write [0-9]* failed' "$work/writer.err" || true)
    record "$system" "$case_name" "h$lost ($roles)" "$ping" "$loss_at" "$stall" "$failed" "$after" "$load_at" "$(load1)" "$note"
}

# ---- Mortar: control-plane.sh's hosts.
mortar_etcd_urls() {
    local own=$1 urls="http://$(address "$1"):2379" i
    for i in 1 2 3; do [ "$i" = "$own" ] || urls="$urls,http://$(address "$i"):2379"; done
    echo "$urls"
}
mortar_start_host() {
    local i=$1 cluster="e1=http://$(address 1):2380,e2=http://$(address 2):2380,e3=http://$(address 3):2380"
    mkdir -p "$work/h$i/state" "$work/h$i/brick"
    on "h$i" etcd --name "e$i" --data-dir "$work/h$i/etcd" \
        --listen-client-urls "http://$(address "$i"):2379" --advertise-client-urls "http://$(address "$i"):2379" \
        --listen-peer-urls "http://$(address "$i"):2380" --initial-advertise-peer-urls "http://$(address "$i"):2380" \
        --initial-cluster "$cluster" --initial-cluster-token mortar-netns --initial-cluster-state new \
        --heartbeat-interval 50 --election-timeout 500 --log-level warn >>"$work/h$i/etcd.log" 2>&1 &
    disown "$!"  # netns_down stops it; no "Terminated" notice then
    on "h$i" "$mortar" daemon --state-dir "$work/h$i/state" --listen "$(address "$i"):24007" \
        --advertise "$(address "$i")" --etcd "$(mortar_etcd_urls "$i")" >>"$work/h$i/daemon.log" 2>&1 &
    disown "$!"
}
mortar_wait_daemon() {
    local i=$1
    for _ in $(seq 1 300); do
        on c "$mortar" volume list --manager "$(address "$i"):24007" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
mortar_role_holder() {
    local i
    for i in 1 2 3; do
        on c "$mortar" peer status --manager "$(address "$i"):24007" 2>/dev/null | grep -q "holds the manager role" \
            && { echo "$i"; return 0; }
    done
    return 1
}
mortar_in_sync() {
    local start=$SECONDS
    until on c "$mortar" volume status --manager "$(address 1):24007" "$volume" --json 2>/dev/null \
        | jq -e '(.bricks | all(.online)) and (.replicaSets[0].members | all(. == "in-sync"))' >/dev/null 2>&1; do
        [ $((SECONDS - start)) -lt 120 ] || return 1
        sleep 0.2
    done
}
mortar_case() {
    local case_name=$1 run=$2 label i holder lost roles
    label="mortar-$case_name-$run"
    new_world
    log "$label: setting up (namespaces $prefix-*, files $work)"
    mortar_credentials "$mortar" "$work" "$work/h1/state/tls" "$work/h2/state/tls" "$work/h3/state/tls"
    export MORTAR_TLS_DIR="$work/admin"
    for i in 1 2 3; do mortar_start_host "$i"; done
    for i in 1 2 3; do
        mortar_wait_daemon "$i" || { record mortar "$case_name" - - - n/a - - "$(load1)" - "setup: daemon $i did not answer"; keep_logs "$label"; end_world; return; }
    done
    if ! on c "$mortar" volume create --manager "$(address 1):24007" "$volume" replica 3 \
            "$(address 1):$work/h1/brick" "$(address 2):$work/h2/brick" "$(address 3):$work/h3/brick" >/dev/null \
        || ! on c "$mortar" volume start --manager "$(address 2):24007" "$volume" >/dev/null || ! mortar_in_sync; then
        record mortar "$case_name" - - - n/a - - "$(load1)" - "setup: the volume did not start in sync"
        keep_logs "$label"; end_world; return
    fi
    start_writer mortar
    if ! wait_for_acks "$before_loss" 60; then
        record mortar "$case_name" - - - n/a - "$(acked)" "$(load1)" - "setup: the writer did not get $before_loss writes acknowledged"
        keep_logs "$label"; end_world; return
    fi
    sleep "$SETTLE"
    holder=$(mortar_role_holder) || holder=""
    [ -n "$holder" ] || { record mortar "$case_name" - - - n/a - - "$(load1)" - "no daemon holds the manager role"; keep_logs "$label"; end_world; return; }
    if [ "$case_name" = primary ]; then lost=$holder; elif [ "$holder" = 3 ]; then lost=2; else lost=3; fi
    roles=""
    [ "$lost" = "$holder" ] && roles="manager"
    [ "$lost" = 1 ] && roles="${roles:+$roles, }mount server"
    log "$label: manager role on h$holder; losing h$lost (${roles:-no role}) at $(acked) acknowledged writes; load $(uptime | sed 's/.*load/load/')"
    lose_and_measure mortar "$([ "$case_name" = primary ] && echo manager || echo other)" "$lost" "${roles:-none}" - "$label"
    keep_logs "$label"
    end_world
}

# ---- GlusterFS: one glusterd per host namespace. Everything a glusterd keeps on the shared filesystem is its own:
# working directory (UUID, peers, volume files), run directory (pid files of its bricks and self-heal daemon),
# logging directory (its bricks', self-heal daemon's and cmd_history logs), CLI socket (glusterd-sockfile; the CLI
# reaches it with --glusterd-sock), pid file and log file. It listens on its namespace's address only
# (transport.socket.bind-address, which glusterd also passes to its bricks and self-heal daemon). The bricks' own
# Unix sockets go to /run/gluster (fixed in GlusterFS) under names hashed from host and path, so they differ.
gcli() {
    local i=$1
    shift
    on "h$i" gluster --mode=script --glusterd-sock="$work/h$i/run/glusterd.socket" --log-file="$work/h$i/log/cli.log" "$@"
}
gluster_start_host() {
    local i=$1
    mkdir -p "$work/h$i/lib" "$work/h$i/run" "$work/h$i/log" "$work/h$i/brick"
    cat >"$work/h$i/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $work/h$i/lib
    option run-directory $work/h$i/run
    option logging-directory $work/h$i/log
    option glusterd-sockfile $work/h$i/run/glusterd.socket
    option transport-type socket
    option transport.address-family inet
    option transport.socket.bind-address $(address "$i")
    option transport.socket.listen-port 24007
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option max-port 60999
end-volume
EOF
    on "h$i" glusterd -f "$work/h$i/glusterd.vol" -p "$work/h$i/glusterd.pid" -l "$work/h$i/log/glusterd.log"
}
gluster_wait() {  # gluster_wait SECONDS COMMAND…: until COMMAND succeeds, at most SECONDS
    local bound=$1 start=$SECONDS
    shift
    until "$@" >/dev/null 2>&1; do
        [ $((SECONDS - start)) -lt "$bound" ] || return 1
        sleep 0.5
    done
}
gluster_peers_connected() { [ "$(gcli "$1" peer status | grep -c 'Peer in Cluster (Connected)')" -eq 2 ]; }
# gluster_bricks_online: the three bricks (not the self-heal daemons) are online, as `volume status --xml` says.
gluster_bricks_online() {
    [ "$(gcli 1 volume status "$volume" --xml | awk -F'[<>]' '
        /<node>/ { path = ""; status = "" }
        $2 == "path" { path = $3 }
        $2 == "status" { status = $3 }
        /<\/node>/ { if (path ~ /\/brick$/ && status == 1) online++ }
        END { print online + 0 }')" -eq 3 ]
}
gluster_case() {
    local case_name=$1 ping=$2 run=$3 label i lost roles actual
    label="gluster-$case_name-pt$ping-$run"
    new_world
    log "$label: setting up (namespaces $prefix-*, files $work)"
    for i in 1 2 3; do gluster_start_host "$i"; done
    for i in 1 2 3; do
        gluster_wait 30 gcli "$i" volume list || { record gluster "$case_name" - "$ping" - n/a - - "$(load1)" - "setup: glusterd $i did not answer"; keep_logs "$label"; end_world; return; }
    done
    if ! gcli 1 peer probe "$(address 2)" >/dev/null || ! gcli 1 peer probe "$(address 3)" >/dev/null \
        || ! gluster_wait 60 gluster_peers_connected 1 || ! gluster_wait 60 gluster_peers_connected 2 \
        || ! gluster_wait 60 gluster_peers_connected 3; then
        record gluster "$case_name" - "$ping" - n/a - - "$(load1)" - "setup: the peers did not connect"
        keep_logs "$label"; end_world; return
    fi
    if ! gcli 1 volume create "$volume" replica 3 "$(address 1):$work/h1/brick" "$(address 2):$work/h2/brick" \
            "$(address 3):$work/h3/brick" force >/dev/null \
        || { [ "$ping" != 42 ] && ! gcli 1 volume set "$volume" network.ping-timeout "$ping" >/dev/null; } \
        || ! gcli 1 volume start "$volume" >/dev/null || ! gluster_wait 60 gluster_bricks_online; then
        record gluster "$case_name" - "$ping" - n/a - - "$(load1)" - "setup: the volume did not start with three bricks online"
        keep_logs "$label"; end_world; return
    fi
    actual=$(gcli 1 volume get "$volume" network.ping-timeout | awk '$1 == "network.ping-timeout" { print $2 }')
    [ "$actual" = "$ping" ] || log "$label: WARNING: network.ping-timeout is '$actual', not $ping"
    start_writer gluster
    if ! wait_for_acks "$before_loss" 60; then
        record gluster "$case_name" - "$actual" - n/a - "$(acked)" "$(load1)" - "setup: the writer did not get $before_loss writes acknowledged"
        keep_logs "$label"; end_world; return
    fi
    sleep "$SETTLE"
    if [ "$case_name" = primary ]; then lost=1; roles="volfile server"; else lost=3; roles="none"; fi
    log "$label: losing h$lost ($roles) at $(acked) acknowledged writes; load $(uptime | sed 's/.*load/load/')"
    lose_and_measure gluster "$([ "$case_name" = primary ] && echo "volfile server" || echo other)" "$lost" "$roles" "$actual" "$label"
    keep_logs "$label"
    end_world
}

log "results in $OUT; GlusterFS processes running before this run (left alone): $(pgrep -c gluster || true)"
for run in $(seq 1 "$RUNS"); do
    for system in $SYSTEMS; do
        for case_name in $CASES; do
            if [ "$system" = mortar ]; then
                wait_quiet
                mortar_case "$case_name" "$run"
            else
                for ping in $PING_TIMEOUTS; do
                    wait_quiet
                    gluster_case "$case_name" "$ping" "$run"
                done
            fi
        done
    done
done

python3 "$repo/scripts/lib/failover_stall.py" table "$results" | tee "$OUT/table.md"
log "results: $results, table: $OUT/table.md, per-case logs under $OUT"
