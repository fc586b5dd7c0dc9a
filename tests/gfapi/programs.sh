#!/usr/bin/env bash
# tests/gfapi/programs.sh — Mortar's libgfapi.so.0 drop-in under the unmodified programs that use libgfapi:
#   fio   ioengine=gfapi and gfapi_async: 256 MiB written and verified (crc32c) sequentially, randomly and mixed,
#         re-verified from a new process; a clobbered block must be caught; a wrong volume name must fail cleanly
#   qemu  block-gluster (qemu-img, qemu-io): qcow2 create/info/check, patterns at several offsets, convert of a
#         sparse raw image into the volume (raw and qcow2) and back, compared byte for byte
#   tgt   tgtd with the glfs backing store: the LUN is listed, inquiry and capacity over iSCSI, data written over
#         iSCSI reads back over iSCSI and through gluster://, then every iscsi-test-cu family; every family that
#         passes on GlusterFS 10.3 (iscsi-families-glusterfs-10.3.txt) must pass here
#   samba smbd with vfs_glusterfs on 127.0.0.1:$SMB_PORT only (private config and state): smbclient creates,
#         overwrites, renames, lists, reads back (cmp) and deletes files and directories; every step checked;
#         the smbd serving the share must have mapped GFAPI_DIR's libgfapi.so.0 (/proc/PID/maps)
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/libgfapi.so.0 tests/gfapi/programs.sh [fio] [qemu] [tgt] [samba]
#   tests/gfapi/programs.sh --target glusterfs [fio] [qemu] [tgt] [samba]     # calibration against GlusterFS
#   tests/gfapi/programs.sh --target glusterfs --record-families tgt   # re-measure the required iSCSI families
#
# --target mortar (default) starts its own cluster (`$MORTAR_BINARY up --dir <tmp> --bricks 2`, volume demo on
# 127.0.0.1:24007) and stops it on exit. --target glusterfs uses a running GlusterFS (volume $GLUSTER_VOL, default
# gv1, set up by /work/shared/bench/gluster-setup.sh) and the system libgfapi unless GFAPI_DIR says otherwise; its
# test files are removed through the FUSE mount /mnt/$GLUSTER_VOL. The programs find the library only through
# LD_LIBRARY_PATH=$GFAPI_DIR, and the script checks that they really load that file.
# Knobs (environment): FIO_SIZE_MB (256), FIO_MIX_MB (64), LUN_MB (16), FAMILY_TIMEOUT (600 s per iscsi-test-cu
# family), ISCSI_FAMILIES (default: every SCSI.* and iSCSI.* family), ISCSI_PARALLEL_FAMILIES (run on their own
# targets alongside the rest; default SCSI.WriteSame10 SCSI.WriteSame16), ISCSI_PORT (13260), TGT_CONTROL_PORT (23),
# SMB_PORT (4450), LOG_DIR (copy every log there before the temporary directory is removed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=mortar
RECORD_FAMILIES=0
PARTS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --target) TARGET=${2:?--target needs mortar or glusterfs}; shift 2 ;;
        --target=*) TARGET=${1#--target=}; shift ;;
        --record-families) RECORD_FAMILIES=1; shift ;;
        fio | qemu | tgt | samba) PARTS+=("$1"); shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "programs.sh: unknown argument '$1' (parts: fio qemu tgt samba; options: --target mortar|glusterfs, --record-families)" >&2; exit 2 ;;
    esac
done
[ ${#PARTS[@]} -gt 0 ] || PARTS=(fio qemu tgt samba)

FIO_SIZE_MB=${FIO_SIZE_MB:-256}
FIO_MIX_MB=${FIO_MIX_MB:-64}
LUN_MB=${LUN_MB:-16}
FAMILY_TIMEOUT=${FAMILY_TIMEOUT:-600}
ISCSI_FAMILIES=${ISCSI_FAMILIES:-}
ISCSI_PARALLEL_FAMILIES=${ISCSI_PARALLEL_FAMILIES-SCSI.WriteSame10 SCSI.WriteSame16}
ISCSI_PORT=${ISCSI_PORT:-13260}
TGT_CONTROL_PORT=${TGT_CONTROL_PORT:-23}
SMB_PORT=${SMB_PORT:-4450}
LOG_DIR=${LOG_DIR:-}
FIO_TIMEOUT=${FIO_TIMEOUT:-420}      # one fio process (three jobs, each with connect and teardown)
QEMU_TIMEOUT=${QEMU_TIMEOUT:-180}    # one qemu-img / qemu-io command
FAMILIES_FILE=$HERE/iscsi-families-glusterfs-10.3.txt
GHOST=127.0.0.1
PACKAGES=(fio qemu-utils qemu-block-extra tgt tgt-glusterfs libiscsi-bin jq samba samba-vfs-modules smbclient)

case "$TARGET" in
    mortar)
        VOL=demo
        : "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"
        : "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 to test}" ;;
    glusterfs)
        VOL=${GLUSTER_VOL:-gv1}
        GFAPI_DIR=${GFAPI_DIR:-/usr/lib/x86_64-linux-gnu} ;;
    *) echo "programs.sh: --target must be mortar or glusterfs, not '$TARGET'" >&2; exit 2 ;;
esac
if [ "$RECORD_FAMILIES" = 1 ] && [ "$TARGET" != glusterfs ]; then
    echo "programs.sh: --record-families measures GlusterFS; use it with --target glusterfs" >&2; exit 2
fi

# absolute paths: the script works in its temporary directory
[ -z "${MORTAR_BINARY:-}" ] || MORTAR_BINARY=$(readlink -f "$MORTAR_BINARY")
GFAPI_DIR=$(readlink -f "$GFAPI_DIR")
[ -z "$LOG_DIR" ] || LOG_DIR=$(readlink -m "$LOG_DIR")
WORK=$(mktemp -d /tmp/mortar-gfapi-programs.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
cd "$WORK"    # programs drop files into their working directory (fio: *-verify.state)
# Names inside the volume: unique per run, so a shared GlusterFS volume is never confused by old files.
P="gfapi-test-$$-"
GURL="gluster://$GHOST/$VOL"
CLUSTER_STARTED=0
PART=setup
RESULTS=$WORK/results      # "part status seconds" per part

say() { echo "programs.sh: $*"; }
fail() { echo "programs.sh: FAILED [$PART]: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
excerpt() {  # file [lines]: the end of a log, indented, on stderr
    [ -s "$1" ] || { echo "      ($1 is empty)" >&2; return 0; }
    tail -n "${2:-15}" "$1" | sed 's/^/      | /' >&2
}
# Runs a command under a time limit with LD_LIBRARY_PATH=$GFAPI_DIR, appending its output to a log.
# Returns the command's status (124 = timed out).
lib_run() {  # log seconds command...
    local log=$1 limit=$2; shift 2
    echo "+ $*" >>"$log"
    local rc=0
    timeout -k 10 "$limit" env LD_LIBRARY_PATH="$GFAPI_DIR" "$@" >>"$log" 2>&1 || rc=$?
    echo "rc=$rc" >>"$log"
    return "$rc"
}
# The same with stdout kept apart (JSON output; gfapi may log to stderr): stdout to a file, stderr to the log.
lib_capture() {  # stdout-file log seconds command...
    local stdout=$1 log=$2 limit=$3; shift 3
    echo "+ $*" >>"$log"
    local rc=0
    timeout -k 10 "$limit" env LD_LIBRARY_PATH="$GFAPI_DIR" "$@" >"$stdout" 2>>"$log" || rc=$?
    cat "$stdout" >>"$log"
    echo "rc=$rc" >>"$log"
    return "$rc"
}
# A failure fails the part, with the log's end.
must_run() {  # what log seconds command...
    local what=$1 log=$2 limit=$3; shift 3
    local t0 rc=0
    t0=$(now)
    lib_run "$log" "$limit" "$@" || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        excerpt "$log"; fail "$what: timed out after $limit s (hang?): $*"
    elif [ "$rc" != 0 ]; then
        excerpt "$log"; fail "$what: exit status $rc: $*"
    fi
    say "[$PART] $what: ok ($(since "$t0") s)"
}
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------------------------------------------
# Setup and cleanup

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || fail "missing packages ${missing[*]} and not root: install them first"
    say "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$LOGS/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOGS/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
            || { excerpt "$LOGS/apt.log"; fail "apt-get install ${missing[*]} failed"; }
    fi
}

# The program (or module) must resolve libgfapi.so.0 to $GFAPI_DIR's file, with every symbol and version bound.
check_loads() {  # ELF file
    local elf=$1 out resolved want
    [ -e "$elf" ] || fail "$elf is missing (package not installed?)"
    want=$(readlink -f "$GFAPI_DIR/libgfapi.so.0")
    out=$(LD_LIBRARY_PATH="$GFAPI_DIR" ldd -r "$elf" 2>&1) || true
    if grep -q 'error while loading shared libraries' <<<"$out"; then
        fail "$elf cannot load libgfapi.so.0 from GFAPI_DIR: $(grep -m1 'error while loading' <<<"$out")"
    fi
    resolved=$(awk '$1 == "libgfapi.so.0" { print $3 }' <<<"$out")
    [ -n "$resolved" ] || fail "$elf does not link libgfapi.so.0 (ldd: $(head -3 <<<"$out" | tr '\n' ' '))"
    [ "$(readlink -f "$resolved")" = "$want" ] \
        || fail "$elf loads libgfapi.so.0 from $resolved, not from GFAPI_DIR ($want)"
    # (a qemu module also leaves qemu's own symbols undefined: only libgfapi's count)
    if grep -E 'undefined symbol|not found|no version information' <<<"$out" | grep -E 'glfs_|GFAPI|libgfapi' >&2; then
        fail "$elf cannot bind against $want (lines above, from ldd -r)"
    fi
}

start_mortar() {
    [ -x "$MORTAR_BINARY" ] || fail "MORTAR_BINARY=$MORTAR_BINARY is not executable"
    [ -f "$GFAPI_DIR/libgfapi.so.0" ] || fail "GFAPI_DIR=$GFAPI_DIR has no libgfapi.so.0"
    if port_busy 24007; then
        ss -Hltnp "sport = :24007" >&2 || true
        fail "127.0.0.1:24007 is already in use (glusterd or another mortar daemon?); stop it first — never run both"
    fi
    local t0 rc=0
    t0=$(now)
    CLUSTER_STARTED=1
    timeout -k 10 60 "$MORTAR_BINARY" up --dir "$WORK/cluster" --bricks 2 >"$LOGS/mortar-up.log" 2>&1 || rc=$?
    if grep -q 'already answers' "$LOGS/mortar-up.log"; then
        # someone else's daemon took the port meanwhile: not ours to use or to stop
        CLUSTER_STARTED=0
        excerpt "$LOGS/mortar-up.log"; fail "another mortar daemon started on 127.0.0.1:24007 meanwhile; not using it"
    fi
    if [ "$rc" != 0 ]; then
        excerpt "$LOGS/mortar-up.log"; excerpt "$WORK/cluster/daemon.log"
        fail "mortar up --dir $WORK/cluster --bricks 2: exit status $rc"
    fi
    say "[setup] mortar cluster up, volume $VOL over 2 bricks in $WORK/cluster ($(since "$t0") s)"
}

check_glusterfs() {
    port_busy 24007 || fail "nothing listens on 127.0.0.1:24007: start GlusterFS first (/work/shared/bench/gluster-setup.sh)"
    if command -v gluster >/dev/null && ! gluster volume info "$VOL" 2>/dev/null | grep -q '^Status: Started'; then
        fail "GlusterFS volume $VOL is not started"
    fi
    say "[setup] using GlusterFS volume $VOL on $GHOST:24007, library $(readlink -f "$GFAPI_DIR/libgfapi.so.0")"
}

stop_tgtd() {
    local f=$WORK/tgtd.pid pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        local tid
        for tid in $(timeout 30 tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show 2>/dev/null \
            | sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
            timeout 30 tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op delete --force --tid "$tid" >/dev/null 2>&1 || true
        done
        timeout 30 tgtadm -C "$TGT_CONTROL_PORT" --mode system --op delete >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "programs.sh: tgtd $pid did not stop within 20 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f" "/var/run/tgtd/socket.$TGT_CONTROL_PORT" "/var/run/tgtd/socket.$TGT_CONTROL_PORT.lock"
    rmdir /var/run/tgtd 2>/dev/null || true
}

# smbd and its children (one per client connection, plus helpers) carry our private config's path in their
# command line: only those are stopped.
stop_smbd() {
    local f=$WORK/smbd.pid pid conf=$WORK/samba/smb.conf
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "programs.sh: smbd $pid did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local left p
    left=$(ps -eo pid=,args= | awk -v c="$conf" 'index($0, c) && !/awk/ { print $1 }')
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    rm -f "$f"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    stop_tgtd
    stop_smbd
    if [ "$CLUSTER_STARTED" = 1 ]; then
        # only a daemon this script started (its pid file is in our directory) is stopped
        if [ -s "$WORK/cluster/daemon.pid" ]; then
            local daemon_pid
            daemon_pid=$(cat "$WORK/cluster/daemon.pid")
            if ! timeout -k 10 60 "$MORTAR_BINARY" down --dir "$WORK/cluster" >"$LOGS/mortar-down.log" 2>&1; then
                echo "programs.sh: mortar down failed:" >&2; excerpt "$LOGS/mortar-down.log"; rc=1
            fi
            if kill -0 "$daemon_pid" 2>/dev/null; then
                echo "programs.sh: mortar daemon $daemon_pid still running after 'mortar down'; killing it" >&2
                kill -KILL "$daemon_pid" 2>/dev/null; rc=1
            fi
        fi
        # Anything else still running from our cluster directory (bricks) was started by this script.
        local leftovers
        leftovers=$(ps -eo pid=,args= | awk -v d="$WORK/cluster" 'index($0, d) && !/awk/ { print $1 }')
        if [ -n "$leftovers" ]; then
            echo "programs.sh: processes left behind by the cluster (killing):" >&2
            for p in $leftovers; do ps -o pid=,args= -p "$p" >&2; kill -KILL "$p" 2>/dev/null; done
            rc=1
        fi
        [ -f "$WORK/cluster/daemon.log" ] && cp "$WORK/cluster/daemon.log" "$LOGS/mortar-daemon.log"
    fi
    if [ "$TARGET" = glusterfs ]; then
        if mountpoint -q "/mnt/$VOL"; then
            rm -rf "/mnt/$VOL/$P"*    # (samba's directories too, if a failure left them)
        else
            echo "programs.sh: /mnt/$VOL is not mounted: test files $P* stay in GlusterFS volume $VOL" >&2
        fi
    fi
    if [ -n "$LOG_DIR" ]; then
        mkdir -p "$LOG_DIR" && cp -r "$LOGS/." "$LOG_DIR/" && echo "programs.sh: logs copied to $LOG_DIR"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# fio

# Checks fio's JSON: every job error == 0 and the bytes each job moved. Specs: "job:read=N:write=N" where N is a
# byte count or ">0".
fio_check() {  # what json spec...
    local what=$1 json=$2; shift 2
    [ -s "$json" ] || fail "$what: fio wrote no JSON ($json)"
    local table
    table=$(jq -r '.jobs[] | [.jobname, .error, .read.io_bytes, .write.io_bytes, .read.bw, .write.bw] | @tsv' "$json") \
        || fail "$what: cannot parse fio's JSON output"
    local name err rbytes wbytes rbw wbw
    while IFS=$'\t' read -r name err rbytes wbytes rbw wbw; do
        [ "$err" = 0 ] || fail "$what: fio job '$name' reports error=$err ($(errno_name "$err"))"
        local moved="read $((rbytes / 1048576)) MiB at $((rbw / 1024)) MiB/s"
        # (a verify-only job reports the bytes it pretends to have written, at 0 MiB/s)
        [ "$wbw" -gt 0 ] && moved+=", wrote $((wbytes / 1048576)) MiB at $((wbw / 1024)) MiB/s"
        say "[$PART]   job $name: $moved, error 0"
    done <<<"$table"
    local spec job field want got
    for spec in "$@"; do
        job=${spec%%:*}
        grep -q "^$job"$'\t' <<<"$table" || fail "$what: fio ran no job named '$job'"
        for field in read write; do
            want=$(tr ':' '\n' <<<"$spec" | sed -n "s/^$field=//p")
            [ -n "$want" ] || continue
            if [ "$field" = read ]; then got=$(awk -F'\t' -v j="$job" '$1 == j { print $3 }' <<<"$table")
            else got=$(awk -F'\t' -v j="$job" '$1 == j { print $4 }' <<<"$table"); fi
            if [ "$want" = '>0' ]; then
                [ "$got" -gt 0 ] || fail "$what: fio job '$job' moved no $field bytes"
            else
                [ "$got" = "$want" ] || fail "$what: fio job '$job' ${field} $got bytes, expected $want"
            fi
        done
    done
}
errno_name() { /usr/bin/perl -MPOSIX -e '$! = shift; print "$!"' "$1" 2>/dev/null || echo "errno $1"; }

fio_pass() {  # what json log env-assignments... -- fio-args...
    local what=$1 json=$2 log=$3; shift 3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local t0 rc=0
    t0=$(now)
    echo "+ ${envs[*]} fio $*" >>"$log"
    timeout -k 10 "$FIO_TIMEOUT" env LD_LIBRARY_PATH="$GFAPI_DIR" "${envs[@]}" \
        fio --output-format=json --output="$json" "$@" >>"$log" 2>&1 || rc=$?
    echo "rc=$rc" >>"$log"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then excerpt "$log"; fail "$what: fio timed out after $FIO_TIMEOUT s (hang?)"; fi
    if [ "$rc" != 0 ]; then
        excerpt "$log"
        [ -s "$json" ] && jq -r '.jobs[] | "      job \(.jobname): error=\(.error)"' "$json" >&2 2>/dev/null
        fail "$what: fio exit status $rc"
    fi
    say "[$PART] $what: fio exit 0 ($(since "$t0") s)"
}

part_fio() {
    check_loads /usr/bin/fio
    local size=$((FIO_SIZE_MB * 1048576)) mix=$((FIO_MIX_MB * 1048576))
    local engine depth randbs log json base
    for engine in gfapi gfapi_async; do
        # random block sizes: mostly 4 KiB requests, with enough large ones that 256 MiB stays quick
        if [ "$engine" = gfapi ]; then depth=1 randbs=4k/60:64k/30:1m/10; else depth=16 randbs=4k/40:64k/40:1m/20; fi
        log=$LOGS/fio-$engine.log
        base=(ENGINE="$engine" IODEPTH="$depth" GVOL="$VOL" GHOST="$GHOST" FPREFIX="${P}fio-$engine-"
              SIZE="${FIO_SIZE_MB}m" MIXSIZE="${FIO_MIX_MB}m" RANDBS="$randbs")
        json=$LOGS/fio-$engine-write.json
        fio_pass "$engine iodepth=$depth: write+verify ${FIO_SIZE_MB} MiB seq 1m, rand $randbs, ${FIO_MIX_MB} MiB randrw 4k" \
            "$json" "$log" "${base[@]}" VERIFY_ONLY=0 -- "$HERE/verify.fio"
        # seq/rand: each block written once and read back once; mixed: the reads plus the verify re-reads of
        # every written block add up to the file size.
        fio_check "$engine write+verify" "$json" "seq:write=$size:read=$size" "rand:write=$size:read=$size" \
            "mixed:read=$mix:write=>0"
        json=$LOGS/fio-$engine-reverify.json
        fio_pass "$engine iodepth=$depth: verify again from a new process (new glfs_t)" "$json" "$log" \
            "${base[@]}" VERIFY_ONLY=1 -- --section=seq --section=rand "$HERE/verify.fio"
        fio_check "$engine re-verify" "$json" "seq:read=$size" "rand:read=$size"
    done

    # Negative control: overwrite 4 KiB in the middle of a verified file with other data, then the same verify must
    # fail, or the checks above prove nothing. (One random 4 KiB block: fio 3.33's gfapi engine writes nothing when
    # given an offset.)
    log=$LOGS/fio-negative.log
    local t0 rc=0
    t0=$(now)
    json=$LOGS/fio-clobber.json
    lib_run "$log" "$FIO_TIMEOUT" fio --name=clobber --ioengine=gfapi --volume="$VOL" --brick="$GHOST" \
        --filename="${P}fio-gfapi-seq.dat" --rw=randwrite --bs=4k --size="${FIO_SIZE_MB}m" --io_size=4k \
        --output-format=json --output="$json" \
        || { excerpt "$log"; fail "negative control: fio could not overwrite 4 KiB of ${P}fio-gfapi-seq.dat"; }
    [ "$(jq -r '.jobs[0].write.io_bytes' "$json" 2>/dev/null)" = 4096 ] \
        || { excerpt "$log"; fail "negative control: the clobbering fio job did not write 4096 bytes"; }
    json=$LOGS/fio-negative.json
    lib_run "$log" "$FIO_TIMEOUT" env ENGINE=gfapi IODEPTH=1 GVOL="$VOL" GHOST="$GHOST" FPREFIX="${P}fio-gfapi-" \
        SIZE="${FIO_SIZE_MB}m" MIXSIZE="${FIO_MIX_MB}m" RANDBS=4k/100 VERIFY_ONLY=1 \
        fio --output-format=json --output="$json" --section=seq "$HERE/verify.fio" || rc=$?
    local err
    err=$(jq -r '.jobs[0].error' "$json" 2>/dev/null || echo "?")
    case "$rc" in 0 | 124 | 137) excerpt "$log"; fail "negative control: verify of a clobbered file: fio exit $rc (expected a verify failure)" ;; esac
    [ "$err" != 0 ] && [ "$err" != "?" ] || { excerpt "$log"; fail "negative control: fio exit $rc but job error '$err'"; }
    say "[$PART] negative control: one 4 KiB block overwritten is caught: fio exit $rc, error $err ($(errno_name "$err")): $(grep -m1 'verify failed' "$log" || true) ($(since "$t0") s)"

    # A volume that does not exist: fio must fail (non-zero), promptly, without hanging.
    log=$LOGS/fio-badvol.log
    rc=0
    t0=$(now)
    lib_run "$log" 90 fio --name=badvol --ioengine=gfapi --volume="no-such-volume-$$" --brick="$GHOST" \
        --filename="${P}badvol.dat" --rw=write --bs=4k --size=1m || rc=$?
    case "$rc" in
        0) excerpt "$log"; fail "fio against volume no-such-volume-$$ exited 0" ;;
        124 | 137) excerpt "$log"; fail "fio against volume no-such-volume-$$ hung (killed after 90 s)" ;;
    esac
    grep -q -i -E 'glfs_(init|new)|fio: pid=|error' "$log" \
        || { excerpt "$log"; fail "fio against volume no-such-volume-$$ failed (status $rc) without saying why"; }
    say "[$PART] wrong volume name: fio exit $rc in $(since "$t0") s: $(grep -m1 -i -E 'glfs_|error' "$log")"
}

# ---------------------------------------------------------------------------------------------------------------
# qemu

# qemu-io exits 0 on a pattern mismatch in some versions, so the output is checked too.
qemu_io_check() {  # what log expected-ok-lines qemu-io-args...
    local what=$1 log=$2 want=$3; shift 3
    local one=$WORK/qemu-io.out t0 rc=0
    t0=$(now)
    : >"$one"
    lib_run "$one" "$QEMU_TIMEOUT" qemu-io "$@" || rc=$?
    cat "$one" >>"$log"
    if grep -q 'Pattern verification failed' "$one"; then excerpt "$one" 30; fail "$what: qemu-io: Pattern verification failed"; fi
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && { excerpt "$one"; fail "$what: qemu-io timed out after $QEMU_TIMEOUT s"; }
    if [ "$rc" != 0 ] || grep -q -E 'failed|error|Could not' "$one"; then excerpt "$one" 30; fail "$what: qemu-io exit $rc or error output"; fi
    local got
    got=$(grep -c -E '^(wrote|read) [0-9]+/[0-9]+ bytes at offset' "$one" || true)
    [ "$got" = "$want" ] || { excerpt "$one" 30; fail "$what: expected $want completed read/write lines from qemu-io, saw $got"; }
    awk '/^(wrote|read) [0-9]+\/[0-9]+ bytes/ { split($2, n, "/"); if (n[1] != n[2]) bad = 1 } END { exit bad }' "$one" \
        || { excerpt "$one" 30; fail "$what: a qemu-io request was short"; }
    say "[$PART] $what: ok, $got requests ($(since "$t0") s)"
}

# Sparse source image: 1 GiB with five extents of random data (some not cluster aligned) and holes in between.
EXTENTS=("0 1048576" "38801408 266240" "314572800 4194304" "734003200 2097152" "1072693248 1048576")
make_sparse_source() {  # path
    rm -f "$1"
    truncate -s 1G "$1"
    local e off len
    for e in "${EXTENTS[@]}"; do
        read -r off len <<<"$e"
        head -c "$len" /dev/urandom | dd of="$1" bs=4096 seek="$((off / 4096))" conv=notrunc status=none
    done
}
# Bytes that `qemu-img map` reports as data; the image's holes are the rest. Prints n/a if map fails.
mapped_data_bytes() {  # log qemu-img-map-args...
    local log=$1; shift
    local out=$WORK/map.json rc=0
    lib_capture "$out" "$log" "$QEMU_TIMEOUT" qemu-img map --output=json "$@" || rc=$?
    [ "$rc" = 0 ] || { echo "n/a"; return 0; }
    jq '[.[] | select(.data == true) | .length] | add // 0' "$out" 2>/dev/null || echo "n/a"
}

part_qemu() {
    check_loads /usr/lib/x86_64-linux-gnu/qemu/block-gluster.so
    local log=$LOGS/qemu.log img="$GURL/${P}img.qcow2"
    must_run "qemu-img create -f qcow2 $img 1G" "$log" "$QEMU_TIMEOUT" qemu-img create -f qcow2 "$img" 1G
    local info=$WORK/info.json rc=0
    lib_capture "$info" "$log" "$QEMU_TIMEOUT" qemu-img info --output=json "$img" || rc=$?
    [ "$rc" = 0 ] || { excerpt "$log"; fail "qemu-img info $img: exit status $rc"; }
    local fmt vsize
    fmt=$(jq -r .format "$info" 2>/dev/null || echo "?") vsize=$(jq -r '."virtual-size"' "$info" 2>/dev/null || echo "?")
    [ "$fmt" = qcow2 ] || fail "qemu-img info $img: format '$fmt', expected qcow2"
    [ "$vsize" = 1073741824 ] || fail "qemu-img info $img: virtual size '$vsize', expected 1073741824"
    say "[$PART] qemu-img info: format qcow2, virtual size 1 GiB: ok"

    # Patterns at several offsets (first cluster, middle, an unaligned sub-cluster range, the last 4 KiB), then
    # read back from a second process, with the unwritten neighbours read as zeroes.
    qemu_io_check "qemu-io writes 0xab@0 64k, 0xcd@512M 1M, 0x5a@3146240 1536 B, 0xef@1G-4k" "$log" 4 -f qcow2 \
        -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 512M 1M' -c 'write -P 0x5a 3146240 1536' \
        -c 'write -P 0xef 1073737728 4k' -c 'flush' "$img"
    qemu_io_check "qemu-io read -P of every pattern and of the zeroes around them (new process)" "$log" 8 -f qcow2 -r \
        -c 'read -P 0xab 0 64k' -c 'read -P 0 64k 64k' -c 'read -P 0xcd 512M 1M' -c 'read -P 0 513M 1M' \
        -c 'read -P 0x5a 3146240 1536' -c 'read -P 0 3147776 512' -c 'read -P 0 3145728 512' \
        -c 'read -P 0xef 1073737728 4k' "$img"
    qemu_io_check "qemu-io -t none (O_DIRECT) write+read 0x77@256M 128k" "$log" 2 -f qcow2 -t none \
        -c 'write -P 0x77 256M 128k' -c 'read -P 0x77 256M 128k' "$img"
    qemu_io_check "qemu-io through the json: spec (server list)" "$log" 1 -r -c 'read -P 0xcd 512M 1M' \
        "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"gluster\",\"volume\":\"$VOL\",\"path\":\"${P}img.qcow2\",\"server\":[{\"type\":\"tcp\",\"host\":\"$GHOST\",\"port\":\"24007\"}]}}"
    # Negative control: a wrong pattern must be reported, or the checks above prove nothing.
    local neg=$WORK/neg.out
    : >"$neg"
    lib_run "$neg" "$QEMU_TIMEOUT" qemu-io -f qcow2 -r -c 'read -P 0x11 0 64k' "$img" || true
    cat "$neg" >>"$log"
    grep -q 'Pattern verification failed' "$neg" \
        || { excerpt "$neg"; fail "qemu-io did not report a wrong pattern (read -P 0x11 over 0xab data)"; }
    say "[$PART] negative control: a wrong pattern is reported: ok"
    local chk=$WORK/check.out
    : >"$chk"
    lib_run "$chk" "$QEMU_TIMEOUT" qemu-img check -f qcow2 "$img" || rc=$?
    cat "$chk" >>"$log"
    [ "$rc" = 0 ] && grep -q 'No errors were found on the image' "$chk" \
        || { excerpt "$chk"; fail "qemu-img check -f qcow2 $img: exit $rc, not clean"; }
    say "[$PART] qemu-img check $img: no errors"

    # convert: sparse local raw -> volume (raw and qcow2) -> local, byte for byte
    local src=$WORK/src.raw
    make_sparse_source "$src"
    local src_data
    src_data=$(mapped_data_bytes "$LOGS/qemu-map.log" -f raw "$src")
    must_run "qemu-img convert -O raw (sparse 1 GiB, 8.3 MiB data) -> $GURL/${P}conv.raw" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f raw -O raw "$src" "$GURL/${P}conv.raw"
    must_run "qemu-img convert -O qcow2 -> $GURL/${P}conv.qcow2" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f raw -O qcow2 "$src" "$GURL/${P}conv.qcow2"
    must_run "qemu-img convert $GURL/${P}conv.raw -> local" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f raw -O raw "$GURL/${P}conv.raw" "$WORK/back-raw.raw"
    must_run "qemu-img convert $GURL/${P}conv.qcow2 -> local" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f qcow2 -O raw "$GURL/${P}conv.qcow2" "$WORK/back-qcow2.raw"
    local back
    for back in back-raw back-qcow2; do
        cmp "$src" "$WORK/$back.raw" >"$WORK/cmp.out" 2>&1 \
            || fail "the image that went through the volume differs from the original ($back): $(head -2 "$WORK/cmp.out")"
    done
    say "[$PART] both round trips (raw, qcow2) are identical to the source (cmp)"
    : >"$chk"
    rc=0
    lib_run "$chk" "$QEMU_TIMEOUT" qemu-img check -f qcow2 "$GURL/${P}conv.qcow2" || rc=$?
    cat "$chk" >>"$log"
    [ "$rc" = 0 ] && grep -q 'No errors were found on the image' "$chk" \
        || { excerpt "$chk"; fail "qemu-img check -f qcow2 $GURL/${P}conv.qcow2: exit $rc, not clean"; }
    say "[$PART] qemu-img check of the converted qcow2: no errors"

    # Holes: reported, not required (they depend on SEEK_DATA/SEEK_HOLE and on what the bricks store).
    local raw_data qcow_data
    raw_data=$(mapped_data_bytes "$LOGS/qemu-map.log" -f raw "$GURL/${P}conv.raw")
    qcow_data=$(mapped_data_bytes "$LOGS/qemu-map.log" -f qcow2 "$GURL/${P}conv.qcow2")
    local verdict="holes preserved"
    [ "$raw_data" = "n/a" ] && verdict="qemu-img map failed (see qemu-map.log)"
    [ "$raw_data" != "n/a" ] && [ "$raw_data" -ge 1073741824 ] && verdict="NO holes visible (fully allocated or no SEEK_DATA)"
    [ "$raw_data" != "n/a" ] && [ "$raw_data" -lt 1073741824 ] && [ "$raw_data" -gt $((src_data * 4)) ] \
        && verdict="holes partly preserved"
    say "[$PART] qemu-img map, data bytes of 1 GiB: source $src_data, gluster:// raw $raw_data, gluster:// qcow2 $qcow_data ($verdict)"
}

# ---------------------------------------------------------------------------------------------------------------
# tgt

IQN=iqn.2025-01.dev.mortar.test:gfapi
ALL_FAMILIES() { iscsi-test-cu -l 2>/dev/null | grep -E '^(SCSI|iSCSI)\.[A-Za-z0-9]+$'; }
required_families() {
    [ -f "$FAMILIES_FILE" ] || return 0
    sed -e 's/#.*//' "$FAMILIES_FILE" | awk 'NF { print $1 }'
}

tgtadm_c() { timeout 60 tgtadm -C "$TGT_CONTROL_PORT" "$@"; }

start_tgtd() {
    port_busy "$ISCSI_PORT" && fail "127.0.0.1:$ISCSI_PORT is in use; set ISCSI_PORT to a free port"
    [ -e "/var/run/tgtd/socket.$TGT_CONTROL_PORT" ] && tgtadm -C "$TGT_CONTROL_PORT" --mode system --op show >/dev/null 2>&1 \
        && fail "a tgtd already answers on control port $TGT_CONTROL_PORT; set TGT_CONTROL_PORT to a free one"
    # -f: foreground (its log is its stdout/stderr); backgrounded here, stopped by pid.
    env LD_LIBRARY_PATH="$GFAPI_DIR" tgtd -f -C "$TGT_CONTROL_PORT" --iscsi "portal=$GHOST:$ISCSI_PORT" \
        >"$LOGS/tgtd.log" 2>&1 </dev/null &
    echo $! >"$WORK/tgtd.pid"
    local pid
    pid=$(cat "$WORK/tgtd.pid")
    for _ in $(seq 1 75); do
        kill -0 "$pid" 2>/dev/null || { excerpt "$LOGS/tgtd.log"; fail "tgtd exited during startup"; }
        tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show >/dev/null 2>&1 && break
        sleep 0.2
    done
    tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show >/dev/null 2>&1 \
        || { excerpt "$LOGS/tgtd.log"; fail "tgtd did not answer on control port $TGT_CONTROL_PORT within 15 s"; }
    for _ in $(seq 1 50); do port_busy "$ISCSI_PORT" && break; sleep 0.2; done
    port_busy "$ISCSI_PORT" || fail "tgtd does not listen on $GHOST:$ISCSI_PORT"
    # tgtd dlopens every backing-store module at startup and silently drops one that fails to load.
    if grep -E 'failed to dlopen' "$LOGS/tgtd.log" >&2; then
        fail "tgtd could not load the glfs backing store against $GFAPI_DIR/libgfapi.so.0 (line above): bstype glfs is unavailable"
    fi
    local mapped
    mapped=$(awk '/libgfapi\.so/ { print $6 }' "/proc/$pid/maps" | sort -u)
    [ -n "$mapped" ] || fail "tgtd (pid $pid) has no libgfapi mapped: bs_glfs.so was not loaded"
    [ "$(readlink -f "$mapped")" = "$(readlink -f "$GFAPI_DIR/libgfapi.so.0")" ] \
        || fail "tgtd mapped $mapped, not $GFAPI_DIR/libgfapi.so.0"
}

# One iscsi-test-cu family: prints "status ran passed failed skipped seconds". CUnit counts a test the target
# does not support as passed, but libiscsi prints [SKIPPED] for it, so skipped tests are counted separately.
run_family() {  # family url
    local fam=$1 url=$2 out=$LOGS/test-cu/$1.log t0 rc=0
    t0=$(now)
    timeout -k 10 "$FAMILY_TIMEOUT" iscsi-test-cu -d -v -t "$fam" "$url" >"$out" 2>&1 </dev/null || rc=$?
    local secs ran passed failed skipped status
    secs=$(since "$t0")
    read -r ran passed failed < <(awk '$1 == "tests" && NF >= 6 { print $3, $4, $5 }' "$out" | tail -1; echo "")
    skipped=$(grep -c '^ *Test: .*\[SKIPPED\]' "$out" || true)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=TIMEOUT
    elif [ -z "${ran:-}" ]; then status=ERROR
    elif [ "$failed" != 0 ]; then status=FAIL
    elif [ "$ran" = 0 ]; then status=NOTRUN
    else status=PASS; fi
    echo "$status ${ran:--} ${passed:--} ${failed:--} $skipped $secs"
}

part_tgt() {
    check_loads /usr/lib/tgt/backing-store/bs_glfs.so
    local log=$LOGS/tgt.log lun="${P}lun.img" lun_bytes=$((LUN_MB * 1048576))
    must_run "qemu-img create -f raw $GURL/$lun ${LUN_MB}M" "$log" "$QEMU_TIMEOUT" \
        qemu-img create -f raw "$GURL/$lun" "${LUN_MB}M"
    local t0
    t0=$(now)
    start_tgtd
    say "[$PART] tgtd up (control port $TGT_CONTROL_PORT, portal $GHOST:$ISCSI_PORT), bs_glfs.so bound to $GFAPI_DIR/libgfapi.so.0 ($(since "$t0") s)"
    tgtadm_c --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" >>"$log" 2>&1 \
        || { excerpt "$log"; fail "tgtadm: cannot create target $IQN"; }
    t0=$(now)
    if ! tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype glfs \
        --backing-store "$VOL@$GHOST:$lun" --bsopts "logfile=$LOGS/tgt-glfs.log;loglevel=7" >>"$log" 2>&1; then
        excerpt "$log"; excerpt "$LOGS/tgtd.log"
        fail "tgtadm: cannot create LUN 1 --bstype glfs --backing-store $VOL@$GHOST:$lun"
    fi
    tgtadm_c --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL >>"$log" 2>&1 \
        || fail "tgtadm: cannot bind target 1"
    local show=$WORK/show.out
    tgtadm_c --lld iscsi --mode target --op show >"$show" 2>&1 || { excerpt "$show"; fail "tgtadm --op show failed"; }
    cat "$show" >>"$log"
    # the LUN 1 block of the listing
    local lun1
    lun1=$(awk '/^ *LUN: 1$/ { on = 1 } /^ *LUN: [02-9]/ { on = 0 } /Account information/ { on = 0 } on' "$show")
    grep -q 'Backing store type: glfs' <<<"$lun1" || { excerpt "$show" 40; fail "tgtadm --op show: LUN 1 is not of backing store type glfs"; }
    grep -q "Backing store path: $VOL@$GHOST:$lun" <<<"$lun1" || { excerpt "$show" 40; fail "tgtadm --op show: LUN 1 has the wrong backing store path"; }
    local shown_mb
    shown_mb=$(sed -n 's/^ *Size: \([0-9]*\) MB.*/\1/p' <<<"$lun1")
    [ "$shown_mb" = $(((lun_bytes + 500000) / 1000000)) ] || fail "tgtadm --op show: LUN 1 size '$shown_mb MB', expected $(((lun_bytes + 500000) / 1000000)) MB"
    say "[$PART] tgtadm --op show: LUN 1 glfs $VOL@$GHOST:$lun, $shown_mb MB ($(since "$t0") s)"

    local url="iscsi://$GHOST:$ISCSI_PORT/$IQN/1" out=$WORK/iscsi.out
    timeout 60 iscsi-inq "$url" >"$out" 2>&1 || { excerpt "$out"; fail "iscsi-inq $url failed"; }
    cat "$out" >>"$log"
    grep -q 'Peripheral Device Type:DIRECT_ACCESS' "$out" || { excerpt "$out"; fail "iscsi-inq: LUN 1 is not a direct-access device"; }
    timeout 60 iscsi-readcapacity16 "$url" >"$out" 2>&1 || { excerpt "$out"; fail "iscsi-readcapacity16 $url failed"; }
    cat "$out" >>"$log"
    grep -q "^Total size:$lun_bytes\$" "$out" || { excerpt "$out"; fail "iscsi-readcapacity16: expected Total size:$lun_bytes"; }
    say "[$PART] iscsi-inq: DIRECT_ACCESS; iscsi-readcapacity16: $lun_bytes bytes: ok"

    # Data over iSCSI: random data written through qemu's iscsi driver, read back over iSCSI and, from the
    # volume, through gluster:// (bs_glfs wrote it with glfs_pwrite).
    local data=$WORK/lun-src.raw
    head -c "$lun_bytes" /dev/urandom >"$data"
    must_run "qemu-img convert random ${LUN_MB} MiB -> $url" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -n -f raw -O raw "$data" "$url"
    must_run "qemu-img convert $url -> local" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f raw -O raw "$url" "$WORK/lun-iscsi.raw"
    cmp "$data" "$WORK/lun-iscsi.raw" >"$out" 2>&1 || fail "data read back over iSCSI differs from what was written: $(head -2 "$out")"
    must_run "qemu-img convert $GURL/$lun -> local" "$log" "$QEMU_TIMEOUT" \
        qemu-img convert -f raw -O raw "$GURL/$lun" "$WORK/lun-gfapi.raw"
    cmp "$data" "$WORK/lun-gfapi.raw" >"$out" 2>&1 || fail "the LUN image read through gluster:// differs from what was written over iSCSI: $(head -2 "$out")"
    rm -f "$data" "$WORK/lun-iscsi.raw" "$WORK/lun-gfapi.raw"
    say "[$PART] ${LUN_MB} MiB written over iSCSI read back identical over iSCSI and through gluster://"

    # iscsi-test-cu, one family at a time. The families in ISCSI_PARALLEL_FAMILIES (the WRITE SAME ones: ~65k
    # single-block O_SYNC writes each, minutes on either system) run at the same time as the others, each on its
    # own target and LUN image, so they neither share state with the rest nor make the run last twice as long.
    mkdir -p "$LOGS/test-cu"
    local families required fam status failed_required=() table=$LOGS/iscsi-families.txt
    if [ -n "$ISCSI_FAMILIES" ]; then families=$ISCSI_FAMILIES; else families=$(ALL_FAMILIES); fi
    [ -n "$families" ] || fail "iscsi-test-cu -l lists no families"
    required=$(required_families)
    if [ "$TARGET" = mortar ] && [ -z "$required" ]; then
        fail "$FAMILIES_FILE is missing or empty: measure it on GlusterFS first (--target glusterfs --record-families tgt)"
    fi
    local missing_req=()
    for fam in $required; do grep -qx "$fam" <<<"$families" || missing_req+=("$fam"); done
    [ ${#missing_req[@]} -eq 0 ] || say "[$PART] NOTE: required families not in this run (ISCSI_FAMILIES): ${missing_req[*]}"
    t0=$(now)
    local lanes=() tid=1 plun parallel=" "
    for fam in $ISCSI_PARALLEL_FAMILIES; do
        grep -qx "$fam" <<<"$families" || continue
        parallel+="$fam "
        tid=$((tid + 1))
        plun="${P}lun-$tid.img"
        must_run "qemu-img create -f raw $GURL/$plun ${LUN_MB}M (own LUN for $fam)" "$log" "$QEMU_TIMEOUT" \
            qemu-img create -f raw "$GURL/$plun" "${LUN_MB}M"
        tgtadm_c --lld iscsi --mode target --op new --tid "$tid" --targetname "$IQN-$tid" >>"$log" 2>&1 \
            && tgtadm_c --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 --bstype glfs \
                --backing-store "$VOL@$GHOST:$plun" >>"$log" 2>&1 \
            && tgtadm_c --lld iscsi --mode target --op bind --tid "$tid" --initiator-address ALL >>"$log" 2>&1 \
            || { excerpt "$log"; fail "tgtadm: cannot set up target $tid ($IQN-$tid) with a glfs LUN on $plun"; }
        run_family "$fam" "iscsi://$GHOST:$ISCSI_PORT/$IQN-$tid/1" >"$LOGS/test-cu/$fam.result" &
        lanes+=($!)
        say "[$PART] $fam started on target $tid ($IQN-$tid), alongside the others"
    done
    for fam in $families; do
        [[ "$parallel" == *" $fam "* ]] && continue
        run_family "$fam" "$url" >"$LOGS/test-cu/$fam.result"
        kill -0 "$(cat "$WORK/tgtd.pid")" 2>/dev/null || { excerpt "$LOGS/tgtd.log"; fail "tgtd died during iscsi-test-cu family $fam"; }
    done
    local lane
    for lane in "${lanes[@]}"; do wait "$lane" || true; done
    kill -0 "$(cat "$WORK/tgtd.pid")" 2>/dev/null || { excerpt "$LOGS/tgtd.log"; fail "tgtd died during iscsi-test-cu"; }
    printf '%-32s %-8s %5s %6s %6s %7s %8s  %s\n' family status ran passed failed skipped seconds required >"$table"
    local line req
    for fam in $families; do
        line=$(cat "$LOGS/test-cu/$fam.result")
        read -r status _ <<<"$line"
        req=no
        grep -qx "$fam" <<<"$required" && req=yes
        # shellcheck disable=SC2086
        printf '%-32s %-8s %5s %6s %6s %7s %8s  %s\n' "$fam" $line "$req" >>"$table"
        [ "$req" = yes ] && [ "$status" != PASS ] && failed_required+=("$fam")
    done
    say "[$PART] iscsi-test-cu, $(wc -w <<<"$families") families in $(since "$t0") s (logs: test-cu/<family>.log):"
    sed 's/^/    /' "$table"
    local npass
    npass=$(awk 'NR > 1 && $2 == "PASS"' "$table" | wc -l)
    say "[$PART] families passing: $npass of $(wc -w <<<"$families"); required (pass on GlusterFS 10.3): $(wc -w <<<"$required")"
    # Which tests failed: CUnit's verbose verdict is "...FAILED" at the end of the Test line, or alone on a later
    # line when libiscsi printed messages in between.
    local failing=$LOGS/iscsi-failing-tests.txt tests
    : >"$failing"
    for fam in $families; do
        tests=$(awk '/^ *Test: / { t = $2 } /(^|\.\.\.)FAILED$/ { printf "%s ", t }' "$LOGS/test-cu/$fam.log")
        [ -z "$tests" ] || printf '%-32s %s\n' "$fam" "$tests" >>"$failing"
    done
    if [ -s "$failing" ]; then
        say "[$PART] failing tests per family:"
        sed 's/^/    /' "$failing"
    fi
    if [ "$RECORD_FAMILIES" = 1 ]; then record_families "$table"; fi

    t0=$(now)
    local pid
    pid=$(cat "$WORK/tgtd.pid")
    stop_tgtd
    local trc=0
    wait "$pid" 2>/dev/null || trc=$?
    if [ "$trc" -gt 128 ]; then
        # bs_glfs's LUN teardown calls glfs_close and glfs_fini twice on the same handles (bs_close, then
        # bs_exit); GlusterFS 10.3's tgtd crashes there as well, so this is reported, not failed.
        say "[$PART] WARNING: tgtd died of signal $((trc - 128)) while the LUNs were torn down (exit status $trc; GlusterFS 10.3's does too); tgtd.log ends:"
        tail -3 "$LOGS/tgtd.log" | sed 's/^/      | /'
    fi
    say "[$PART] tgtd stopped, exit status $trc ($(since "$t0") s)"

    if [ ${#failed_required[@]} -gt 0 ]; then
        for fam in "${failed_required[@]}"; do
            echo "programs.sh:   $fam ($(cut -d' ' -f1 "$LOGS/test-cu/$fam.result")) — from its log:" >&2
            { grep -E '\[FAILED\]|^FAILED|\.\.\.FAILED|CU_ASSERT' "$LOGS/test-cu/$fam.log" | head -10; tail -3 "$LOGS/test-cu/$fam.log"; } \
                | sed 's/^/      | /' >&2 || true
        done
        fail "iscsi-test-cu families that pass on GlusterFS 10.3 do not pass here: ${failed_required[*]}"
    fi
}

record_families() {  # table
    local table=$1
    {
        echo "# iscsi-test-cu families that PASS when tgt serves a LUN through its glfs backing store on GlusterFS 10.3."
        echo "# tests/gfapi/programs.sh requires every family listed here to pass on Mortar too."
        echo "#"
        echo "# Produced by: /work/shared/bench/gluster-setup.sh, then"
        echo "#   tests/gfapi/programs.sh --target glusterfs --record-families tgt"
        echo "# i.e. tgtd -f (tgt $(dpkg-query -W -f='${Version}' tgt 2>/dev/null), bs_glfs from tgt-glusterfs) with the system"
        echo "# libgfapi ($(dpkg-query -W -f='${Version}' libgfapi0 2>/dev/null)), LUN 1 = ${LUN_MB} MiB raw image on volume $VOL (1 brick),"
        echo "# each family run alone: iscsi-test-cu -d -v -t FAMILY iscsi://127.0.0.1:PORT/IQN/1, one after another, except"
        echo "# ${ISCSI_PARALLEL_FAMILIES:-(none)}: each of those ran meanwhile on its own target with its own ${LUN_MB} MiB glfs LUN"
        echo "# (libiscsi-bin $(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null)), timeout ${FAMILY_TIMEOUT} s per family."
        echo "# PASS = CUnit ran >= 1 test and none failed (tests libiscsi reports as [SKIPPED] count as passed)."
        echo "# Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs, kernel $(uname -r)."
        echo "#"
        echo "# Full table of that run:"
        sed 's/^/#   /' "$table"
        echo "# Failing tests in that run:"
        sed 's/^/#   /' "$LOGS/iscsi-failing-tests.txt"
        echo "#"
        awk 'NR > 1 && $2 == "PASS" { print $1 }' "$table"
    } >"$FAMILIES_FILE.tmp"
    mv "$FAMILIES_FILE.tmp" "$FAMILIES_FILE"
    say "[$PART] wrote $FAMILIES_FILE ($(awk 'NR > 1 && $2 == "PASS"' "$table" | wc -l) families)"
}

# ---------------------------------------------------------------------------------------------------------------
# samba

SMB_MODULE=/usr/lib/x86_64-linux-gnu/samba/vfs/glusterfs.so
SMB_USER=root
SMB_PASSWORD=
# One smbclient session against the share, output in $WORK/smb.out (and the log). Returns smbclient's status.
smb_cmd() {  # commands
    local out=$WORK/smb.out log=$LOGS/smbclient.log rc=0
    echo "+ smbclient //$GHOST/mortar -c '$1'" >>"$log"
    timeout -k 10 60 smbclient -s "$WORK/samba/client.conf" -p "$SMB_PORT" -U "$SMB_USER%$SMB_PASSWORD" \
        "//$GHOST/mortar" -c "$1" >"$out" 2>&1 || rc=$?
    cat "$out" >>"$log"
    echo "rc=$rc" >>"$log"
    return "$rc"
}
# The same, failing the part unless every command succeeded: smbclient exits 0 although a mkdir, rename or del
# failed, so an NT_STATUS_ in the output fails too.
smb_must() {  # what commands
    local what=$1 t0 rc=0
    t0=$(now)
    smb_cmd "$2" || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        excerpt "$WORK/smb.out"; fail "$what: smbclient timed out after 60 s (hang?): $2"
    fi
    if [ "$rc" != 0 ] || grep -q 'NT_STATUS_' "$WORK/smb.out"; then
        excerpt "$WORK/smb.out"; excerpt "$LOGS/smbd.log"
        fail "$what: smbclient exit $rc or an NT_STATUS error: $2"
    fi
    say "[$PART] $what: ok ($(since "$t0") s)"
}
# "attributes size" of NAME in the listing smb_cmd last printed; empty when it is not listed.
smb_listed() {  # name
    awk -v n="$1" '$1 == n { print $2, $3 }' "$WORK/smb.out"
}
smb_expect_listed() {  # what name attribute-pattern size
    local got
    got=$(smb_listed "$2")
    [ -n "$got" ] || { excerpt "$WORK/smb.out"; fail "$1: '$2' is not listed"; }
    [[ "${got% *}" =~ $3 ]] || { excerpt "$WORK/smb.out"; fail "$1: '$2' has attributes '${got% *}', expected /$3/"; }
    [ -z "$4" ] || [ "${got#* }" = "$4" ] || { excerpt "$WORK/smb.out"; fail "$1: '$2' has size ${got#* }, expected $4"; }
}
smb_expect_absent() {  # what name
    [ -z "$(smb_listed "$2")" ] || { excerpt "$WORK/smb.out"; fail "$1: '$2' is still listed"; }
}

start_smbd() {
    local dir=$WORK/samba
    mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc}
    # Loopback only, on a port of its own, with every file Samba keeps in this directory: no system config, state
    # or port is touched. The share is the volume's root through vfs_glusterfs.
    cat >"$dir/smb.conf" <<CONF
[global]
    server role = standalone server
    workgroup = MORTARTEST
    netbios name = MORTARTEST
    smb ports = $SMB_PORT
    interfaces = 127.0.0.1
    bind interfaces only = yes
    disable netbios = yes
    private dir = $dir/private
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    pid directory = $dir/pid
    ncalrpc dir = $dir/ncalrpc
    passdb backend = tdbsam:$dir/private/passdb.tdb
    log file = $LOGS/smbd.log
    log level = 1
    max log size = 0
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    kernel share modes = no
    kernel oplocks = no
[mortar]
    path = /
    read only = no
    vfs objects = glusterfs
    glusterfs:volume = $VOL
    glusterfs:volfile_server = $GHOST
    glusterfs:logfile = $LOGS/smbd-gfapi.log
CONF
    printf '[global]\n' >"$dir/client.conf"
    SMB_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n%s\n' "$SMB_PASSWORD" "$SMB_PASSWORD" \
        | smbpasswd -c "$dir/smb.conf" -s -a "$SMB_USER" >"$LOGS/smbpasswd.log" 2>&1 \
        || { excerpt "$LOGS/smbpasswd.log"; fail "smbpasswd -a $SMB_USER (private passdb) failed"; }
    # -F without --no-process-group: smbd starts a session of its own, so the SIGTERM its parent sends its process
    # group when it stops reaches its children and not this script.
    LD_LIBRARY_PATH="$GFAPI_DIR" smbd -F -s "$dir/smb.conf" >"$LOGS/smbd.out" 2>&1 &
    echo $! >"$WORK/smbd.pid"
    local pid
    pid=$(cat "$WORK/smbd.pid")
    for _ in $(seq 1 100); do
        port_busy "$SMB_PORT" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    excerpt "$LOGS/smbd.out"; excerpt "$LOGS/smbd.log"
    fail "smbd (pid $pid) does not listen on 127.0.0.1:$SMB_PORT after 20 s"
}

part_samba() {
    check_loads "$SMB_MODULE"
    if port_busy "$SMB_PORT"; then fail "127.0.0.1:$SMB_PORT is already in use; set SMB_PORT to a free port"; fi
    local t0
    t0=$(now)
    start_smbd
    say "[$PART] smbd up on 127.0.0.1:$SMB_PORT, share //$GHOST/mortar = volume $VOL through vfs_glusterfs ($(since "$t0") s)"

    # smbd loads vfs_glusterfs, and libgfapi with it, in the process that serves a connection: one is held open
    # while that process's mappings are read.
    local smbd_pid served="" p mapped want
    smbd_pid=$(cat "$WORK/smbd.pid")
    { echo ls; sleep 10; echo quit; } | timeout -k 5 30 smbclient -s "$WORK/samba/client.conf" -p "$SMB_PORT" \
        -U "$SMB_USER%$SMB_PASSWORD" "//$GHOST/mortar" >"$WORK/smb-hold.out" 2>&1 &
    local holder=$!
    for _ in $(seq 1 50); do
        for p in $(ps -o pid= --ppid "$smbd_pid"); do
            if grep -q "$SMB_MODULE" "/proc/$p/maps" 2>/dev/null; then served=$p; break; fi
        done
        [ -n "$served" ] && break
        sleep 0.2
    done
    [ -n "$served" ] || { excerpt "$WORK/smb-hold.out"; excerpt "$LOGS/smbd.log"; fail "no smbd process loaded $SMB_MODULE while a client was connected"; }
    want=$(readlink -f "$GFAPI_DIR/libgfapi.so.0")
    mapped=$(awk '$6 ~ /\/libgfapi\.so/ { print $6 }' "/proc/$served/maps" | sort -u | tr '\n' ' ')
    [ "$mapped" = "$want " ] || fail "smbd $served (serving the share) mapped libgfapi '${mapped% }', expected only $want"
    wait "$holder" || true
    say "[$PART] smbd $served serving the share mapped $want (and no other libgfapi)"

    # Files: 5 MiB + 7 bytes (several SMB2 writes, an odd tail), a small text file, and a 68 KiB one to overwrite
    # the first with (the name must then read back as the smaller file: truncated, not merged).
    local a=$WORK/smb-a.bin b=$WORK/smb-b.txt c=$WORK/smb-c.bin back=$WORK/smb-back d="${P}dir"
    head -c 5242887 /dev/urandom >"$a"
    printf 'written over SMB by %s\n' "$P" >"$b"
    head -c 70001 /dev/urandom >"$c"
    smb_must "mkdir $d, $d/sub" "mkdir $d; mkdir $d/sub"
    smb_must "put ${P}a.bin (5 MiB + 7 B), $d/sub/b.txt" "put $a ${P}a.bin; put $b $d/sub/b.txt"
    smb_must "rename file ${P}a.bin -> $d/a-renamed.bin (into another directory)" "rename ${P}a.bin $d/a-renamed.bin"
    smb_must "rename directory $d/sub -> $d/sub2" "rename $d/sub $d/sub2"
    smb_must "ls $d" "ls $d/*"
    smb_expect_listed "ls $d" a-renamed.bin '^[^D]*$' 5242887
    smb_expect_listed "ls $d" sub2 D ""
    smb_expect_absent "ls $d" sub
    smb_must "ls $d/sub2" "ls $d/sub2/*"
    smb_expect_listed "ls $d/sub2" b.txt '^[^D]*$' "$(stat -c %s "$b")"
    smb_must "ls ${P}* (share root)" "ls ${P}*"
    smb_expect_listed "ls ${P}*" "$d" D ""
    smb_expect_absent "ls ${P}*" "${P}a.bin"
    smb_must "get $d/a-renamed.bin, $d/sub2/b.txt" "get $d/a-renamed.bin $back.a; get $d/sub2/b.txt $back.b"
    cmp "$a" "$back.a" >"$WORK/cmp.out" 2>&1 || fail "$d/a-renamed.bin read back over SMB differs from what was put: $(head -2 "$WORK/cmp.out")"
    cmp "$b" "$back.b" >"$WORK/cmp.out" 2>&1 || fail "$d/sub2/b.txt read back over SMB differs from what was put: $(head -2 "$WORK/cmp.out")"
    say "[$PART] both files read back identical (cmp)"
    smb_must "put a 68 KiB file over $d/a-renamed.bin, get it" "put $c $d/a-renamed.bin; get $d/a-renamed.bin $back.c"
    cmp "$c" "$back.c" >"$WORK/cmp.out" 2>&1 || fail "$d/a-renamed.bin after the overwrite differs from the new file: $(head -2 "$WORK/cmp.out")"
    say "[$PART] overwritten file reads back as the new, smaller file (cmp)"
    smb_must "del the files, rmdir $d/sub2, $d" "del $d/a-renamed.bin; del $d/sub2/b.txt; rmdir $d/sub2; rmdir $d"
    # Nothing of ours is left; and, as a negative control, smbclient reporting an error is caught (else the
    # checks above prove nothing): the deleted file cannot be read.
    smb_cmd "ls ${P}*" || true
    smb_expect_absent "ls ${P}* after deleting" "$d"
    grep -q -E 'NT_STATUS_(OK|NO_SUCH_FILE)|blocks of size' "$WORK/smb.out" || { excerpt "$WORK/smb.out"; fail "ls ${P}* after deleting: unexpected answer"; }
    smb_cmd "get $d/a-renamed.bin $back.gone" || true
    grep -q -E 'NT_STATUS_OBJECT_(PATH|NAME)_NOT_FOUND' "$WORK/smb.out" \
        || { excerpt "$WORK/smb.out"; fail "negative control: get of a deleted file did not report NT_STATUS_OBJECT_*_NOT_FOUND"; }
    [ ! -s "$back.gone" ] || fail "negative control: get of a deleted file wrote data"
    say "[$PART] everything deleted; negative control: get of the deleted file fails: $(grep -m1 -o 'NT_STATUS_[A-Z_]*' "$WORK/smb.out")"

    # vfs_glusterfs logs every failed glfs_* call (other than a missing name) at level 0.
    if grep -E -B1 'glfs_[a-z_]+\(.*\) failed|Failed to fetch gluster fd' "$LOGS/smbd.log" >"$WORK/glfs-errors.txt"; then
        sed 's/^/      | /' "$WORK/glfs-errors.txt" | head -20 >&2
        fail "smbd.log shows failed glfs_* calls (above)"
    fi
    kill -0 "$smbd_pid" 2>/dev/null || { excerpt "$LOGS/smbd.log"; fail "smbd died during the test"; }
    t0=$(now)
    stop_smbd
    say "[$PART] smbd stopped ($(since "$t0") s)"
}

# ---------------------------------------------------------------------------------------------------------------

run_part() {  # name
    local name=$1 t0 rc=0
    t0=$(now)
    say "== $name"
    # errexit only works in a subshell that is not itself tested (no `if`, `||`, `&&` around it)
    set +e
    (
        set -eEuo pipefail
        PART=$name
        trap 'echo "programs.sh: FAILED [$PART]: unexpected error (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
        "part_$name"
    )
    rc=$?
    set -e
    local status=ok
    [ "$rc" = 0 ] || status=FAILED
    echo "$name $status $(since "$t0")" >>"$RESULTS"
    say "== $name: $status ($(since "$t0") s)"
}

T_START=$(now)
[ "$(id -u)" = 0 ] || fail "run as root (apt-get, tgtd, bricks keep trusted.* extended attributes)"
say "target $TARGET, volume $VOL, GFAPI_DIR=$GFAPI_DIR, parts: ${PARTS[*]}, work dir $WORK"
ensure_packages
if [ "$TARGET" = mortar ]; then
    say "mortar $(stat -c '%y' "$MORTAR_BINARY" | cut -d. -f1), libgfapi.so.0 $(stat -c '%y' "$GFAPI_DIR/libgfapi.so.0" | cut -d. -f1)"
    start_mortar
else
    check_glusterfs
fi
for part in "${PARTS[@]}"; do run_part "$part"; done

echo
say "summary (target $TARGET):"
awk '{ printf "    %-6s %-7s %7.1f s\n", $1, $2, $3 }' "$RESULTS"
say "total $(since "$T_START") s"
if grep -q FAILED "$RESULTS"; then
    say "FAILED: $(awk '$2 == "FAILED" { printf "%s ", $1 }' "$RESULTS")"
    exit 1
fi
say "all parts passed"
