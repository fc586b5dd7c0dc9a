#!/usr/bin/env bash
# scripts/bench-gfapi.sh — Mortar's libgfapi.so.0 drop-in against GlusterFS 10.3's real libgfapi, with the local
# disk as baseline, on this host over loopback. Not part of CI.
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/mortar/libgfapi.so.0 scripts/bench-gfapi.sh
#   QUICK=1 MORTAR_BINARY=… GFAPI_DIR=… scripts/bench-gfapi.sh        # ~15 min (full run: ~45 min)
#   scripts/bench-gfapi.sh --summarize /tmp/mortar-bench-gfapi/<run id> # rebuild results.json + summary.md
# Needs root and a free 127.0.0.1:24007. Knobs below (environment overrides them).
#
# What runs, per repetition (systems in turn, one at a time, order rotating; 127.0.0.1:24007 is never shared):
#   local      psync and libaio O_DIRECT on a plain directory on the same disk
#   mortar     `mortar up --bricks 1` (volume demo), fio through Mortar's library via LD_LIBRARY_PATH, `mortar down`
#   glusterfs  /work/shared/bench/gluster-setup.sh (volume gv1, 1 brick), fio through the system libgfapi, teardown
# fio jobs: the shared job files /work/shared/bench/fio/{seqwrite,seqread,randread,randwrite}.fio (1 MiB sequential
# write/read, 4 KiB random read/write), with bench/gfapi/sections.fio appended for gfapi_async and libaio at depth N.
# Cases per system: gfapi qd1, gfapi_async qd1, gfapi_async qd16 (local: psync qd1, libaio-direct qd1 and qd16);
# the page cache is dropped before every run and each run waits (bounded) for a quiet CPU first.
# Once per system: wall time of `qemu-img info gluster://127.0.0.1/VOL/img` (hyperfine, INFO_RUNS runs) and the peak
# RSS (/usr/bin/time -v) of that qemu-img and of short fio gfapi / gfapi_async jobs.
# Output: $RESULTS_DIR/<run id>/ with raw/ (every fio JSON + meta), results.json (every raw figure + medians) and
# summary.md (median [min–max] per figure, Mortar/GlusterFS and Mortar/local ratios), also printed to stdout.
set -euo pipefail

# ---- knobs -------------------------------------------------------------------------------------------------------
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then _size=256m _runtime=5 _reps=1 _quiet=30; else _size=1g _runtime=20 _reps=3 _quiet=120; fi
SIZE=${SIZE:-$_size}               # file size for every fio job (the shared files say 1g)
RUNTIME=${RUNTIME:-$_runtime}      # seconds per random (time-based) job (the shared files say 20)
REPS=${REPS:-$_reps}               # repetitions of the whole matrix
INFO_RUNS=${INFO_RUNS:-5}          # qemu-img info runs per system (median of these)
QUIET_PCT=${QUIET_PCT:-20}         # before each run wait until whole-machine CPU busy is below this (%),
QUIET_MAX=${QUIET_MAX:-$_quiet}    # but at most this many seconds
SYSTEMS=${SYSTEMS:-"local mortar glusterfs"}
DEPTH_HI=${DEPTH_HI:-16}
RESULTS_DIR=${RESULTS_DIR:-/tmp/mortar-bench-gfapi}
BENCH_ROOT=${BENCH_ROOT:-/srv/mortar-bench-gfapi}   # Mortar cluster + local baseline files; same disk as /srv/gbase
SHARED_BENCH=${SHARED_BENCH:-/work/shared/bench}
GLUSTER_PURGE=${GLUSTER_PURGE:-0}  # 1: the final teardown also deletes the GlusterFS volumes and /srv/gbase
# -------------------------------------------------------------------------------------------------------------------

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---- summary: results.json (every raw figure + medians) and summary.md ----------------------------------------------
summarize() {  # results dir
python3 - "$1" <<'PY' | tee "$1/summary.md"
import glob, json, os, statistics, sys

out = sys.argv[1]
meta = json.load(open(os.path.join(out, "meta.json")))
runs = []
for mp in sorted(glob.glob(os.path.join(out, "raw", "*", "rep*", "*.meta.json"))):
    m = json.load(open(mp))
    jp = mp[: -len(".meta.json")] + ".json"
    m["value"] = m["p50_us"] = m["p99_us"] = m["error"] = None
    seq = m["workload"].startswith("seq")
    m["unit"] = "MiB/s" if seq else "IOPS"
    try:
        j = json.load(open(jp))["jobs"][0]
        x = j["read"] if "read" in m["workload"] else j["write"]
        m["error"] = j["error"]
        if m["rc"] == 0 and j["error"] == 0:
            m["value"] = x["bw"] / 1024 if seq else x["iops"]
            pct = x.get("clat_ns", {}).get("percentile", {})
            m["p50_us"] = pct.get("50.000000", 0) / 1000
            m["p99_us"] = pct.get("99.000000", 0) / 1000
    except Exception as e:  # no or broken JSON: the run failed
        m["error"] = f"no fio result: {e}"
    m["fio_json"] = os.path.relpath(jp, out)
    runs.append(m)

def agg(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}

# figures: (workload, cluster engine, depth) rows; local baseline engine for the same row
local_for = {("gfapi", 1): ("psync", 1), ("gfapi_async", 1): ("libaio-direct", 1)}
depths = sorted({r["iodepth"] for r in runs} | {1})
hi = max(depths)
local_for[("gfapi_async", hi)] = ("libaio-direct", hi)
rows = []
for w in ["seqwrite", "seqread", "randread", "randwrite"]:
    for eng, d in [("gfapi", 1), ("gfapi_async", 1), ("gfapi_async", hi)]:
        le, ld = local_for[(eng, d)]
        cell = {}
        for sysname, e, dd in [("local", le, ld), ("glusterfs", eng, d), ("mortar", eng, d)]:
            sel = [r for r in runs if r["system"] == sysname and r["workload"] == w and r["engine"] == e and r["iodepth"] == dd]
            cell[sysname] = {"agg": agg([r["value"] for r in sel]), "runs": len(sel),
                             "failed": sum(1 for r in sel if r["value"] is None),
                             "busy_start": sum(1 for r in sel if r["gate_busy_pct"] >= meta["quiet_pct"]),
                             "p99_us": agg([r["p99_us"] for r in sel]), "engine": e, "iodepth": dd,
                             "wall_s": agg([r["wall_s"] for r in sel])}
        rows.append({"workload": w, "engine": eng, "iodepth": d, "cells": cell})

def hyper(sysname):
    p = os.path.join(out, "raw", sysname, "qemu-img-info.hyperfine.json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))["results"][0]
    return {"times_s": r["times"], "median_s": r["median"], "min_s": r["min"], "max_s": r["max"], "n": len(r["times"])}

def rss(sysname):
    res = {}
    for p in sorted(glob.glob(os.path.join(out, "raw", sysname, "rss.*.txt"))):
        prog = os.path.basename(p)[4:-4]
        for line in open(p):
            if "Maximum resident set size" in line:
                res[prog] = int(line.split(":")[1])
            if "Exit status" in line:
                res[prog + ".exit_status"] = int(line.split(":")[1])
    return res

systems = ["local", "glusterfs", "mortar"]
result = {"meta": meta, "fio_runs": runs, "fio_summary": rows,
          "qemu_img_info": {s: hyper(s) for s in systems}, "peak_rss_kb": {s: rss(s) for s in systems}}
json.dump(result, open(os.path.join(out, "results.json"), "w"), indent=1)

def fmt(a, unit):
    if a is None:
        return "—"
    f = (lambda v: f"{v:,.0f}") if (unit == "IOPS" or a["median"] >= 100) else (lambda v: f"{v:,.1f}")
    return f"{f(a['median'])}" if a["n"] == 1 else f"{f(a['median'])} [{f(a['min'])}–{f(a['max'])}]"

def ratio(a, b):
    if a is None or b is None or not b["median"]:
        return "—"
    return f"{a['median'] / b['median']:.2f}"

print(f"# Mortar libgfapi drop-in vs GlusterFS 10.3 vs local disk — run {meta['runid']}\n")
print(f"fio {meta['fio']}, SIZE={meta['size']}, RUNTIME={meta['runtime_s']} s (random jobs), REPS={meta['reps']}"
      f"{' (QUICK)' if meta['quick'] else ''}; one-brick volumes (Mortar `up --bricks 1`, GlusterFS gv1); "
      f"{meta['nproc']} CPUs, kernel {meta['kernel']}.")
if "mortar_libgfapi_mtime" in meta:
    print(f"Mortar library {meta['mortar_libgfapi']} ({meta['mortar_libgfapi_mtime'][:19]}, sha256 {meta['mortar_libgfapi_sha256']}…).")
print("\nCells: median [min–max] over the repetitions; sequential rows in MiB/s, random rows in IOPS. "
      "Local baseline for each row: gfapi qd1 ↔ psync (buffered), gfapi_async ↔ libaio O_DIRECT at the same depth. "
      "A dash means no successful run.\n")
print("| workload | engine | qd | local | GlusterFS | Mortar | Mortar/GlusterFS | Mortar/local | p99 µs GlusterFS / Mortar |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    c = r["cells"]; unit = "MiB/s" if r["workload"].startswith("seq") else "IOPS"
    fails = [f"{s} {c[s]['failed']}/{c[s]['runs']} failed" for s in systems if c[s]["failed"]]
    p99 = lambda s: "—" if c[s]["p99_us"] is None else f"{c[s]['p99_us']['median']:,.0f}"
    note = f" ⚠ {', '.join(fails)}" if fails else ""
    busy = lambda s: " †" if c[s]["busy_start"] else ""
    print(f"| {r['workload']} ({unit}) | {r['engine']} | {r['iodepth']} | {fmt(c['local']['agg'], unit)}{busy('local')} ({c['local']['engine']}) "
          f"| {fmt(c['glusterfs']['agg'], unit)}{busy('glusterfs')} | {fmt(c['mortar']['agg'], unit)}{busy('mortar')}{note} "
          f"| {ratio(c['mortar']['agg'], c['glusterfs']['agg'])} | {ratio(c['mortar']['agg'], c['local']['agg'])} "
          f"| {p99('glusterfs')} / {p99('mortar')} |")

nbusy = sum(1 for r in runs if r["gate_busy_pct"] >= meta["quiet_pct"])
if nbusy:
    print(f"\n† {nbusy} of {len(runs)} runs started although the machine was still busy (CPU ≥ {meta['quiet_pct']} % "
          f"after waiting {meta['quiet_max_s']} s for it to calm down): another workload shared the CPUs; "
          "their figures are likely low (gate_busy_pct per run in results.json).")
print("\n## Client costs\n")
print("| figure | local file | GlusterFS | Mortar | Mortar/GlusterFS |")
print("|---|---|---|---|---|")
h = {s: result["qemu_img_info"][s] for s in systems}
def hs(x):
    return "—" if x is None else f"{x['median_s'] * 1000:,.0f} ms [{x['min_s'] * 1000:,.0f}–{x['max_s'] * 1000:,.0f}] (n={x['n']})"
hr = "—" if not (h["mortar"] and h["glusterfs"]) else f"{h['mortar']['median_s'] / h['glusterfs']['median_s']:.3f}"
print(f"| `qemu-img info` wall time, median [min–max] | {hs(h['local'])} | {hs(h['glusterfs'])} | {hs(h['mortar'])} | {hr} |")
R = result["peak_rss_kb"]
for prog, label in [("qemu-img-info", "peak RSS `qemu-img info`"), ("fio-gfapi", "peak RSS fio gfapi qd1, 3 s randread (local: psync)"),
                    ("fio-gfapi_async", f"peak RSS fio gfapi_async qd{hi}, 3 s randread (local: libaio)")]:
    v = {s: R[s].get(prog) for s in systems}
    bad = [s for s in systems if R[s].get(prog + ".exit_status", 0) != 0]
    cells = [("—" if v[s] is None else f"{v[s] / 1024:,.1f} MiB") + (" (exit≠0)" if s in bad else "") for s in systems]
    rr = "—" if not (v["mortar"] and v["glusterfs"]) else f"{v['mortar'] / v['glusterfs']:.2f}"
    print(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {rr} |")
walls = [(r["workload"], r["engine"], r["iodepth"], r["cells"]) for r in rows if r["workload"] == "randread"]
print("\nfio process wall time (connect + 2 s sleep + run + teardown), randread, median s: " + "; ".join(
    f"{e} qd{d}: GlusterFS {c['glusterfs']['wall_s']['median'] if c['glusterfs']['wall_s'] else '—'}, "
    f"Mortar {c['mortar']['wall_s']['median'] if c['mortar']['wall_s'] else '—'}" for _, e, d, c in walls))
print(f"\nRaw figures: {os.path.join(out, 'results.json')}; fio JSON per run under {os.path.join(out, 'raw')}.")
PY
}

# scripts/bench-gfapi.sh --summarize RESULTS/<run id>: rebuild results.json and summary.md from the raw files
if [ "${1:-}" = --summarize ]; then
    [ -f "${2:-}/meta.json" ] || { echo "bench-gfapi: --summarize needs a run directory (with meta.json)" >&2; exit 2; }
    summarize "$2"
    exit 0
fi
RUNID=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS_DIR/$RUNID
GHOST=127.0.0.1
SYS_LIBDIR=/usr/lib/x86_64-linux-gnu
WORKLOADS=(seqwrite seqread randread randwrite)
mkdir -p "$OUT/raw" "$OUT/jobs"
LOG=$OUT/run.log
log() { echo "$(date +%T) $*" | tee -a "$LOG"; }
die() { log "bench-gfapi: FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (drop_caches, GlusterFS, bricks with trusted.* xattrs)"
for s in $SYSTEMS; do
    case "$s" in local | mortar | glusterfs) ;; *) die "unknown system '$s' in SYSTEMS" ;; esac
done
if [[ " $SYSTEMS " == *" mortar "* ]]; then
    : "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"
    : "${GFAPI_DIR:?set GFAPI_DIR to the directory with Mortar libgfapi.so.0}"
    [ -x "$MORTAR_BINARY" ] || die "MORTAR_BINARY=$MORTAR_BINARY is not executable"
    [ -f "$GFAPI_DIR/libgfapi.so.0" ] || die "no libgfapi.so.0 in GFAPI_DIR=$GFAPI_DIR"
fi
missing=()
for p in fio qemu-utils qemu-block-extra hyperfine time jq python3 glusterfs-server glusterfs-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOG" 2>&1 || die "apt-get install ${missing[*]} failed"
fi
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
if [[ " $SYSTEMS " == *" mortar "* || " $SYSTEMS " == *" glusterfs "* ]] && port_busy 24007; then
    die "127.0.0.1:24007 is in use (glusterd or a mortar daemon): stop it first; this script starts each system itself"
fi

# ---- state and cleanup ---------------------------------------------------------------------------------------------
MORTAR_UP=0 GLUSTER_UP=0
MDIR=$BENCH_ROOT/mortar LDIR=$BENCH_ROOT/local
mortar_down() {
    [ "$MORTAR_UP" = 1 ] || return 0
    if [ -s "$MDIR/daemon.pid" ]; then    # only the daemon this script started
        timeout -k 10 90 "$MORTAR_BINARY" down --dir "$MDIR" >>"$LOG" 2>&1 || log "WARNING: mortar down failed"
    fi
    MORTAR_UP=0
    local p
    for p in $(ps -eo pid=,args= | awk -v d="$MDIR" 'index($0, d) && !/awk/ { print $1 }'); do
        log "WARNING: killing leftover mortar process $p: $(ps -o args= -p "$p")"; kill -KILL "$p" 2>/dev/null || true
    done
}
gluster_down() {
    [ "$GLUSTER_UP" = 1 ] || return 0
    rm -f /mnt/gv1/bench-*.dat /mnt/gv1/bench-info.qcow2 2>/dev/null || true
    "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || log "WARNING: gluster-teardown.sh failed"
    GLUSTER_UP=0
}
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    mortar_down
    gluster_down
    if [ "$GLUSTER_PURGE" = 1 ] && [[ " $SYSTEMS " == *" glusterfs "* ]]; then
        PURGE=1 "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || log "WARNING: gluster-teardown.sh (PURGE=1) failed"
    fi
    rm -rf "$BENCH_ROOT"
    [ "$rc" = 0 ] || echo "bench-gfapi: stopped with status $rc; partial results in $OUT" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- job files: the shared ones with SIZE/RUNTIME, plus the extra sections -----------------------------------------
for w in "${WORKLOADS[@]}"; do
    src=$SHARED_BENCH/fio/$w.fio
    [ -f "$src" ] || die "missing $src"
    {
        echo "; rendered by scripts/bench-gfapi.sh from $src (size=$SIZE; runtime=$RUNTIME for time-based jobs)"
        if grep -q '^time_based=1' "$src"; then
            sed -e "s/^size=.*/size=$SIZE/" -e "s/^runtime=.*/runtime=$RUNTIME/" "$src"
        else
            sed -e "s/^size=.*/size=$SIZE/" "$src"
        fi
        echo
        cat "$REPO/bench/gfapi/sections.fio"
    } >"$OUT/jobs/$w.fio"
done

# ---- measuring helpers ---------------------------------------------------------------------------------------------
cpu_busy_1s() {  # whole-machine busy % over one second
    local a b
    a=$(awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat); sleep 1
    b=$(awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; if (dt <= 0) dt = 1;
        printf "%d", 100 * (dt - (y[2] - x[2])) / dt }'
}
GATE_BUSY=0 GATE_WAIT=0
quiet_gate() {
    local t0=$SECONDS busy
    while :; do
        busy=$(cpu_busy_1s)
        [ "$busy" -lt "$QUIET_PCT" ] && break
        [ $((SECONDS - t0)) -ge "$QUIET_MAX" ] && break
        sleep 2
    done
    GATE_BUSY=$busy GATE_WAIT=$((SECONDS - t0))
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Removes the fio file before a sequential write, so every write run allocates a new file (as gluster-fio.sh does).
remove_file() {  # system
    case "$1" in
        local) rm -f "$LDIR/bench-local.dat" ;;
        mortar) timeout 30 "$MORTAR_BINARY" rm "mortar://$GHOST/demo/bench-gfapi.dat" >>"$LOG" 2>&1 || true ;;
        glusterfs) rm -f /mnt/gv1/bench-gfapi.dat ;;
    esac
}

# run_case <system> <rep> <workload> <engine> <depth>
run_case() {
    local sys=$1 rep=$2 w=$3 engine=$4 depth=$5 section lib vol
    case "$engine" in
        gfapi) section=gfapi ;; gfapi_async) section=gfapi-async ;;
        psync) section=psync ;;
        libaio-direct) if [ "$depth" = 1 ]; then section=libaio-direct; else section=libaio-direct-qd; fi ;;
    esac
    case "$sys" in
        mortar) lib=$GFAPI_DIR vol=demo ;;
        glusterfs) lib=$SYS_LIBDIR vol=gv1 ;;
        local) lib=$SYS_LIBDIR vol=none ;;
    esac
    local name="$w.$engine.qd$depth" dir=$OUT/raw/$sys/rep$rep
    mkdir -p "$dir"
    [ "$w" = seqwrite ] && remove_file "$sys"
    drop_caches
    quiet_gate
    local t0 rc=0 limit=$((150 + 3 * RUNTIME))
    t0=$(date +%s.%N)
    env LD_LIBRARY_PATH="$lib" NUMJOBS=1 IODEPTH="$depth" GVOL="$vol" GHOST="$GHOST" GFILE=bench-gfapi.dat \
        PFILE="$LDIR/bench-local.dat" timeout -k 10 "$limit" \
        fio --section="$section" --output-format=json --output="$dir/$name.json" "$OUT/jobs/$w.fio" \
        >"$dir/$name.stderr" 2>&1 || rc=$?
    local wall
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    printf '{"system":"%s","rep":%d,"workload":"%s","engine":"%s","iodepth":%d,"rc":%d,"wall_s":%s,"gate_busy_pct":%d,"gate_wait_s":%d}\n' \
        "$sys" "$rep" "$w" "$engine" "$depth" "$rc" "$wall" "$GATE_BUSY" "$GATE_WAIT" >"$dir/$name.meta.json"
    local fig
    fig=$(jq -r --arg w "$w" '.jobs[0] as $j | (if ($w | test("read")) then $j.read else $j.write end) as $x
        | if ($w | startswith("seq")) then "\($x.bw / 1024 | floor) MiB/s" else "\($x.iops | floor) IOPS" end
          + " error=\($j.error)"' "$dir/$name.json" 2>/dev/null || echo "no result")
    log "rep $rep $sys $name: rc=$rc $fig wall=${wall}s gate=${GATE_BUSY}%/${GATE_WAIT}s"
}

run_matrix() {  # system rep
    local sys=$1 rep=$2 cfg engine depth w
    local configs
    if [ "$sys" = local ]; then configs="psync:1 libaio-direct:1 libaio-direct:$DEPTH_HI"
    else configs="gfapi:1 gfapi_async:1 gfapi_async:$DEPTH_HI"; fi
    for cfg in $configs; do
        engine=${cfg%%:*} depth=${cfg##*:}
        for w in "${WORKLOADS[@]}"; do run_case "$sys" "$rep" "$w" "$engine" "$depth"; done
    done
}

# qemu-img info wall time (hyperfine) and peak RSS of the client programs, once per system.
client_costs() {  # system
    local sys=$1 lib url dir
    dir=$OUT/raw/$sys
    mkdir -p "$dir"
    case "$sys" in
        mortar) lib=$GFAPI_DIR url=gluster://$GHOST/demo/bench-info.qcow2 ;;
        glusterfs) lib=$SYS_LIBDIR url=gluster://$GHOST/gv1/bench-info.qcow2 ;;
        local) lib=$SYS_LIBDIR url=$LDIR/bench-info.qcow2 ;;
    esac
    if ! env LD_LIBRARY_PATH="$lib" timeout 180 qemu-img create -q -f qcow2 "$url" 1G >>"$LOG" 2>&1; then
        log "WARNING: $sys: qemu-img create $url failed; no qemu-img figures"
        return 0
    fi
    quiet_gate
    if hyperfine --runs "$INFO_RUNS" --style basic --export-json "$dir/qemu-img-info.hyperfine.json" \
        -n "$sys qemu-img info" "env LD_LIBRARY_PATH=$lib qemu-img info $url" >>"$LOG" 2>&1; then
        log "$sys: qemu-img info median $(jq -r '.results[0].median | . * 1000 | floor' "$dir/qemu-img-info.hyperfine.json") ms over $INFO_RUNS runs"
    else
        log "WARNING: $sys: qemu-img info $url failed under hyperfine (see run.log)"
    fi
    # (env execs the program, so /usr/bin/time's child is the client itself)
    timeout 180 /usr/bin/time -v -o "$dir/rss.qemu-img-info.txt" env LD_LIBRARY_PATH="$lib" qemu-img info "$url" >/dev/null 2>>"$LOG" \
        || log "WARNING: $sys: qemu-img info under /usr/bin/time failed"
    local engine depth args
    for engine in gfapi gfapi_async; do
        depth=1; [ "$engine" = gfapi_async ] && depth=$DEPTH_HI
        if [ "$sys" = local ]; then
            args=(--ioengine="$([ "$engine" = gfapi ] && echo psync || echo libaio)" --direct="$([ "$engine" = gfapi ] && echo 0 || echo 1)"
                  --filename="$LDIR/bench-rss.dat")
        else
            args=(--ioengine="$engine" --volume="$([ "$sys" = mortar ] && echo demo || echo gv1)" --brick="$GHOST" --filename=bench-rss.dat)
        fi
        timeout 180 /usr/bin/time -v -o "$dir/rss.fio-$engine.txt" env LD_LIBRARY_PATH="$lib" fio --name=rss "${args[@]}" \
            --iodepth="$depth" --rw=randread --bs=4k --size=64m --time_based=1 --runtime=3 \
            --output-format=json --output="$dir/rss.fio-$engine.json" >/dev/null 2>>"$LOG" \
            || log "WARNING: $sys: fio $engine under /usr/bin/time failed"
    done
    log "$sys: peak RSS kB: $(for f in "$dir"/rss.*.txt; do printf '%s=%s ' "$(basename "$f" .txt)" "$(awk -F': ' '/Maximum resident/ { print $2 }' "$f")"; done)"
}

system_up() {
    case "$1" in
        local) mkdir -p "$LDIR" ;;
        mortar)
            port_busy 24007 && die "127.0.0.1:24007 busy before mortar up"
            mkdir -p "$MDIR"
            MORTAR_UP=1
            timeout -k 10 90 "$MORTAR_BINARY" up --dir "$MDIR" --bricks 1 >"$OUT/mortar-up.log" 2>&1 || { cat "$OUT/mortar-up.log" >>"$LOG"; die "mortar up failed (see $LOG)"; }
            cat "$OUT/mortar-up.log" >>"$LOG"
            if grep -q 'already answers' "$OUT/mortar-up.log"; then
                MORTAR_UP=0; die "another mortar daemon took 127.0.0.1:24007 meanwhile; not benchmarking (or stopping) it"
            fi ;;
        glusterfs)
            port_busy 24007 && die "127.0.0.1:24007 busy before gluster-setup.sh"
            GLUSTER_UP=1
            "$SHARED_BENCH/gluster-setup.sh" >>"$LOG" 2>&1 || die "gluster-setup.sh failed (see $LOG)" ;;
    esac
}
system_down() {
    case "$1" in
        mortar) mortar_down ;;
        glusterfs) gluster_down ;;
        local) rm -f "$LDIR"/bench-*.dat "$LDIR"/bench-info.qcow2 ;;
    esac
    port_busy 24007 && die "127.0.0.1:24007 still busy after stopping $1"
    return 0
}

# ---- run -----------------------------------------------------------------------------------------------------------
{
    echo "{"
    echo "\"runid\": \"$RUNID\", \"quick\": $QUICK, \"size\": \"$SIZE\", \"runtime_s\": $RUNTIME, \"reps\": $REPS,"
    echo "\"info_runs\": $INFO_RUNS, \"quiet_pct\": $QUIET_PCT, \"quiet_max_s\": $QUIET_MAX, \"systems\": \"$SYSTEMS\","
    echo "\"nproc\": $(nproc), \"kernel\": \"$(uname -r)\", \"fio\": \"$(fio --version)\","
    echo "\"qemu\": \"$(qemu-img --version | head -1)\", \"glusterfs\": \"$(glusterfs --version 2>/dev/null | head -1)\","
    if [[ " $SYSTEMS " == *" mortar "* ]]; then
        echo "\"mortar_binary\": \"$MORTAR_BINARY\", \"mortar_mtime\": \"$(stat -c %y "$MORTAR_BINARY")\","
        echo "\"mortar_libgfapi\": \"$(readlink -f "$GFAPI_DIR/libgfapi.so.0")\", \"mortar_libgfapi_mtime\": \"$(stat -c %y "$GFAPI_DIR/libgfapi.so.0")\","
        echo "\"mortar_libgfapi_sha256\": \"$(sha256sum "$GFAPI_DIR/libgfapi.so.0" | cut -c1-16)\","
    fi
    echo "\"disk\": \"$(findmnt -no SOURCE,FSTYPE,OPTIONS --target "$(dirname "$BENCH_ROOT")" | tr -s ' ')\""
    echo "}"
} >"$OUT/meta.json"
log "bench-gfapi run $RUNID: systems [$SYSTEMS], SIZE=$SIZE RUNTIME=${RUNTIME}s REPS=$REPS QUICK=$QUICK -> $OUT"
T0=$SECONDS
read -r -a SYSLIST <<<"$SYSTEMS"
for rep in $(seq 1 "$REPS"); do
    # the order of the systems rotates from one repetition to the next, so order effects (page cache refill after
    # drop_caches, a neighbour's load) do not always hit the same system
    order=()
    for i in "${!SYSLIST[@]}"; do order+=("${SYSLIST[$(((i + rep - 1) % ${#SYSLIST[@]}))]}"); done
    for sys in "${order[@]}"; do
        log "== rep $rep: $sys"
        system_up "$sys"
        run_matrix "$sys" "$rep"
        [ "$rep" = 1 ] && client_costs "$sys"
        system_down "$sys"
    done
done
log "measurements done in $((SECONDS - T0)) s; summarising"

summarize "$OUT"
log "summary: $OUT/summary.md; all figures: $OUT/results.json"
