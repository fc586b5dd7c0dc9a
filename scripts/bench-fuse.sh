#!/usr/bin/env bash
# The FUSE mount's benchmark: the same workloads through the mount, through the client library (`mortar bench`)
# and on a local directory of the same disk, in one run. Not part of CI; nothing here asserts a timing.
#
#   bash scripts/bench-fuse.sh                       # 1 GiB sequential, 20 s random, 10,000 small files
#   SIZE=256m RUNTIME=5 SMALL_FILES=2000 TREE_DIRS=20 bash scripts/bench-fuse.sh     # quicker
#   TARGETS="/mnt/gv1" bash scripts/bench-fuse.sh    # also run the mount workloads on another mount (GlusterFS)
#
# Workloads (fio, the parameters of ../shared/bench/fio so figures line up with the GlusterFS baseline):
# sequential 1 MiB write (end_fsync) and read of one file; 4 KiB random read and write, queue depth 1, 1 and 4
# jobs on one pre-written file; small files: create, stat, read, delete N files of 4 KiB; find and ls -lR over a
# tree of TREE_DIRS × 200 entries with cold caches. Page caches are dropped before every run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
configuration="${CONFIGURATION:-release}"
flock /tmp/mortar-build.lock swift build -c "$configuration" 2>&1 | tail -1
mortar="$PWD/.build/$configuration/mortar"
work="${BENCH_DIR:-/var/tmp/mortar-fuse-bench}"
port="${BENCH_PORT:-24118}"
size="${SIZE:-1g}"
runtime="${RUNTIME:-20}"
small_files="${SMALL_FILES:-10000}"
tree_dirs="${TREE_DIRS:-100}"
results="${RESULTS:-$work-results}"
mount_options="${MOUNT_OPTIONS:-}"

if pgrep -x glusterd >/dev/null && [ "$port" = 24007 ]; then
    echo "bench-fuse: glusterd holds port 24007; pick another BENCH_PORT" >&2
    exit 1
fi
rm -rf "$work"; mkdir -p "$work/brick" "$work/local" "$work/mnt" "$results"
source scripts/lib/credentials.sh
mortar_credentials "$mortar" "$work" "$work/state/tls"
export MORTAR_TLS_DIR="$work/admin"
"$mortar" daemon --state-dir "$work/state" --listen "127.0.0.1:$port" --brick-port-min "${BENCH_BRICK_PORT:-24410}" \
    --pid-file "$work/daemon.pid" >"$work/daemon.log" 2>&1 &
cleanup() {
    "$mortar" umount "$work/mnt" 2>/dev/null || true
    sleep 1
    # The daemon leaves its bricks serving when it stops: stop the volume first.
    "$mortar" volume stop bench >/dev/null 2>&1 || true
    kill -TERM "$(cat "$work/daemon.pid" 2>/dev/null)" 2>/dev/null || true
    wait || true
    rm -rf "$work"
}
trap cleanup EXIT
export MORTAR_MANAGER="127.0.0.1:$port"
for _ in $(seq 1 100); do "$mortar" volume list >/dev/null 2>&1 && break; sleep 0.1; done
"$mortar" volume create bench "127.0.0.1:$work/brick" >/dev/null
"$mortar" volume start bench >/dev/null
for _ in $(seq 1 100); do "$mortar" volume status bench --json | grep -q '"online" : true' && break; sleep 0.1; done
"$mortar" mount ${mount_options:+-o "$mount_options"} "127.0.0.1:$port:/bench" "$work/mnt"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# fio on one directory: prints "workload value" lines (MiB/s for sequential, IOPS for random).
fio_suite() {
    local name=$1 directory=$2 file="$2/fio.dat"
    local common=(--filename="$file" --group_reporting --output-format=json)
    rm -f "$file"
    drop_caches
    fio --name=seqwrite --rw=write --bs=1m --size="$size" --end_fsync=1 "${common[@]}" > "$results/$name.seqwrite.json"
    drop_caches
    fio --name=seqread --rw=read --bs=1m --size="$size" "${common[@]}" > "$results/$name.seqread.json"
    for jobs in 1 4; do
        for mode in randread randwrite; do
            drop_caches
            local extra=()
            [ "$mode" = randwrite ] && extra=(--end_fsync=1)
            fio --name="$mode" --rw="$mode" --bs=4k --size="$size" --time_based --runtime="$runtime" \
                --numjobs="$jobs" "${extra[@]}" "${common[@]}" > "$results/$name.$mode-nj$jobs.json"
        done
    done
    rm -f "$file"
    python3 - "$results" "$name" <<'PY'
import json, sys
results, name = sys.argv[1], sys.argv[2]
for workload in ["seqwrite", "seqread", "randread-nj1", "randwrite-nj1", "randread-nj4", "randwrite-nj4"]:
    job = json.load(open(f"{results}/{name}.{workload}.json"))["jobs"][0]
    side = job["write"] if "write" in workload else job["read"]
    value = side["bw"] / 1024 if workload.startswith("seq") else side["iops"]
    unit = "MiB/s" if workload.startswith("seq") else "IOPS"
    print(f"{name} {workload} {value:.0f} {unit}")
PY
}

# Small files and tree walks, timed phase by phase (seconds).
small_file_suite() {
    local name=$1 directory=$2/small
    rm -rf "$directory"; mkdir -p "$directory"
    drop_caches
    python3 - "$directory" "$small_files" "$name" <<'PY'
import os, sys, time
root, count, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
block = os.urandom(4096)
paths = [os.path.join(root, f"d{index % 100:02}", f"f{index}") for index in range(count)]
for index in range(100):
    os.mkdir(os.path.join(root, f"d{index:02}"))
def phase(label, action):
    start = time.perf_counter()
    for path in paths:
        action(path)
    elapsed = time.perf_counter() - start
    print(f"{name} small-{label} {count / elapsed:.0f} files/s")
def create(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, block)
    os.close(fd)
def read(path):
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 8192)
    os.close(fd)
phase("create", create)
os.system("sync; echo 3 > /proc/sys/vm/drop_caches")
phase("stat", os.stat)
os.system("sync; echo 3 > /proc/sys/vm/drop_caches")
phase("read", read)
phase("delete", os.unlink)
PY
    rm -rf "$directory"
    mkdir -p "$directory"
    for index in $(seq 1 "$tree_dirs"); do
        mkdir "$directory/dir$index"
        (cd "$directory/dir$index" && touch $(seq -f "entry%g" 1 199) && mkdir sub)
    done
    local entries=$((tree_dirs * 200))
    drop_caches
    local start end
    start=$(date +%s.%N); find "$directory" > /dev/null; end=$(date +%s.%N)
    echo "$name find-$entries $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
    drop_caches
    start=$(date +%s.%N); ls -lR "$directory" > /dev/null; end=$(date +%s.%N)
    echo "$name ls-lR-$entries $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
    rm -rf "$directory"
}

# Small files through the client library as the CLI uses it: a tree of the same files copied in (create + write),
# copied out (lookup + read) and removed, one file after another.
library_small_files() {
    local tree="$work/library-tree" url="mortar://127.0.0.1:$port/bench/library-tree"
    rm -rf "$tree"; mkdir -p "$tree"
    python3 - "$tree" "$small_files" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
block = os.urandom(4096)
for index in range(100):
    os.mkdir(os.path.join(root, f"d{index:02}"))
for index in range(count):
    with open(os.path.join(root, f"d{index % 100:02}", f"f{index}"), "wb") as handle:
        handle.write(block)
PY
    local start end
    drop_caches
    start=$(date +%s.%N); "$mortar" cp -r "$tree" "$url"; end=$(date +%s.%N)
    echo "library small-create $(awk "BEGIN { printf \"%d\", $small_files / ($end - $start) }") files/s (mortar cp -r in)"
    rm -rf "$tree.back"
    drop_caches
    start=$(date +%s.%N); "$mortar" cp -r "$url" "$tree.back"; end=$(date +%s.%N)
    echo "library small-read $(awk "BEGIN { printf \"%d\", $small_files / ($end - $start) }") files/s (mortar cp -r out)"
    start=$(date +%s.%N); "$mortar" rm -r "$url"; end=$(date +%s.%N)
    echo "library small-delete $(awk "BEGIN { printf \"%d\", $small_files / ($end - $start) }") files/s (mortar rm -r)"
    rm -rf "$tree" "$tree.back"
}

{
    echo "# $(date -u +%FT%TZ) size=$size runtime=${runtime}s small_files=$small_files tree=$((tree_dirs * 200)) mount_options=${mount_options:-none}"
    fio_suite local "$work/local"
    fio_suite mount "$work/mnt"
    for target in ${TARGETS:-}; do fio_suite "$(basename "$target")" "$target"; done
    small_file_suite local "$work/local"
    small_file_suite mount "$work/mnt"
    for target in ${TARGETS:-}; do small_file_suite "$(basename "$target")" "$target"; done
    library_small_files
    drop_caches
    echo "# the client library (mortar bench; random workloads at queue depth 1 ≈ 1 job, 4 ≈ 4 jobs)"
    "$mortar" bench --volume "mortar://127.0.0.1:$port/bench" --local-directory "$work/local" \
        --size-mib "$(numfmt --from=iec "${size^^}" | awk '{print int($1 / 1048576)}')" --seconds "$runtime" \
        --sequential-window 1
} 2>&1 | tee "$results/summary.txt"
