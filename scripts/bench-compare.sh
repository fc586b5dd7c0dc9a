#!/usr/bin/env bash
# scripts/bench-compare.sh — the side-by-side benchmark suite: Mortar against GlusterFS 10.3 and the local disk on this
# machine, over loopback, every system with the same workloads through its library (libgfapi: GlusterFS's own and
# Mortar's drop-in, the same fio binary and job file) and through its FUSE mount. Not part of CI.
#
#   make bench-compare                      # full mode, for the README: 3 repetitions, 1 GiB files, 10,000 small
#                                           # files, a 20,000-entry tree, a 1 GiB VM image (about 120 minutes)
#   QUICK=1 make bench-compare              # quick mode for development: 1 repetition, small sizes (about 10 min)
#   SYSTEMS="mortar1 gluster1" QUICK=1 bash scripts/bench-compare.sh      # any subset of the systems
#   python3 bench/compare/report.py /tmp/mortar-bench-compare/<run id>   # redo the report of a run
#
# Systems (run one after the other, never at the same time; order rotates per repetition): local (a directory on
# the disk the bricks use), mortar1 / mortar3 (a private Mortar daemon, one brick / replica 3 on that disk;
# mortar1net: mortar1 with short-circuit local reads off, see below),
# gluster1 / gluster3 (../shared/bench/gluster-setup.sh: gv1, one brick / gv3, replica 3, on that disk). The cost of
# TLS, on request: mortar1tls / mortar1tcp (one brick, clients over TCP with TLS / with the daemon --insecure,
# where mortar1's local clients use the brick's Unix socket) and gluster1tls (gv1 with client.ssl and server.ssl):
#   SYSTEMS="mortar1tcp mortar1tls gluster1 gluster1tls" PARTS="fio client" ACCESS=library QUICK=1 make bench-compare
# Short-circuit local reads: mortar1net is mortar1 with performance.local-reads off (every read a request to the
# brick over its Unix socket); with mortar1 in the same run the report splits the two paths:
#   SYSTEMS="local mortar1net mortar1 gluster1" PARTS=fio QUICK=1 make bench-compare
# Per system and repetition, the page cache dropped and a bounded wait for a quiet CPU before every measurement:
#   fio         bench/compare/jobs.fio: 1 MiB sequential write (fresh file, end_fsync) and read; 4 KiB random
#               read and write (end_fsync) at queue depth 1 and 16 with 1 and 4 jobs on one file. Library: gfapi
#               (depth 1) / gfapi_async (16); mount and local: psync (1) / libaio O_DIRECT (16).
#   files       compare-tool (bench/compare/compare-tool.c, the same code over libgfapi or POSIX calls): create,
#               stat, read, delete SMALL_FILES files of 4 KiB in 100 directories, one process per phase.
#   tree        a tree of TREE_ENTRIES entries, walked with `find` and `ls -lR` on the mount (and the local disk),
#               and with compare-tool's find / ls-lR equivalents through the library.
#   qemu        `qemu-img convert` of an IMAGE_SIZE raw image into the system (gluster:// URL through libgfapi, and
#               a file on the mount), `qemu-img info` latency (hyperfine, INFO_RUNS runs), and `qemu-img bench` on
#               the converted image (-t none: O_DIRECT): read and write, 4 KiB and 64 KiB requests, queue depth 1
#               and 16, QEMU_BENCH_COUNT requests each (sequential from offset 0: qemu-img bench has no random mode).
#   client      compare-tool client: glfs_init and glfs_fini latency and resident memory per client instance;
#               CPU seconds per GiB come from the library's sequential fio runs (client: fio's user+system time;
#               server: the CPU time of the system's server processes during the run).
# Output: RESULTS_DIR/<run id>/: meta.json, raw/ (every program's output + a .meta.json per measurement, format in
# bench/compare/FORMAT.md), results.json, summary.md and plots/*.svg from bench/compare/report.py (also printed).
# PUBLISH=docs/benchmarks copies the report and plots there and rewrites README.md's latest-run section.
# Needs root (drop_caches, GlusterFS, mounts), a free 127.0.0.1:24007 for GlusterFS and a free MORTAR_PORT.
set -euo pipefail

# ---- knobs (environment overrides them) --------------------------------------------------------------------------
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    _reps=1 _size=128m _runtime=3 _files=1000 _tree=2000 _image=128m _quiet=15 _info=3 _qbench=4000
    _jobs="seqwrite:1:1 seqread:1:1 randread:1:1 randread:16:1 randwrite:1:1 randwrite:16:1"
else
    _reps=3 _size=1g _runtime=5 _files=10000 _tree=20000 _image=1g _quiet=60 _info=3 _qbench=20000
    _jobs="seqwrite:1:1 seqread:1:1 randread:1:1 randread:1:4 randread:16:1 randwrite:1:1 randwrite:1:4 randwrite:16:1"
fi
REPS=${REPS:-$_reps}                   # repetitions; the report shows the median [min–max]
SIZE=${SIZE:-$_size}                   # fio file size (sequential jobs move all of it)
RUNTIME=${RUNTIME:-$_runtime}          # seconds per random job
FIO_JOBS=${FIO_JOBS:-$_jobs}           # workload:iodepth:numjobs
SMALL_FILES=${SMALL_FILES:-$_files}    # 4 KiB files created, stat'ed, read and deleted
TREE_ENTRIES=${TREE_ENTRIES:-$_tree}   # entries of the tree walked by find / ls -lR (multiple of 200)
IMAGE_SIZE=${IMAGE_SIZE:-$_image}      # raw image converted by qemu-img
INFO_RUNS=${INFO_RUNS:-$_info}         # qemu-img info runs per measurement
QEMU_BENCH_COUNT=${QEMU_BENCH_COUNT:-$_qbench}  # requests per qemu-img bench run
CLIENT_INSTANCES=${CLIENT_INSTANCES:-5}
QUIET_PCT=${QUIET_PCT:-20}             # before each measurement wait until whole-machine CPU busy is below this (%),
QUIET_MAX=${QUIET_MAX:-$_quiet}        # but at most this many seconds
SYSTEMS=${SYSTEMS:-"local mortar1 mortar1net mortar3 gluster1 gluster3"}
ACCESS=${ACCESS:-"library fuse"}       # access paths measured on the clustered systems
PARTS=${PARTS:-"fio files tree qemu client"}   # what to measure (a subset for development; the report says what ran)
MORTAR_PORT=${MORTAR_PORT:-24417}      # the private Mortar daemon (glusterd keeps 24007)
MORTAR_VOLUME_OPTIONS=${MORTAR_VOLUME_OPTIONS:-}  # NAME=VALUE ... set on Mortar's volumes before they start (an A/B
                                       # run: MORTAR_VOLUME_OPTIONS=performance.read-ahead=off)
MORTAR_BRICK_PORT_MIN=${MORTAR_BRICK_PORT_MIN:-24420}
MORTAR_METRICS=${MORTAR_METRICS:-off}  # on: the daemon serves /metrics on 127.0.0.1:MORTAR_METRICS_PORT and its bricks
MORTAR_METRICS_PORT=${MORTAR_METRICS_PORT:-24419}  # count every request (an A/B run of what metrics cost)
RESULTS_DIR=${RESULTS_DIR:-/tmp/mortar-bench-compare}
BENCH_ROOT=${BENCH_ROOT:-/srv/mortar-bench-compare}   # Mortar bricks, mount point, local baseline: same disk as /srv/gbase
SHARED_BENCH=${SHARED_BENCH:-/work/shared/bench}
GLUSTER_PURGE=${GLUSTER_PURGE:-auto}   # 1: the final teardown deletes gv1/gv3 and /srv/gbase; auto: only if
                                       # /srv/gbase did not exist before this run; 0: never
PUBLISH=${PUBLISH:-}                   # a directory to copy summary.md and the plots into (README's section follows)
BUILD=${BUILD:-1}                      # 1: build mortar (release) and the libgfapi drop-in first; 0: use MORTAR_BINARY, GFAPI_DIR
# -------------------------------------------------------------------------------------------------------------------

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MORTAR_BINARY=${MORTAR_BINARY:-$REPO/.build/release/mortar}
GFAPI_DIR=${GFAPI_DIR:-$REPO/.build-gfapi/lib}
# shellcheck source=scripts/bench-lib.sh
. "$REPO/scripts/bench-lib.sh"

RUNID=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS_DIR/$RUNID
GHOST=127.0.0.1
SYS_LIBDIR=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT/raw"
LOG=$OUT/run.log
log() { echo "$(date +%T) $*" | tee -a "$LOG" >&2; }
die() { log "bench-compare: FAILED: $*"; exit 1; }

# ---- preflight: root, packages, binaries, ports --------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (drop_caches, GlusterFS, FUSE mounts)"
for s in $SYSTEMS; do
    case "$s" in local | mortar1 | mortar3 | gluster1 | gluster3 | mortar1tls | mortar1tcp | mortar1net | gluster1tls) ;;
        *) die "unknown system '$s' in SYSTEMS (local mortar1 mortar3 gluster1 gluster3 mortar1tls mortar1tcp mortar1net gluster1tls)" ;; esac
done
for a in $ACCESS; do case "$a" in library | fuse) ;; *) die "unknown access path '$a' in ACCESS (library fuse)" ;; esac; done
[ $((TREE_ENTRIES % 200)) = 0 ] && [ "$TREE_ENTRIES" -gt 0 ] || die "TREE_ENTRIES=$TREE_ENTRIES is not a positive multiple of 200"
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
part() { [[ " $PARTS " == *" $1 "* ]]; }
for p in $PARTS; do case "$p" in fio | files | tree | qemu | client) ;; *) die "unknown part '$p' in PARTS (fio files tree qemu client)" ;; esac; done
missing=()
for p in fio jq python3 curl gcc libglusterfs-dev glusterfs-server glusterfs-client qemu-utils qemu-block-extra \
    hyperfine fuse3 time; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >>"$LOG" 2>&1 \
        || die "apt-get install ${missing[*]} failed (see $LOG)"
fi
has_mortar() { [[ " $SYSTEMS " == *" mortar"* ]]; }
has_gluster() { [[ " $SYSTEMS " == *" gluster"* ]]; }
if has_mortar; then
    if [ "$BUILD" = 1 ]; then
        log "building mortar (release) and the libgfapi drop-in"
        (cd "$REPO" && source scripts/install-deps.sh && flock /tmp/mortar-build.lock swift build -c release --product mortar \
            && bash scripts/build-gfapi.sh) >>"$LOG" 2>&1 || die "build failed (see $LOG)"
    fi
    [ -x "$MORTAR_BINARY" ] || die "no mortar executable at MORTAR_BINARY=$MORTAR_BINARY"
    [ -f "$GFAPI_DIR/libgfapi.so.0" ] || die "no libgfapi.so.0 in GFAPI_DIR=$GFAPI_DIR (make gfapi)"
    port_busy "$MORTAR_PORT" && die "127.0.0.1:$MORTAR_PORT is in use; set MORTAR_PORT"
fi
if has_gluster && port_busy 24007; then
    die "127.0.0.1:24007 is in use (a glusterd or a mortar daemon): GlusterFS needs it"
fi
GBASE_EXISTED=0; [ -d /srv/gbase ] && GBASE_EXISTED=1
TOOL=$OUT/compare-tool
gcc -std=gnu11 -O2 -Wall -Wextra -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -o "$TOOL" "$REPO/bench/compare/compare-tool.c" \
    -lgfapi >>"$LOG" 2>&1 || die "compiling bench/compare/compare-tool.c failed (see $LOG)"

# shellcheck source=scripts/bench-systems.sh
. "$REPO/scripts/bench-systems.sh"

MOUNTED=""
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    unmount_mortar
    mortar_down
    gluster_down
    if has_gluster; then
        if [ "$GLUSTER_PURGE" = 1 ] || { [ "$GLUSTER_PURGE" = auto ] && [ "$GBASE_EXISTED" = 0 ]; }; then
            RESULTS=$OUT PURGE=1 "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || log "WARNING: gluster-teardown.sh (PURGE=1) failed"
        fi
    fi
    rm -rf "$BENCH_ROOT/local" "$BENCH_ROOT/source.img"
    rmdir "$BENCH_ROOT/mnt" "$BENCH_ROOT" 2>/dev/null
    [ "$rc" = 0 ] || echo "bench-compare: stopped with status $rc; partial results in $OUT (python3 bench/compare/report.py $OUT)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the run's description ------------------------------------------------------------------------------------------
write_meta() {
    local systems_json disk
    systems_json=$(printf '%s\n' $SYSTEMS | jq -R . | jq -s .)
    disk=$(findmnt -no SOURCE,FSTYPE,OPTIONS --target "$(dirname "$BENCH_ROOT")" | head -1)
    jq -n --arg run_id "$RUNID" --arg mode "$([ "$QUICK" = 1 ] && echo quick || echo full)" \
        --arg date "$(date -u +%FT%TZ)" --arg commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        --arg dirty "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -c . || true)" \
        --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" --argjson nproc "$(nproc)" \
        --argjson mem "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" --arg kernel "$(uname -r)" --arg disk "$disk" \
        --arg fio "$(fio --version)" --arg gluster "$(glusterfs --version 2>/dev/null | head -1)" \
        --arg qemu "$(qemu-img --version | head -1)" --arg hyperfine "$(hyperfine --version)" \
        --arg size "$SIZE" --argjson runtime "$RUNTIME" --arg jobs "$(echo $FIO_JOBS)" --argjson files "$SMALL_FILES" \
        --argjson tree "$TREE_ENTRIES" --arg image "$IMAGE_SIZE" --argjson info "$INFO_RUNS" \
        --argjson qbench "$QEMU_BENCH_COUNT" \
        --argjson instances "$CLIENT_INSTANCES" --argjson reps "$REPS" --argjson quiet "$QUIET_PCT" \
        --argjson quiet_max "$QUIET_MAX" --argjson systems "$systems_json" --arg access "$ACCESS" --arg parts "$PARTS" \
        '{run_id: $run_id, mode: $mode, date_utc: $date, commit: $commit, uncommitted_changes: ($dirty | tonumber),
          machine: {cpu: $cpu, nproc: $nproc, mem_kib: $mem, kernel: $kernel, disk: $disk},
          software: {fio: $fio, glusterfs: $gluster, qemu_img: $qemu, hyperfine: $hyperfine},
          knobs: {size: $size, runtime_s: $runtime, fio_jobs: $jobs, small_files: $files, tree_entries: $tree,
                  image_size: $image, info_runs: $info, qemu_bench_count: $qbench, client_instances: $instances,
                  quiet_max_s: $quiet_max,
                  access: $access, parts: $parts},
          systems: $systems, reps: $reps, quiet_pct: $quiet}' >"$OUT/meta.json"
}

# ---- per-system facts -----------------------------------------------------------------------------------------------
sys_port() { case "$1" in mortar*) echo "$MORTAR_PORT" ;; *) echo 24007 ;; esac; }
mount_point() {  # system → its FUSE mount
    case "$1" in mortar*) echo "$BENCH_ROOT/mnt" ;; gluster1*) echo /mnt/gv1 ;; gluster3) echo /mnt/gv3 ;; esac
}
server_cpu_jiffies() {  # system → user+system jiffies of its server processes (daemon, bricks), 0 for local
    local sys=$1 pids p total=0
    case "$sys" in
        mortar*) pids=$(ps -eo pid=,args= | awk -v d="$BENCH_ROOT/" 'index($0, d) && !/awk/ && !/ mount / { print $1 }') ;;
        gluster*) pids=$(pidof glusterd glusterfsd 2>/dev/null || true) ;;
        *) pids="" ;;
    esac
    for p in $pids; do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    echo "$total"
}
mount_mortar() {
    mkdir -p "$BENCH_ROOT/mnt"
    mortar_cli mount "127.0.0.1:$MORTAR_PORT:/$MVOL" "$BENCH_ROOT/mnt" >>"$LOG" 2>&1 || die "mortar mount of $MVOL failed (see $LOG)"
    MOUNTED=$BENCH_ROOT/mnt
}
unmount_mortar() {
    [ -n "$MOUNTED" ] || return 0
    mortar_cli umount "$MOUNTED" >>"$LOG" 2>&1 || { log "WARNING: mortar umount failed; lazy unmount"; umount -l "$MOUNTED"; }
    MOUNTED=""
}

# ---- measurement records ------------------------------------------------------------------------------------------
# Every measurement leaves <name>.meta.json (FORMAT.md) next to its program's output.
record() {  # dir name json-fields…   (kind, system, access, rep and the gate are added here)
    local dir=$1 name=$2; shift 2
    jq -n --arg system "$SYS" --arg access "$ACC" --argjson rep "$REP" --argjson busy "$GATE_BUSY" \
        --argjson wait "$GATE_WAIT" --arg output "$name.out" "$@" \
        '$ARGS.named + {system: $system, access: $access, rep: $rep, gate_busy_pct: $busy, gate_wait_s: $wait,
                        output: $output} | del(.busy, .wait)' >"$dir/$name.meta.json"
}
prepare() {  # before each measurement: cold caches, a quiet machine
    drop_caches
    quiet_gate
}

# ---- fio ----------------------------------------------------------------------------------------------------------
run_fio() {  # dir workload iodepth numjobs
    local dir=$1 workload=$2 depth=$3 jobs=$4 section rw bs timed fsync
    case "$ACC:$depth" in
        library:1) section=gfapi ;; library:*) section=gfapi_async ;;
        *:1) section=psync ;; *) section=libaio ;;
    esac
    case "$workload" in
        seqwrite) rw=write bs=1m timed=0 fsync=1 ;; seqread) rw=read bs=1m timed=0 fsync=0 ;;
        randread) rw=randread bs=4k timed=1 fsync=0 ;; randwrite) rw=randwrite bs=4k timed=1 fsync=1 ;;
        *) die "unknown fio workload '$workload' in FIO_JOBS" ;;
    esac
    local name="$ACC-fio-$workload-qd$depth-j$jobs" runtime=$RUNTIME
    [ "$timed" = 0 ] && runtime=300
    [ "$workload" = seqwrite ] && remove_target_file
    prepare
    local before_server after_server rc=0
    before_server=$(server_cpu_jiffies "$SYS")
    env LD_LIBRARY_PATH="$(sys_lib "$SYS")" RW=$rw BS=$bs SIZE="$SIZE" NUMJOBS="$jobs" IODEPTH="$depth" \
        RUNTIME="$runtime" TIME_BASED=$timed END_FSYNC=$fsync GVOL="$(sys_vol "$SYS")" GHOST="$(sys_host "$SYS")" \
        GFILE=compare.dat PFILE="$TARGET_DIR/compare.dat" \
        timeout -k 10 $((runtime + 300)) /usr/bin/time -f "%U %S %M" -o "$dir/$name.time" \
        fio --section="$section" --output-format=json --output="$dir/$name.out" "$REPO/bench/compare/jobs.fio" \
        >"$dir/$name.stderr" 2>&1 || rc=$?
    after_server=$(server_cpu_jiffies "$SYS")
    local user system rss hz
    read -r user system rss < <(tail -1 "$dir/$name.time" 2>/dev/null || echo "0 0 0")
    hz=$(getconf CLK_TCK)
    record "$dir" "$name" --arg kind fio --arg workload "$workload" --argjson iodepth "$depth" --argjson jobs "$jobs" \
        --arg engine "$section" --argjson rc "$rc" \
        --argjson client_cpu_s "$(awk -v u="$user" -v s="$system" 'BEGIN { printf "%.3f", u + s }')" \
        --argjson client_max_rss_kib "${rss:-0}" \
        --argjson server_cpu_s "$(if [ "$SYS" = local ]; then echo null; else
            awk -v d=$((after_server - before_server)) -v hz="$hz" 'BEGIN { printf "%.3f", d / hz }'; fi)"
    log "  $name $section: rc=$rc $(fio_figure "$dir/$name.out" "$workload")"
    [ "$rc" = 0 ] || log "    fio stderr: $(tail -3 "$dir/$name.stderr" | tr '\n' ' ')"
}
remove_target_file() { remove_file_named compare.dat; }
remove_file_named() {  # name — in the volume's root (library) or the target directory (mount, local)
    case "$ACC" in
        library) case "$SYS" in
                mortar*) mortar_cli rm "mortar://$GHOST:$MORTAR_PORT/$(sys_vol "$SYS")/$1" >>"$LOG" 2>&1 || true ;;
                gluster*) rm -f "$(mount_point "$SYS")/$1" ;;
            esac ;;
        *) rm -f "$TARGET_DIR/$1" ;;
    esac
}

# ---- small files and trees ----------------------------------------------------------------------------------------
tool_target() {  # compare-tool's TARGET and the directory argument's root for the current access path
    if [ "$ACC" = library ]; then echo "gfapi:$GHOST:$(sys_port "$SYS"):$(sys_vol "$SYS") /"; else echo "posix $TARGET_DIR/"; fi
}
run_tool() {  # dir name kind-fields… -- tool arguments…
    local dir=$1 name=$2; shift 2
    local fields=()
    while [ "$1" != -- ]; do fields+=("$1"); shift; done
    shift
    prepare
    local rc=0
    LD_LIBRARY_PATH="$(sys_lib "$SYS")" COMPARE_TOOL_LOG="$dir/$name.gfapi.log" timeout -k 10 1800 "$TOOL" "$@" \
        >"$dir/$name.out" 2>"$dir/$name.stderr" || rc=$?
    record "$dir" "$name" "${fields[@]}" --argjson rc "$rc"
    log "  $name: rc=$rc $(cat "$dir/$name.out" 2>/dev/null | tr -d '\n')"
    [ "$rc" = 0 ] || log "    stderr: $(tail -3 "$dir/$name.stderr" | tr '\n' ' ')"
}
run_files() {  # dir
    local dir=$1 target root op
    read -r target root < <(tool_target)
    for op in create stat read delete; do
        run_tool "$dir" "$ACC-files-$op" --arg kind files --arg op "$op" --argjson count "$SMALL_FILES" \
            -- files "$target" "${root}compare-files" "$op" "$SMALL_FILES"
    done
}
# The tree is made once per system and repetition: by the library path, which leaves it for the mount path to walk
# too (then the mount path removes it); without a library path each path makes and removes its own.
run_tree() {  # dir
    local dir=$1 target root op shared=0
    read -r target root < <(tool_target)
    [ "$SYS" != local ] && [[ " $ACCESS " == *" library "* ]] && [[ " $ACCESS " == *" fuse "* ]] && shared=1
    if [ "$shared" = 0 ] || [ "$ACC" = library ]; then
        LD_LIBRARY_PATH="$(sys_lib "$SYS")" "$TOOL" tree "$target" "${root}compare-tree" make "$TREE_ENTRIES" \
            >"$dir/$ACC-tree-make.out" 2>"$dir/$ACC-tree-make.stderr" \
            || { log "  tree make failed: $(tail -2 "$dir/$ACC-tree-make.stderr")"; return 0; }
    fi
    for op in find ls-lR; do
        if [ "$ACC" = library ]; then
            run_tool "$dir" "$ACC-tree-$op" --arg kind tree --arg op "$op" --argjson entries "$TREE_ENTRIES" \
                -- tree "$target" "${root}compare-tree" "$op" "$TREE_ENTRIES"
        else
            time_command "$dir" "$ACC-tree-$op" "$TREE_ENTRIES" "$op" \
                "$([ "$op" = find ] && echo "find $TARGET_DIR/compare-tree" || echo "ls -lR $TARGET_DIR/compare-tree")"
        fi
    done
    if [ "$shared" = 0 ] || [ "$ACC" = fuse ]; then
        LD_LIBRARY_PATH="$(sys_lib "$SYS")" "$TOOL" tree "$target" "${root}compare-tree" remove "$TREE_ENTRIES" \
            >/dev/null 2>>"$dir/$ACC-tree-remove.stderr" || log "  WARNING: removing the tree failed"
    fi
}
time_command() {  # dir name entries op command — the real tool on a mount or local directory, output discarded
    local dir=$1 name=$2 entries=$3 op=$4 command=$5 rc=0 t0 t1 lines
    prepare
    t0=$(now)
    lines=$(bash -c "$command" 2>"$dir/$name.stderr" | wc -l) || rc=$?
    t1=$(now)
    [ -s "$dir/$name.stderr" ] && rc=1
    # find prints every entry plus the root; ls -lR prints more lines than entries, so only find is checked
    if [ "$op" = find ] && [ "$lines" != $((entries + 1)) ]; then
        echo "find printed $lines lines, expected $((entries + 1))" >>"$dir/$name.stderr"; rc=1
    fi
    awk -v op="$op" -v n="$entries" -v a="$t0" -v b="$t1" 'BEGIN { printf "{\"op\": \"%s\", \"entries\": %d, \"seconds\": %.6f}\n", op, n, b - a }' \
        >"$dir/$name.out"
    record "$dir" "$name" --arg kind tree --arg op "$op" --argjson entries "$entries" --argjson rc "$rc"
    log "  $name: rc=$rc $(cat "$dir/$name.out")"
}

# ---- VM images ----------------------------------------------------------------------------------------------------
image_url() {  # where qemu-img writes for the current access path
    case "$ACC" in
        library) echo "gluster://$GHOST$([ "${SYS#mortar}" != "$SYS" ] && echo ":$MORTAR_PORT")/$(sys_vol "$SYS")/compare.img" ;;
        *) echo "$TARGET_DIR/compare.img" ;;
    esac
}
run_qemu() {  # dir
    local dir=$1 url rc=0 t0 t1 convert_rc
    url=$(image_url)
    prepare
    t0=$(now)
    LD_LIBRARY_PATH="$(sys_lib "$SYS")" timeout -k 10 900 qemu-img convert -f raw -O raw "$SOURCE_IMAGE" "$url" \
        >"$dir/$ACC-qemu-convert.stderr" 2>&1 || rc=$?
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "{\"seconds\": %.6f}\n", b - a }' >"$dir/$ACC-qemu-convert.out"
    record "$dir" "$ACC-qemu-convert" --arg kind qemu-convert --argjson bytes "$IMAGE_BYTES" --argjson rc "$rc"
    log "  qemu-convert: rc=$rc $(cat "$dir/$ACC-qemu-convert.out")"
    convert_rc=$rc
    prepare
    rc=0
    LD_LIBRARY_PATH="$(sys_lib "$SYS")" timeout -k 10 900 hyperfine --style none --runs "$INFO_RUNS" --warmup 0 \
        --export-json "$dir/$ACC-qemu-info.out" "qemu-img info $url" >"$dir/$ACC-qemu-info.stderr" 2>&1 || rc=$?
    record "$dir" "$ACC-qemu-info" --arg kind qemu-info --argjson rc "$rc"
    log "  qemu-info: rc=$rc median $(jq -r '.results[0].median // "n/a"' "$dir/$ACC-qemu-info.out" 2>/dev/null) s"
    bench_image "$url" "$convert_rc"
    run_qemu_bench "$dir" "$url"
    remove_file_named compare.img
}
# qemu-img bench reads what a VM reads: the image must hold data, or a read of a hole (which a file system or a
# brick answers without the disk) would be timed. convert's image is IMAGE_SIZE of random data; after a failed
# convert, a fresh image is filled with 64 KiB writes. Without a filled image the image is removed, so that every
# bench run fails on open and is reported failed instead of timing holes.
bench_image() {  # url convert-rc
    local url=$1
    [ "$2" = 0 ] && return 0
    log "  qemu-bench: convert failed; filling a fresh $IMAGE_SIZE image with qemu-img create + bench -w"
    if ! { LD_LIBRARY_PATH="$(sys_lib "$SYS")" timeout -k 10 900 qemu-img create -q -f raw "$url" "$IMAGE_BYTES" \
        && LD_LIBRARY_PATH="$(sys_lib "$SYS")" timeout -k 10 900 qemu-img bench -q -f raw -w --pattern=0x5a -d 16 \
            -s 64k -c $((IMAGE_BYTES / 65536)) "$url"; } >>"$LOG" 2>&1; then
        log "  WARNING: no filled image for qemu-img bench (see $LOG); its runs will fail"
        remove_file_named compare.img
    fi
}
# One qemu-img bench per op, request size and queue depth on the image at url, through QEMU's block layer as a VM's
# disk (raw format, cache=none). -t none opens the image O_DIRECT, so the client keeps no cache: no page cache on
# the mount or the local file, and no read-ahead in Mortar's library (off for O_DIRECT); the servers may still use
# their own page cache, which prepare empties before every run. -n asks for Linux native AIO, which only
# file-posix (FUSE, local) has; QEMU's gluster driver ignores it (it is always asynchronous, glfs_preadv_async /
# glfs_pwritev_async) and turns -t none into O_DIRECT on glfs_open, so the library path takes the same command
# line (qemu-img 7.2 accepts both for a gluster:// URL). qemu-img bench has no random mode: requests go from offset
# 0 one request size apart, wrapping at the image's end; writes carry the byte 0x5a.
run_qemu_bench() {  # dir url
    local dir=$1 url=$2 op size depth name rc
    local write=()
    for op in read write; do
        write=()
        [ "$op" = write ] && write=(-w --pattern=0x5a)
        for size in 4k 64k; do
            for depth in 1 16; do
                name="$ACC-qemu-bench-$op-$size-qd$depth"
                prepare
                rc=0
                LD_LIBRARY_PATH="$(sys_lib "$SYS")" timeout -k 10 900 qemu-img bench -f raw -t none -n \
                    -c "$QEMU_BENCH_COUNT" -d "$depth" -s "$size" "${write[@]}" "$url" >"$dir/$name.out" 2>&1 || rc=$?
                record "$dir" "$name" --arg kind qemu-bench --arg op "$op" \
                    --argjson block_size "$(numfmt --from=iec "${size^^}")" --argjson iodepth "$depth" \
                    --argjson count "$QEMU_BENCH_COUNT" --argjson rc "$rc"
                log "  $name: rc=$rc $(grep -m1 'Run completed' "$dir/$name.out" || tail -1 "$dir/$name.out")"
            done
        done
    done
}

# ---- one system, one access path ----------------------------------------------------------------------------------
measure_access() {  # rep system access
    REP=$1 SYS=$2 ACC=$3
    local dir=$OUT/raw/$SYS/rep$REP spec
    mkdir -p "$dir"
    case "$ACC" in
        local) TARGET_DIR=$BENCH_ROOT/local; mkdir -p "$TARGET_DIR" ;;
        fuse) TARGET_DIR=$(mount_point "$SYS") ;;
        library) TARGET_DIR=/nonexistent ;;
    esac
    log "rep $REP $SYS $ACC"
    if part fio; then
        for spec in $FIO_JOBS; do
            IFS=: read -r workload depth jobs <<<"$spec"
            run_fio "$dir" "$workload" "$depth" "$jobs"
        done
        remove_target_file
    fi
    if part files; then run_files "$dir"; fi
    if part tree; then run_tree "$dir"; fi
    if part qemu; then run_qemu "$dir"; fi
    if part client && [ "$ACC" = library ]; then
        run_tool "$dir" library-client --arg kind client -- client "$GHOST" "$(sys_port "$SYS")" "$(sys_vol "$SYS")" "$CLIENT_INSTANCES"
    fi
}
measure_system() {  # rep system
    local rep=$1 sys=$2 access
    if [ "$sys" = local ]; then
        measure_access "$rep" local local
        rm -rf "$BENCH_ROOT/local"
        return
    fi
    system_up "$sys" "$rep"
    [ "${sys#mortar}" != "$sys" ] && mount_mortar
    for access in $ACCESS; do
        # raw/<system>/rep<N>/ holds both paths: every name starts with the access path
        measure_access "$rep" "$sys" "$access"
    done
    unmount_mortar
    system_down "$sys"
}

# ---- main -----------------------------------------------------------------------------------------------------------
write_meta
IMAGE_BYTES=$(numfmt --from=iec "${IMAGE_SIZE^^}")
mkdir -p "$BENCH_ROOT"
SOURCE_IMAGE=$BENCH_ROOT/source.img
log "run $RUNID ($([ "$QUICK" = 1 ] && echo quick || echo full) mode): systems $SYSTEMS, $REPS repetition(s); output $OUT"
log "writing the ${IMAGE_SIZE} source image for qemu-img convert"
head -c "$IMAGE_BYTES" /dev/urandom >"$SOURCE_IMAGE"
read -ra order <<<"$SYSTEMS"
for rep in $(seq 1 "$REPS"); do
    for index in "${!order[@]}"; do
        measure_system "$rep" "${order[$(((index + rep - 1) % ${#order[@]}))]}"
    done
done
rm -f "$SOURCE_IMAGE"
log "all measurements done; report:"
python3 "$REPO/bench/compare/report.py" "$OUT" ${PUBLISH:+--publish "$PUBLISH" --readme "$REPO/README.md"}
