#!/usr/bin/env bash
# scripts/bench-replication.sh — the replication benchmark: Mortar replica 3 against a Mortar one-brick volume and
# against GlusterFS 10.3 (gv1 and gv3 replica 3), all bricks on the same disk of this host, over loopback, through
# libgfapi (Mortar's drop-in via LD_LIBRARY_PATH, GlusterFS's own library). Not part of CI.
#
#   QUICK=1 bash scripts/bench-replication.sh          # small sizes, 1 repetition: ~7 min on a quiet 2-CPU VM,
#                                                      # ~15 min when the quiet-CPU gate keeps waiting
#   bash scripts/bench-replication.sh                  # full: 1 GiB sequential, 20 s random, 3 repetitions (medians)
#   SYSTEMS="mortar1 mortar3" QUICK=1 bash scripts/bench-replication.sh   # any subset, in that order
#   bash scripts/bench-replication.sh --summarize /tmp/mortar-bench-replication/<run id>   # redo the tables
# Needs root (drop_caches, trusted.* xattrs, GlusterFS), a free 127.0.0.1:24007 for GlusterFS and a free
# MORTAR_PORT. Binaries (build them first, as scripts/bench-gfapi.sh expects too):
#   flock /tmp/mortar-build.lock swift build -c release --product mortar   →  MORTAR_BINARY (.build/release/mortar)
#   make gfapi   (takes /tmp/mortar-build.lock itself)                    →  GFAPI_DIR (.build-gfapi/lib)
#
# Systems (SYSTEMS, default all four; they run one after the other, never together, order rotating per rep):
#   mortar1   a private `mortar daemon` on 127.0.0.1:MORTAR_PORT (not glusterd's 24007), volume r1 = one brick
#   mortar3   the same daemon setup, volume r3 = `replica 3` over three brick directories on this disk (--force)
#   gluster1  /work/shared/bench/gluster-setup.sh, volume gv1 (one brick); gluster-teardown.sh afterwards
#   gluster3  the same, volume gv3 (replica 3, three bricks under /srv/gbase on the same disk)
# The Mortar daemon runs MORTAR_BINARY, and starts its bricks with that same (release) executable.
#
# Per system and repetition (page cache dropped and a bounded wait for a quiet CPU before every fio run):
#   throughput  the shared job files /work/shared/bench/fio/{seqwrite,seqread,randwrite}.fio (+ bench/gfapi/
#               sections.fio for gfapi_async): 1 MiB sequential write (fresh file, end_fsync) and read of SIZE,
#               4 KiB random write for RUNTIME s (end_fsync) — gfapi at qd1 and gfapi_async at qd DEPTH_HI (32).
# Replica-3 systems only (job file bench/replication/resilience.fio):
#   kill        4 KiB random writes at qd1 (gfapi) for KILL_RUNTIME s with every I/O's latency logged; KILL_AFTER s
#               after the first data reaches the bricks one brick process is SIGKILLed: for Mortar the file's
#               primary (role "primary", worst case: the client must go elsewhere) or another member
#               ("secondary"); for GlusterFS brick 1 ("primary") or brick 2 ("secondary") — AFR has no primary.
#               Figure: the longest single I/O (= how long the application waited for I/O to resume), fio errors.
#               Then back to full redundancy: Mortar restarts the brick itself and heals (we wait for in-sync);
#               GlusterFS needs `gluster volume start gv3 force`, then its self-heal (we wait for 0 heal entries).
#   heal        write a HEAL_SIZE file, SIGKILL a member that is not the file's primary (GlusterFS: brick 2),
#               overwrite HEAL_PCT % of the file in distinct random 1 MiB blocks, let the member back, time its heal.
#               Mortar's daemon restarts a killed brick after 200 ms, sooner than the overwrite finishes, so with
#               HEAL_HOLD=1 (default) the brick is killed again whenever it reappears until the overwrite is done
#               (a member down for the whole overwrite); HEAL_HOLD=0 kills it once. Figures: bytes healed (sum
#               over bricks of the growth of `bytesHealed` in `heal info --json`), seconds from the member's
#               `healing` to its `in-sync` (membership polled every 20 ms), MiB/s. GlusterFS has no healed-bytes
#               counter: its rate is bytes overwritten / (`start force` → `heal statistics heal-count` = 0 on
#               every brick, polled about twice a second).
#   After each kill and heal the three brick copies of the file are compared (md5) until they agree or
#   CONVERGE_TIMEOUT s pass: "replicas identical: yes (after N s)", N including the checksums themselves (about
#   1.4 s for three 256 MiB copies here) — a change its dying primary did not get
#   acknowledged may be on some copies only until it is settled.
#
# Output: RESULTS_DIR/<run id>/ with raw/ (fio JSON and latency logs, membership timelines, heal info snapshots,
# Mortar daemon and brick logs per system), meta.json (date, commit, machine), results.json and summary.md: the
# Markdown tables (figures, Mortar replica-3 / Mortar 1-brick, Mortar replica-3 / GlusterFS gv3, the issue's aims),
# also printed at the end. Everything the script starts is stopped on exit (trap), GlusterFS via its teardown script.
set -euo pipefail

# ---- knobs (environment overrides them) --------------------------------------------------------------------------
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then _size=256m _runtime=5 _reps=1 _quiet=15 _hsize=256m
else _size=1g _runtime=20 _reps=3 _quiet=120 _hsize=1g; fi
SIZE=${SIZE:-$_size}                 # sequential file size (shared job files say 1g)
RUNTIME=${RUNTIME:-$_runtime}        # seconds per random-write job (shared job files say 20)
REPS=${REPS:-$_reps}                 # repetitions; tables show the median [min–max]
DEPTH_HI=${DEPTH_HI:-32}             # gfapi_async queue depth
QUIET_PCT=${QUIET_PCT:-20}           # before each run wait until whole-machine CPU busy is below this (%),
QUIET_MAX=${QUIET_MAX:-$_quiet}      # but at most this many seconds
SYSTEMS=${SYSTEMS:-"mortar1 mortar3 gluster1 gluster3"}
KILL_ROLES=${KILL_ROLES:-"primary secondary"}
KILL_RUNTIME=${KILL_RUNTIME:-10}     # seconds of 4 KiB writes in the kill test
KILL_AFTER=${KILL_AFTER:-3}          # SIGKILL this many seconds after the first data reached a brick
KILL_SIZE=${KILL_SIZE:-256m}         # file the kill test writes into (sparse, random offsets)
HEAL_SIZE=${HEAL_SIZE:-$_hsize}      # file of the heal test
HEAL_PCT=${HEAL_PCT:-25}             # share of it overwritten while a member is down
HEAL_HOLD=${HEAL_HOLD:-1}            # Mortar: keep the killed brick down until the overwrite is done
RECOVER_TIMEOUT=${RECOVER_TIMEOUT:-300}   # longest wait for a member to be in sync again / for 0 heal entries
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-30}  # longest wait for the three copies of a file to agree after that
MORTAR_PORT=${MORTAR_PORT:-24317}    # the private Mortar daemon (glusterd keeps 24007)
MORTAR_BRICK_PORT_MIN=${MORTAR_BRICK_PORT_MIN:-24320}
RESULTS_DIR=${RESULTS_DIR:-/tmp/mortar-bench-replication}
BENCH_ROOT=${BENCH_ROOT:-/srv/mortar-bench-replication}   # Mortar bricks; same file system as /srv/gbase
SHARED_BENCH=${SHARED_BENCH:-/work/shared/bench}
GLUSTER_PURGE=${GLUSTER_PURGE:-auto} # 1: final teardown deletes gv1/gv3 and /srv/gbase (logs archived into the run
                                     # dir); auto: only if /srv/gbase did not exist before this run; 0: never
# -------------------------------------------------------------------------------------------------------------------

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MORTAR_BINARY=${MORTAR_BINARY:-$REPO/.build/release/mortar}
GFAPI_DIR=${GFAPI_DIR:-$REPO/.build-gfapi/lib}
# shellcheck source=scripts/bench-lib.sh
. "$REPO/scripts/bench-lib.sh"

# ---- summary: results.json and summary.md from the raw files -------------------------------------------------------
summarize() {  # run dir
python3 - "$1" <<'PY' | tee "$1/summary.md"
import glob, json, os, statistics, sys

out = sys.argv[1]
meta = json.load(open(os.path.join(out, "meta.json")))
SYS = ["mortar1", "mortar3", "gluster1", "gluster3"]
LABEL = {"mortar1": "Mortar 1-brick", "mortar3": "Mortar replica-3", "gluster1": "GlusterFS gv1", "gluster3": "GlusterFS gv3"}

def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None

def agg(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}

# -- throughput runs
runs = []
for mp in sorted(glob.glob(os.path.join(out, "raw", "*", "rep*", "tp-*.meta.json"))):
    m = load(mp)
    jp = mp[: -len(".meta.json")] + ".json"
    m["value"] = m["p99_us"] = None
    seq = m["workload"].startswith("seq")
    try:
        j = json.load(open(jp))["jobs"][0]
        x = j["read"] if "read" in m["workload"] else j["write"]
        m["error"] = j["error"]
        if m["rc"] == 0 and j["error"] == 0:
            m["value"] = x["bw"] / 1024 if seq else x["iops"]
            m["p99_us"] = x.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000
    except Exception as e:
        m["error"] = f"no fio result: {e}"
    m["fio_json"] = os.path.relpath(jp, out)
    runs.append(m)

ROWS = [("seqwrite", "gfapi", 1), ("seqread", "gfapi", 1), ("randwrite", "gfapi", 1),
        ("seqwrite", "gfapi_async", meta["depth_hi"]), ("seqread", "gfapi_async", meta["depth_hi"]),
        ("randwrite", "gfapi_async", meta["depth_hi"])]
rows = []
for w, e, d in ROWS:
    cells = {}
    for s in SYS:
        sel = [r for r in runs if r["system"] == s and r["workload"] == w and r["engine"] == e and r["iodepth"] == d]
        cells[s] = {"agg": agg([r["value"] for r in sel]), "runs": len(sel), "failed": sum(r["value"] is None for r in sel),
                    "busy": sum(r["gate_busy_pct"] >= meta["quiet_pct"] for r in sel),
                    "p99_us": agg([r["p99_us"] for r in sel])}
    rows.append({"workload": w, "engine": e, "iodepth": d, "unit": "MiB/s" if w.startswith("seq") else "IOPS", "cells": cells})

# -- kill tests
def timeline(path):
    """[(t, [[state per member] per set])] from a membership poll log ("t epoch:s,s,s ..." lines, changes only)."""
    res = []
    if not path or not os.path.exists(path):
        return res
    for line in open(path):
        parts = line.split()
        if len(parts) < 2:
            continue
        if parts[1].startswith("error"):
            res.append((float(parts[0]), None)); continue
        res.append((float(parts[0]), [p.split(":", 1)[1].split(",") for p in parts[1:]]))
    return res

def member_events(tl, member, after):
    """The member's state changes after `after` (the kill): when it first left in-sync, how many times it turned
    healing, when it was finally in sync again and when its last turn to healing before that began (a brick
    killed again, or back and healed with nothing to copy before the client wrote, turns healing more than once).
    Times in s after `after`; *_t are absolute."""
    trans, prev = [], None
    for t, sets in tl:
        if sets is None:
            continue
        st = sets[0][member]
        if st != prev:
            trans.append((t, st)); prev = st
    post = [(t, st) for t, st in trans if t >= after]
    left = next((t for t, st in post if st != "in-sync"), None)
    back = post[-1][0] if left is not None and post[-1][1] == "in-sync" and post[-1][0] > left else None
    starts = [t for t, st in post if st == "healing" and (back is None or t < back)]
    healing = starts[-1] if starts and back is not None else None
    rel = lambda x: None if x is None else x - after
    return {"left_s": rel(left), "healing_s": rel(healing), "in_sync_s": rel(back), "healing_t": healing,
            "in_sync_t": back, "heal_cycles": len(starts)}

kills = []
for mp in sorted(glob.glob(os.path.join(out, "raw", "*", "rep*", "kill-*.meta.json"))):
    m = load(mp)
    base = mp[: -len(".meta.json")]
    j = load(base + ".json")
    m["stall_s"] = m["errors"] = m["iops"] = m["stall_at_s"] = m["ios_over_1s"] = m["ios_over_100ms"] = None
    if j:
        job = j["jobs"][0]
        m["errors"] = job.get("total_err", job.get("error"))
        m["iops"] = job["write"]["iops"]
        m["stall_s"] = job["write"]["lat_ns"]["max"] / 1e9
    lat = base + "_lat.1.log"
    if os.path.exists(lat):
        best = (0, 0); n1 = n100 = 0
        for line in open(lat):
            f = line.split(",")
            if len(f) < 2:
                continue
            t, v = int(f[0]), int(f[1])
            n1 += v > 1e9; n100 += v > 1e8
            if v > best[1]:
                best = (t, v)
        m["ios_over_1s"], m["ios_over_100ms"] = n1, n100
        m["stall_at_s"] = (best[0] - best[1] / 1e6) / 1000   # when the longest I/O began, s after fio's start
        if m["stall_s"] is None and best[1]:
            m["stall_s"] = best[1] / 1e9
    if not m.get("killed"):
        m["stall_s"] = None
    if m["system"] == "mortar3" and m.get("killed"):
        m.update(member_events(timeline(base + ".members.log"), m["victim"], m["t_kill"]))
    kills.append(m)

# -- heal tests
heals = []
for mp in sorted(glob.glob(os.path.join(out, "raw", "*", "rep*", "heal.meta.json"))):
    m = load(mp)
    d = os.path.dirname(mp)
    m["heal_s"] = m["bytes_healed"] = m["rate_mib_s"] = m["recorded_bytes"] = None
    if not m.get("killed"):
        pass   # the test did not get as far as the kill (see its note)
    elif m["system"] == "mortar3":
        before, after, pending = load(os.path.join(d, "heal-before.json")), load(os.path.join(d, "heal-after.json")), load(os.path.join(d, "heal-pending.json"))
        if before is not None and after is not None:
            b = {x["brick"]: x["bytesHealed"] for x in before}
            total = 0
            for x in after:   # a brick that restarted counts from 0 again
                a0 = b.get(x["brick"], 0)
                total += x["bytesHealed"] - a0 if x["bytesHealed"] >= a0 else x["bytesHealed"]
            m["bytes_healed"] = total
        if pending is not None:
            # every in-sync member records the same changes for the member: the largest record is what it missed
            rec = [p for x in pending for p in x["pending"] if p["member"] == m["victim"]]
            m["recorded_bytes"] = max((p["bytes"] for p in rec), default=0)
            m["recorded_files"] = max((p["files"] for p in rec), default=0)
        ev = member_events(timeline(os.path.join(d, "heal.members.log")), m["victim"], m["t_kill"])
        m.update({k: ev[k] for k in ("left_s", "healing_s", "in_sync_s", "heal_cycles")})
        # bytes the last heal copied: growth of bytesHealed from the snapshot taken just before the brick was let
        # back (heal-pending.json) to the end
        if pending is not None and after is not None:
            b = {x["brick"]: x["bytesHealed"] for x in pending}
            m["bytes_last_heal"] = sum(x["bytesHealed"] - b.get(x["brick"], 0) if x["bytesHealed"] >= b.get(x["brick"], 0)
                                       else x["bytesHealed"] for x in after)
        else:
            m["bytes_last_heal"] = m["bytes_healed"]
        if ev["in_sync_t"] is not None:
            if ev["healing_t"] is not None:
                m["heal_s"] = ev["in_sync_t"] - ev["healing_t"]
            else:   # never seen healing: faster than the poll; bound it by the release of the brick
                m["heal_s"] = ev["in_sync_t"] - (m.get("t_hold_end") or m["t_kill"])
                m["heal_s_is_upper_bound"] = True
        if m["heal_s"] and m["bytes_last_heal"] is not None:
            m["rate_mib_s"] = m["bytes_last_heal"] / 2**20 / m["heal_s"]
    else:
        if m.get("t_healed") and m.get("t_restart"):
            m["heal_s"] = m["t_healed"] - m["t_restart"]
            m["rate_mib_s"] = m["overwrite_bytes"] / 2**20 / m["heal_s"] if m["heal_s"] > 0 else None
    heals.append(m)

json.dump({"meta": meta, "throughput_runs": runs, "throughput": rows, "kills": kills, "heals": heals},
          open(os.path.join(out, "results.json"), "w"), indent=1)

# -- Markdown
def num(v, unit=None, digits=None):
    if v is None:
        return "—"
    if digits is not None:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}" if (unit == "IOPS" or abs(v) >= 100) else f"{v:,.1f}"

def cell(a, unit=None, digits=None):
    if a is None:
        return "—"
    s = num(a["median"], unit, digits)
    return s if a["n"] == 1 else f"{s} [{num(a['min'], unit, digits)}–{num(a['max'], unit, digits)}]"

def ratio(a, b):
    if a is None or b is None or not b["median"]:
        return None
    return a["median"] / b["median"]

rs = lambda r: "—" if r is None else f"{r:.2f}"
print(f"# Replication benchmark — Mortar replica 3 vs 1 brick vs GlusterFS 10.3 — run {meta['runid']}\n")
print(f"{meta['date']}; commit {meta['commit']}{' (+ uncommitted changes in the work tree)' if meta['dirty'] else ''}; "
      f"{meta['cpu']} × {meta['nproc']}, {meta['mem']}, kernel {meta['kernel']}, disk {meta['disk']}; fio {meta['fio']}, "
      f"{meta['glusterfs']}. Systems: {meta['systems']}.")
if meta.get("mortar_built_before_head"):
    print(f"⚠ The mortar binary ({meta.get('mortar_mtime', '?')[:19]}) or libgfapi.so.0 ({meta.get('mortar_libgfapi_mtime', '?')[:19]}) "
          f"is older than commit {meta['commit']}: these figures may not include that commit's changes.")
print(f"SIZE={meta['size']}, RUNTIME={meta['runtime_s']} s, REPS={meta['reps']}{' (QUICK)' if meta['quick'] else ''}; "
      f"kill test {meta['kill_runtime_s']} s of 4 KiB writes, SIGKILL {meta['kill_after_s']} s in; heal test "
      f"{meta['heal_size']} file, {meta['heal_pct']} % overwritten, HEAL_HOLD={meta['heal_hold']}. "
      f"Load average when the run started: {meta['loadavg']}.")
print("\nAll bricks of all systems on the same disk of one host, over loopback; client = fio through libgfapi. "
      "The machine is shared (other engineers run builds and tests on its CPUs): figures are noisy — compare the "
      "ratios, and read † marks.\n")
print("## Throughput\n")
print("Median [min–max] over the repetitions; sequential rows in MiB/s, random rows in IOPS.\n")
print("| workload | engine | qd | Mortar 1-brick | Mortar replica-3 | GlusterFS gv1 | GlusterFS gv3 | M-r3 / M-1 | M-r3 / G-gv3 | G-gv3 / G-gv1 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    c = r["cells"]
    def cl(s):
        x = c[s]
        t = cell(x["agg"], r["unit"])
        if x["failed"]:
            t += f" ⚠ {x['failed']}/{x['runs']} failed"
        if x["busy"]:
            t += " †"
        return t
    print(f"| {r['workload']} {'1 MiB' if r['workload'].startswith('seq') else '4 KiB'} ({r['unit']}) | {r['engine']} | {r['iodepth']} | "
          f"{cl('mortar1')} | {cl('mortar3')} | {cl('gluster1')} | {cl('gluster3')} | "
          f"{rs(ratio(c['mortar3']['agg'], c['mortar1']['agg']))} | {rs(ratio(c['mortar3']['agg'], c['gluster3']['agg']))} | "
          f"{rs(ratio(c['gluster3']['agg'], c['gluster1']['agg']))} |")
nbusy = sum(r["gate_busy_pct"] >= meta["quiet_pct"] for r in runs)
if nbusy:
    print(f"\n† {nbusy} of {len(runs)} runs started while the CPUs were still busy (≥ {meta['quiet_pct']} % after waiting "
          f"{meta['quiet_max_s']} s): their figures are likely low.")

def roles():
    return [r for r in ["primary", "secondary"] if any(k["role"] == r for k in kills)] + sorted({k["role"] for k in kills} - {"primary", "secondary"})

if kills:
    print("\n## I/O resuming after a brick is SIGKILLed (replica 3, 4 KiB writes at qd1)\n")
    print("Stall = the longest single write of the job (fio latency max; every I/O is logged), i.e. how long the "
          "application waited for I/O to resume. Mortar's victim is the file's primary or another member; GlusterFS's is "
          "brick 1 or brick 2 (AFR writes to all bricks itself). Median [min–max] over the repetitions.\n")
    print("| figure | role | Mortar replica-3 | GlusterFS gv3 | Mortar / GlusterFS |")
    print("|---|---|---|---|---|")
    for role in roles():
        ks = {s: [k for k in kills if k["system"] == s and k["role"] == role] for s in ("mortar3", "gluster3")}
        def kc(s, key, digits=None, scale=1):
            vals = [None if k.get(key) is None else k[key] * scale for k in ks[s]]
            return agg(vals)
        st = {s: kc(s, "stall_s") for s in ks}
        notk = {s: sum(1 for k in ks[s] if not k.get("killed")) for s in ks}
        def stc(s):
            t = cell(st[s], digits=3)
            if notk[s]:
                t += f" ⚠ {notk[s]} run(s) without a kill ({'; '.join(k.get('note', '') for k in ks[s] if not k.get('killed'))})"
            died = [k for k in ks[s] if k.get("killed") and k.get("fio_rc", 0) >= 128]
            if died:
                t += " ⚠ " + "; ".join(k.get("note") or f"fio rc {k['fio_rc']}" for k in died)
            timeouts = sum(1 for k in ks[s] if k.get("fio_rc") == 124)
            if timeouts:
                t += f" ⚠ fio killed by its timeout in {timeouts} run(s): the stall is at least the time to the timeout"
            return t
        print(f"| stall: longest write (s) | {role} | {stc('mortar3')} | {stc('gluster3')} | {rs(ratio(st['mortar3'], st['gluster3']))} |")
        print(f"| writes slower than 1 s / 100 ms | {role} | "
              + " | ".join("—" if not ks[s] else ", ".join("—" if k.get("ios_over_1s") is None else f"{k['ios_over_1s']} / {k['ios_over_100ms']}" for k in ks[s]) for s in ks) + " | |")
        print(f"| failed writes (fio total_err) | {role} | "
              + " | ".join("—" if not ks[s] else ", ".join("—" if k.get("errors") is None else str(k["errors"]) for k in ks[s]) for s in ks) + " | |")
        it = {s: kc(s, "iops") for s in ks}
        print(f"| IOPS over the whole job | {role} | {cell(it['mortar3'], 'IOPS')} | {cell(it['gluster3'], 'IOPS')} | {rs(ratio(it['mortar3'], it['gluster3']))} |")
        mk = ks["mortar3"]
        if mk:
            ev = "; ".join(
                ("member %s: " % k.get("victim")) + (
                    "never left in-sync (brick back before the manager noticed)" if k.get("left_s") is None else
                    f"out at +{k['left_s']:.2f} s, healing +{num(k.get('healing_s'), digits=2)} s, in-sync +{num(k.get('in_sync_s'), digits=2)} s"
                    + ("" if k.get("heal_cycles", 1) <= 1 else f" ({k['heal_cycles']} heals)"))
                for k in mk)
            print(f"| Mortar membership after the kill | {role} | {ev} | | |")
        gk = ks["gluster3"]
        if gk:
            print(f"| back to 0 heal entries after `start force` (s) | {role} | (automatic: see the row above) | "
                  + ", ".join(num(None if not (k.get("t_healed") and k.get("t_restart")) else k["t_healed"] - k["t_restart"], digits=1) for k in gk) + " | |")
        ident = {s: ", ".join(k.get("identical", "—") for k in ks[s]) or "—" for s in ks}
        print(f"| replica copies identical afterwards | {role} | {ident['mortar3']} | {ident['gluster3']} | |")

if heals:
    print("\n## Heal after a member missed writes\n")
    hs = {s: [h for h in heals if h["system"] == s] for s in ("mortar3", "gluster3")}
    def hc(s, key, scale=1):
        return agg([None if h.get(key) is None else h[key] * scale for h in hs[s]])
    print("| figure | Mortar replica-3 | GlusterFS gv3 | Mortar / GlusterFS |")
    print("|---|---|---|---|")
    print(f"| file, overwritten while the member was down (MiB) | "
          + " | ".join("—" if not hs[s] else f"{hs[s][0]['file_bytes'] / 2**20:,.0f}, {hs[s][0]['overwrite_bytes'] / 2**20:,.0f}" for s in hs) + " | |")
    print(f"| overwrite throughput with a member down (MiB/s) | {cell(hc('mortar3', 'overwrite_mib_s'))} | {cell(hc('gluster3', 'overwrite_mib_s'))} | {rs(ratio(hc('mortar3', 'overwrite_mib_s'), hc('gluster3', 'overwrite_mib_s')))} |")
    print(f"| recorded for the member before it returned (MiB, files) | "
          + ("—" if not hs["mortar3"] else ", ".join("—" if h.get("recorded_bytes") is None else f"{h['recorded_bytes'] / 2**20:,.1f} MiB in {h['recorded_files']} file(s)" for h in hs["mortar3"]))
          + " | (not reported by GlusterFS) | |")
    print(f"| bytes healed (MiB; Mortar: Σ bytesHealed growth over the test / in the last heal) | "
          f"{cell(hc('mortar3', 'bytes_healed', 1 / 2**20))} / {cell(hc('mortar3', 'bytes_last_heal', 1 / 2**20))} | (no counter) | |")
    hsm, hsg = hc("mortar3", "heal_s"), hc("gluster3", "heal_s")
    ub = any(h.get("heal_s_is_upper_bound") for h in hs["mortar3"])
    print(f"| heal time (s): Mortar last healing → in-sync (polled every 20 ms); GlusterFS start force → 0 entries (polled ~2/s) | {cell(hsm, digits=2)}{' (upper bound: healing never seen by the poll)' if ub else ''} | {cell(hsg, digits=1)} | {rs(ratio(hsm, hsg))} |")
    rm, rg = hc("mortar3", "rate_mib_s"), hc("gluster3", "rate_mib_s")
    print(f"| heal throughput (MiB/s; Mortar: bytes of the last heal / its time; GlusterFS: overwritten bytes / heal time) | {cell(rm)} | {cell(rg)} | {rs(ratio(rm, rg))} |")
    if hs["mortar3"]:
        print("| Mortar membership of the member | " + "; ".join(
            f"out +{num(h.get('left_s'), digits=2)} s, last healing +{num(h.get('healing_s'), digits=2)} s, in-sync +{num(h.get('in_sync_s'), digits=2)} s "
            f"after the first kill; {h.get('heal_cycles')} heal(s) in all; brick let back at +{num(None if not h.get('t_hold_end') else h['t_hold_end'] - h['t_kill'], digits=2)} s"
            for h in hs["mortar3"] if h.get("killed")) + " | | |")
    print("| replica copies identical afterwards | " + " | ".join(", ".join(h.get("identical", "—") for h in hs[s]) or "—" for s in hs) + " | |")
    for s in hs:
        for h in hs[s]:
            if h.get("note"):
                print(f"\n⚠ {LABEL[s]} rep {h['rep']}: {h['note']}")

print("\n## The issue's aims\n")
wr = [r for r in rows if "write" in r["workload"]]
def verdict(v, ok):
    return "—" if v is None else ("✓" if ok(v) else "✗")
print("| aim | figures | met |")
print("|---|---|---|")
rr = [(f"{r['workload']} {r['engine']} qd{r['iodepth']}", ratio(r["cells"]["mortar3"]["agg"], r["cells"]["mortar1"]["agg"])) for r in wr]
have = [v for _, v in rr if v is not None]
print(f"| replica-3 writes ≥ 0.7 × single-brick | " + "; ".join(f"{n}: {rs(v)}" for n, v in rr)
      + f" | {'—' if not have else ('✓' if all(v >= 0.7 for v in have) else '✗ ' + ', '.join(n for n, v in rr if v is not None and v < 0.7))} |")
rg3 = [(f"{r['workload']} {r['engine']} qd{r['iodepth']}", ratio(r["cells"]["mortar3"]["agg"], r["cells"]["gluster3"]["agg"])) for r in rows]
have = [v for _, v in rg3 if v is not None]
print(f"| ahead of GlusterFS replica 3 on every workload | " + "; ".join(f"{n}: {rs(v)}" for n, v in rg3)
      + f" | {'—' if not have else ('✓' if all(v > 1 for v in have) else '✗ ' + ', '.join(n for n, v in rg3 if v is not None and v <= 1))} |")
ms = [k for k in kills if k["system"] == "mortar3"]
stalls = [k["stall_s"] for k in ms if k.get("stall_s") is not None]
print(f"| I/O resumes in under 5 s after a brick is killed | Mortar longest stall {num(max(stalls), digits=3) if stalls else '—'} s over {len(stalls)} kill(s)"
      f"{' (' + str(len(ms) - len(stalls)) + ' without a figure)' if len(ms) != len(stalls) else ''}; GlusterFS {num(max([k['stall_s'] for k in kills if k['system'] == 'gluster3' and k.get('stall_s') is not None], default=None), digits=3)} s"
      f" | {'—' if not stalls else ('✓' if max(stalls) < 5 and len(stalls) == len(ms) else '✗')} |")
print(f"\nRaw figures: {os.path.join(out, 'results.json')}; fio JSON, latency logs, membership timelines and logs under {os.path.join(out, 'raw')}.")
PY
}

if [ "${1:-}" = --summarize ]; then
    [ -f "${2:-}/meta.json" ] || { echo "bench-replication: --summarize needs a run directory (with meta.json)" >&2; exit 2; }
    summarize "$2"
    exit 0
fi

RUNID=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS_DIR/$RUNID
GHOST=127.0.0.1
SYS_LIBDIR=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT/raw" "$OUT/jobs"
LOG=$OUT/run.log
log() { echo "$(date +%T) $*" | tee -a "$LOG" >&2; }
die() { log "bench-replication: FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (drop_caches, GlusterFS, bricks with trusted.* xattrs)"
for s in $SYSTEMS; do
    case "$s" in mortar1 | mortar3 | gluster1 | gluster3) ;; *) die "unknown system '$s' in SYSTEMS (mortar1 mortar3 gluster1 gluster3)" ;; esac
done
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
if has mortar1 || has mortar3; then
    [ -x "$MORTAR_BINARY" ] || die "no mortar executable at MORTAR_BINARY=$MORTAR_BINARY (build it: see the header)"
    [ -f "$GFAPI_DIR/libgfapi.so.0" ] || die "no libgfapi.so.0 in GFAPI_DIR=$GFAPI_DIR (make gfapi)"
    port_busy "$MORTAR_PORT" && die "127.0.0.1:$MORTAR_PORT is in use; set MORTAR_PORT"
fi
missing=()
for p in fio jq python3 curl attr glusterfs-server glusterfs-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOG" 2>&1 || die "apt-get install ${missing[*]} failed"
fi
if (has gluster1 || has gluster3) && port_busy 24007; then
    die "127.0.0.1:24007 is in use (a glusterd or a mortar daemon): GlusterFS needs it"
fi
to_bytes() {  # 256m / 1g / 4096 → bytes
    local v=${1,,} n
    n=${v%[kmg]}
    case "$v" in *k) echo $((n << 10)) ;; *m) echo $((n << 20)) ;; *g) echo $((n << 30)) ;; *) echo "$n" ;; esac
}
HEAL_BYTES=$(to_bytes "$HEAL_SIZE")
OVERWRITE_BYTES=$(((HEAL_BYTES * HEAL_PCT / 100) >> 20 << 20))
[ "$OVERWRITE_BYTES" -gt 0 ] || die "HEAL_SIZE × HEAL_PCT is under 1 MiB"
GBASE_EXISTED=0; [ -d /srv/gbase ] && GBASE_EXISTED=1

# shellcheck source=scripts/bench-systems.sh
. "$REPO/scripts/bench-systems.sh"

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    local running p
    running=" $(jobs -p | tr '\n' ' ') "   # only helpers still running (a reaped pid may belong to someone else now)
    for p in "${BG_PIDS[@]}"; do [[ "$running" == *" $p "* ]] && stop_bg "$p"; done
    mortar_down
    gluster_down
    if has gluster1 || has gluster3; then
        if [ "$GLUSTER_PURGE" = 1 ] || { [ "$GLUSTER_PURGE" = auto ] && [ "$GBASE_EXISTED" = 0 ]; }; then
            RESULTS=$OUT PURGE=1 "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || log "WARNING: gluster-teardown.sh (PURGE=1) failed"
        fi
    fi
    rmdir "$BENCH_ROOT" 2>/dev/null
    [ "$rc" = 0 ] || echo "bench-replication: stopped with status $rc; partial results in $OUT (bash $0 --summarize $OUT)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- job files -----------------------------------------------------------------------------------------------------
for w in seqwrite seqread randwrite; do
    src=$SHARED_BENCH/fio/$w.fio
    [ -f "$src" ] || die "missing $src"
    {
        echo "; rendered by scripts/bench-replication.sh from $src (size=$SIZE; runtime=$RUNTIME for time-based jobs)"
        if grep -q '^time_based=1' "$src"; then
            sed -e "s/^size=.*/size=$SIZE/" -e "s/^runtime=.*/runtime=$RUNTIME/" "$src"
        else
            sed -e "s/^size=.*/size=$SIZE/" "$src"
        fi
        echo
        cat "$REPO/bench/gfapi/sections.fio"
    } >"$OUT/jobs/$w.fio"
done
cp "$REPO/bench/replication/resilience.fio" "$OUT/jobs/"

# ---- throughput ----------------------------------------------------------------------------------------------------
run_case() {  # system rep workload engine depth
    local sys=$1 rep=$2 w=$3 engine=$4 depth=$5 section
    case "$engine" in gfapi) section=gfapi ;; gfapi_async) section=gfapi-async ;; esac
    local name="tp-$w.$engine.qd$depth" dir=$OUT/raw/$sys/rep$rep
    mkdir -p "$dir"
    [ "$w" = seqwrite ] && remove_file "$sys" bench-rep.dat
    drop_caches
    quiet_gate
    local t0 rc=0 limit=$((150 + 3 * RUNTIME))
    t0=$(now)
    env LD_LIBRARY_PATH="$(sys_lib "$sys")" NUMJOBS=1 IODEPTH="$depth" GVOL="$(sys_vol "$sys")" GHOST="$(sys_host "$sys")" \
        GFILE=bench-rep.dat PFILE=/nonexistent timeout -k 10 "$limit" \
        fio --section="$section" --output-format=json --output="$dir/$name.json" "$OUT/jobs/$w.fio" \
        >"$dir/$name.stderr" 2>&1 || rc=$?
    local wall
    wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    printf '{"system":"%s","rep":%d,"workload":"%s","engine":"%s","iodepth":%d,"rc":%d,"wall_s":%s,"gate_busy_pct":%d,"gate_wait_s":%d}\n' \
        "$sys" "$rep" "$w" "$engine" "$depth" "$rc" "$wall" "$GATE_BUSY" "$GATE_WAIT" >"$dir/$name.meta.json"
    log "rep $rep $sys $w $engine qd$depth: rc=$rc $(fio_figure "$dir/$name.json" "$w") wall=${wall}s gate=${GATE_BUSY}%/${GATE_WAIT}s"
    [ "$rc" = 0 ] || log "  fio stderr: $(tail -3 "$dir/$name.stderr" | tr '\n' ' ')"
}
run_matrix() {  # system rep
    local cfg
    for cfg in seqwrite:gfapi:1 seqread:gfapi:1 randwrite:gfapi:1 randwrite:gfapi_async:$DEPTH_HI \
        seqwrite:gfapi_async:$DEPTH_HI seqread:gfapi_async:$DEPTH_HI; do
        IFS=: read -r w e d <<<"$cfg"
        run_case "$1" "$2" "$w" "$e" "$d"
    done
    remove_file "$1" bench-rep.dat
}

# ---- failures: helpers ---------------------------------------------------------------------------------------------
# Records the replica sets' membership every 20 ms (a line per change: "epoch-seconds epoch:state,state,state").
start_member_poll() {  # output file; sets POLL_PID
    python3 - "http://127.0.0.1:$MORTAR_PORT/v1/volumes/$MVOL/membership" "$1" <<'PY' &
import json, sys, time, urllib.request
url, path = sys.argv[1], sys.argv[2]
last = None
with open(path, "w") as f:
    while True:
        try:
            sets = json.load(urllib.request.urlopen(url, timeout=2))
            s = " ".join(f"{v['epoch']}:{','.join(v['members'])}" for v in sets)
        except Exception as e:
            s = f"error:{type(e).__name__}"
        if s != last:
            f.write(f"{time.time():.3f} {s}\n"); f.flush(); last = s
        time.sleep(0.02)
PY
    POLL_PID=$!
    BG_PIDS+=("$POLL_PID")
}
# The member that is primary for FILE (rendezvous hash of its FileID, trusted.mortar.id on a brick copy, over the
# in-sync members: Sources/Replication/Membership/ReplicaSetView.swift primary(for:)/score).
mortar_primary_of() {  # path of a brick copy
    local members
    members=$(mortar_api "volumes/$MVOL/membership" | jq -r '[.[0].members | to_entries[] | select(.value == "in-sync") | .key] | join(",")')
    python3 - "$1" "$members" <<'PY'
import os, sys
M = (1 << 64) - 1
def score(high, low, member):
    v = high ^ ((low * 0x9E3779B97F4A7C15) & M) ^ ((member * 0xD1B54A32D192ED03) & M)
    v = ((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) & M
    v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) & M
    return v ^ (v >> 31)
b = os.getxattr(sys.argv[1], "trusted.mortar.id")
high, low = int.from_bytes(b[:8], "big"), int.from_bytes(b[8:], "big")
print(max((int(m) for m in sys.argv[2].split(",")), key=lambda m: score(high, low, m)))
PY
}
victim_of() {  # system role file → member index
    local sys=$1 role=$2 file=$3 p
    if [ "$sys" = gluster3 ]; then
        [ "$role" = primary ] && echo 0 || echo 1
        return
    fi
    p=$(mortar_primary_of "$BENCH_ROOT/mortar3/b1/$file" 2>/dev/null || mortar_primary_of "$BENCH_ROOT/mortar3/b2/$file" 2>/dev/null) \
        || log "WARNING: cannot tell the primary of $file (no brick copy with trusted.mortar.id); taking member 0 as primary"
    if [ "$role" = primary ]; then echo "$p"; else [ "$p" = 0 ] && echo 1 || echo 0; fi
}
brick_pid() {  # system member → pid of its brick process (empty if none)
    local sys=$1 m=$2
    if [ "$sys" = mortar3 ]; then
        mortar_api "volumes/$MVOL/status" | jq -r --argjson m "$m" '.bricks[$m].pid // empty'
    else
        timeout 60 gluster volume status gv3 --xml 2>/dev/null | python3 -c '
import sys, xml.etree.ElementTree as ET
want = sys.argv[1]
for n in ET.parse(sys.stdin).getroot().iter("node"):
    if n.findtext("path") == want and n.findtext("status") == "1" and n.findtext("pid") not in (None, "", "-1", "N/A"):
        print(n.findtext("pid"))' "/srv/gbase/gv3/b$((m + 1))"
    fi
}
# The daemon's child process that runs the member's brick (faster than asking the daemon: the heal test's kill
# loop must catch a restarted brick before it answers the manager).
mortar_child_brick() {  # member → pid
    local dir c
    dir=$(brick_dirs mortar3 | tr ' ' '\n' | sed -n "$(($1 + 1))p")
    for c in $(cat "/proc/$MDAEMON_PID/task/"*/children 2>/dev/null); do
        { tr '\0' ' ' <"/proc/$c/cmdline"; } 2>/dev/null | grep -q -- "--export $dir " && { echo "$c"; return 0; }
    done
    return 1
}
# SIGKILLs a brick process, after checking that the pid is that brick's (never a recycled pid).
kill_brick() {  # system member pid
    local sys=$1 m=$2 pid=$3 dir
    dir=$(brick_dirs "$sys" | tr ' ' '\n' | sed -n "$((m + 1))p")
    [ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$dir" || return 1
    kill -KILL "$pid"
}
# GlusterFS: heal entries per brick (Number of entries: N), summed; "busy" if a brick gives no number.
gluster_heal_count() {
    timeout 60 gluster volume heal gv3 statistics heal-count 2>&1 | awk '
        /^Number of entries:/ { n++; if ($4 ~ /^[0-9]+$/) s += $4; else bad = 1 }
        END { if (n != 3 || bad) print "busy"; else print s }'
}
# Waits (at most RECOVER_TIMEOUT) until every gv3 brick is online and has 0 heal entries; prints the time.
gluster_wait_healed() {  # timeline file
    local deadline=$((SECONDS + RECOVER_TIMEOUT)) c last=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        c=$(gluster_heal_count)
        [ "$c" != "$last" ] && echo "$(now) heal-count $c" >>"$1" && last=$c
        if [ "$c" = 0 ]; then now; return 0; fi
        sleep 0.3
    done
    return 1
}
# A change that was not acknowledged (its primary died with it) may be on some copies only until it is settled:
# Mortar's restarted primary reconciles it within about a second, GlusterFS's self-heal in its own time. So the
# copies are compared until they agree, for at most CONVERGE_TIMEOUT seconds, and the time that took is reported.
replicas_identical() {  # system file → "yes (after N s)" / "NO (md5 per copy)"
    local sums start i
    start=$(now)
    for i in $(seq 1 $((CONVERGE_TIMEOUT * 4))); do
        sums=$(for d in $(brick_dirs "$1"); do md5sum "$d/$2" 2>/dev/null | cut -c1-32 || echo missing; done | tr '\n' ' ')
        if [ "$(echo "$sums" | tr ' ' '\n' | grep -v '^$' | sort -u | wc -l)" = 1 ] && [[ "$sums" != *missing* ]]; then
            echo "yes (after $(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s)"
            return
        fi
        sleep 0.25
    done
    echo "NO ($sums)"
}
first_data() {  # system file fio_pid → waits until a brick copy has data blocks (or fio ended); 0 if so
    local i d b
    for i in $(seq 1 900); do
        for d in $(brick_dirs "$1"); do
            b=$(stat -c %b "$d/$2" 2>/dev/null || echo 0)
            [ "$b" -gt 0 ] && return 0
        done
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# Back to full redundancy after a kill: Mortar heals by itself; GlusterFS needs its brick restarted.
recover() {  # system timeline-file killed-pid → sets T_RESTART, T_RECOVERED
    T_RESTART="" T_RECOVERED=""
    if [ "$1" = gluster3 ]; then
        # glusterd restarts only bricks it thinks are dead: a SIGKILLed brick still exiting counts as running,
        # and `start force` would then leave it down (seen when fio died at once and start force came 50 ms later)
        local i st
        for i in $(seq 1 150); do
            st=$(awk '{ print $3 }' "/proc/$3/stat" 2>/dev/null) || st=""
            [ -z "$st" ] || [ "$st" = Z ] && break
            sleep 0.1
        done
    fi
    if [ "$1" = mortar3 ]; then
        T_RECOVERED=$(mortar_wait_healthy "$RECOVER_TIMEOUT") || { T_RECOVERED=""; log "WARNING: mortar3: not all bricks online and in sync $RECOVER_TIMEOUT s after the kill: $(mortar_api "volumes/$MVOL/status" | jq -c '[.replicaSets, [.bricks[].online]]')"; }
    else
        T_RESTART=$(now)
        timeout 120 gluster --mode=script volume start gv3 force >>"$LOG" 2>&1 || log "WARNING: gluster volume start gv3 force failed"
        local m up=0
        for i in $(seq 1 60); do
            up=1
            for m in 0 1 2; do [ -n "$(brick_pid gluster3 "$m" 2>/dev/null)" ] || up=0; done
            [ "$up" = 1 ] && break
            sleep 0.5
        done
        if [ "$up" = 0 ]; then
            log "WARNING: a gv3 brick is still offline 30 s after start force; start force again"
            echo "$(now) start force again: a brick still offline" >>"$2"
            timeout 120 gluster --mode=script volume start gv3 force >>"$LOG" 2>&1 || log "WARNING: gluster volume start gv3 force failed"
        fi
        T_RECOVERED=$(gluster_wait_healed "$2") || { T_RECOVERED=""; log "WARNING: gluster3: heal entries not 0 within $RECOVER_TIMEOUT s: $(timeout 60 gluster volume heal gv3 info 2>&1 | tr '\n' ' ')"; }
    fi
}
jnum() { [ -n "${1:-}" ] && echo "$1" || echo null; }

# ---- failures: I/O resume after a kill -----------------------------------------------------------------------------
kill_test() {  # system rep role
    local sys=$1 rep=$2 role=$3 dir=$OUT/raw/$1/rep$2 name=kill-$3 file=bench-rep-kill-$2-$3.dat
    mkdir -p "$dir"
    if [ "$sys" = mortar3 ]; then
        mortar_wait_healthy 60 >/dev/null || log "WARNING: $sys not healthy before the kill test: $(mortar_api "volumes/$MVOL/membership")"
    else
        gluster_wait_healed "$dir/$name.heal.log" >/dev/null || log "WARNING: gv3 has heal entries before the kill test"
    fi
    drop_caches
    quiet_gate
    POLL_PID=""
    [ "$sys" = mortar3 ] && start_member_poll "$dir/$name.members.log"
    local t_start t_data="" t_kill="" victim="" pid="" rc=0 killed=false note=""
    t_start=$(now)
    env LD_LIBRARY_PATH="$(sys_lib "$sys")" GVOL="$(sys_vol "$sys")" GHOST="$(sys_host "$sys")" GFILE="$file" \
        KSIZE="$KILL_SIZE" KRUNTIME="$KILL_RUNTIME" LATLOG="$dir/$name" HSIZE=1m HOVERWRITE=1m \
        timeout -k 10 $((KILL_RUNTIME + 150)) fio --section=kill-write --output-format=json --output="$dir/$name.json" \
        "$OUT/jobs/resilience.fio" >"$dir/$name.stderr" 2>&1 &
    local fio_pid=$!
    BG_PIDS+=("$fio_pid")
    if first_data "$sys" "$file" "$fio_pid"; then
        t_data=$(now)
        sleep "$KILL_AFTER"
        victim=$(victim_of "$sys" "$role" "$file")
        pid=$(brick_pid "$sys" "$victim") || pid=""
        if kill_brick "$sys" "$victim" "$pid"; then
            t_kill=$(now) killed=true
            log "rep $rep $sys kill ($role): SIGKILLed member $victim (pid $pid) $(awk -v a="$t_data" -v b="$t_kill" 'BEGIN { printf "%.2f", b - a }') s after the first data"
        else
            note="no brick process found for member $victim (pid '$pid')"
        fi
    else
        note="fio wrote nothing to a brick (ended or timed out first): $(tail -2 "$dir/$name.stderr" | tr '\n' ' ')"
    fi
    wait "$fio_pid" || rc=$?
    local t_end; t_end=$(now)
    [ -n "$note" ] && log "WARNING: rep $rep $sys kill ($role): $note"
    if [ "$rc" -ge 128 ] && [ "$rc" != 137 ]; then
        note="${note:+$note; }fio died of signal $((rc - 128)) (rc $rc): $(grep -h -i -E 'signal|error' "$dir/$name.stderr" | head -2 | tr '\n' ' ')"
        log "WARNING: rep $rep $sys kill ($role): $note"
    fi
    if [ "$killed" = true ]; then recover "$sys" "$dir/$name.heal.log" "$pid"; else T_RESTART="" T_RECOVERED=""; fi
    sleep 0.5
    stop_bg "$POLL_PID"
    local ident; ident=$(replicas_identical "$sys" "$file")
    cat >"$dir/$name.meta.json" <<EOF
{"system":"$sys","rep":$rep,"role":"$role","victim":$(jnum "$victim"),"pid":$(jnum "$pid"),"killed":$killed,
 "note":$(jq -Rn --arg n "$note" '$n'),"fio_rc":$rc,"t_start":$t_start,"t_data":$(jnum "$t_data"),"t_kill":$(jnum "$t_kill"),
 "t_end":$t_end,"t_restart":$(jnum "$T_RESTART"),"t_healed":$(jnum "$T_RECOVERED"),"identical":"$ident",
 "gate_busy_pct":$GATE_BUSY,"gate_wait_s":$GATE_WAIT}
EOF
    local fig
    fig=$(jq -r '.jobs[0] | "longest write \(.write.lat_ns.max / 1e9) s, \(.write.iops | floor) IOPS, errors \(.total_err)"' "$dir/$name.json" 2>/dev/null || echo "no fio result")
    local rec="—"
    if [ -n "$T_RECOVERED" ] && [ -n "$t_kill" ]; then
        if [ "$sys" = mortar3 ]; then rec="all in sync when checked after fio ended"
        else rec=$(awk -v a="$T_RESTART" -v b="$T_RECOVERED" 'BEGIN { printf "0 heal entries %.1f s after start force", b - a }'); fi
    fi
    log "rep $rep $sys kill ($role): fio rc=$rc: $fig; $rec; replicas identical: $ident"
    remove_file "$sys" "$file"
}

# ---- failures: heal ------------------------------------------------------------------------------------------------
heal_test() {  # system rep
    local sys=$1 rep=$2 dir=$OUT/raw/$1/rep$2 file=bench-rep-heal-$2.dat note=""
    mkdir -p "$dir"
    local envs=(LD_LIBRARY_PATH="$(sys_lib "$sys")" GVOL="$(sys_vol "$sys")" GHOST="$(sys_host "$sys")" GFILE="$file"
        KSIZE=1m KRUNTIME=1 LATLOG=/dev/null HSIZE="$HEAL_SIZE" HOVERWRITE="$OVERWRITE_BYTES")
    local rc=0
    env "${envs[@]}" timeout -k 10 600 fio --section=heal-fill --output-format=json --output="$dir/heal-fill.json" \
        "$OUT/jobs/resilience.fio" >"$dir/heal-fill.stderr" 2>&1 || rc=$?
    log "rep $rep $sys heal: filled $HEAL_SIZE: rc=$rc $(fio_figure "$dir/heal-fill.json" seqwrite)"
    if [ "$rc" != 0 ]; then
        # no file to overwrite: no heal figures (a heal of a file created during the outage is another test)
        note="filling the file failed (fio rc $rc: $(grep -h -v '^$' "$dir/heal-fill.stderr" | head -2 | tr '\n' ' '))"
        log "WARNING: rep $rep $sys heal: $note; heal test skipped"
        printf '{"system":"%s","rep":%d,"killed":false,"file_bytes":%d,"overwrite_bytes":%d,"note":%s}\n' "$sys" "$rep" \
            "$HEAL_BYTES" "$OVERWRITE_BYTES" "$(jq -Rn --arg n "$note" '$n')" >"$dir/heal.meta.json"
        remove_file "$sys" "$file"
        return 0
    fi
    if [ "$sys" = mortar3 ]; then
        mortar_wait_healthy 120 >/dev/null || log "WARNING: $sys not healthy before the heal test"
        sleep 1   # one heartbeat more, so the heal counters below are current
        mortar_api "volumes/$MVOL/heal" >"$dir/heal-before.json" || true
        start_member_poll "$dir/heal.members.log"
    else
        gluster_wait_healed "$dir/heal.heal.log" >/dev/null || log "WARNING: gv3 has heal entries before the heal test"
    fi
    drop_caches
    quiet_gate
    local victim pid t_kill="" hold_pid="" t_ow0 t_ow1 t_hold_end="" orc=0 killed=false
    victim=$(victim_of "$sys" secondary "$file")
    pid=$(brick_pid "$sys" "$victim") || pid=""
    if kill_brick "$sys" "$victim" "$pid"; then
        t_kill=$(now) killed=true
    else
        note="${note:+$note; }no brick process for member $victim (pid '$pid')"
    fi
    if [ "$sys" = mortar3 ] && [ "$HEAL_HOLD" = 1 ] && [ "$killed" = true ]; then
        ( while :; do
              p=$(mortar_child_brick "$victim") || p=""
              [ -n "$p" ] && kill_brick mortar3 "$victim" "$p" 2>/dev/null && echo "$(now) killed again: pid $p" >>"$dir/heal.hold.log"
              sleep 0.02
          done ) &
        hold_pid=$!
        BG_PIDS+=("$hold_pid")
        # Start writing once the manager has taken the member out (a client that opens a file while the namespace
        # primary is dead but still counted in sync waits for that), so every overwritten block is recorded for it.
        local i
        for i in $(seq 1 150); do
            [ "$(mortar_api "volumes/$MVOL/membership" | jq -r --argjson m "$victim" '.[0].members[$m]' 2>/dev/null)" = out-of-sync ] && break
            sleep 0.1
        done
    fi
    t_ow0=$(now)
    env "${envs[@]}" timeout -k 10 600 fio --section=heal-overwrite --output-format=json --output="$dir/heal-overwrite.json" \
        "$OUT/jobs/resilience.fio" >"$dir/heal-overwrite.stderr" 2>&1 || orc=$?
    t_ow1=$(now)
    log "rep $rep $sys heal: member $victim (pid $pid) killed, overwrote $((OVERWRITE_BYTES >> 20)) MiB: rc=$orc $(fio_figure "$dir/heal-overwrite.json" seqwrite)"
    [ "$orc" = 0 ] || note="${note:+$note; }the overwrite failed (rc $orc): $(tail -2 "$dir/heal-overwrite.stderr" | tr '\n' ' ')"
    if [ "$sys" = mortar3 ]; then
        sleep 0.6   # a heartbeat, so heal info shows what the others recorded for the member
        mortar_api "volumes/$MVOL/heal" >"$dir/heal-pending.json" || true
        [ -n "$hold_pid" ] && stop_bg "$hold_pid"
        t_hold_end=$(now)
        T_RECOVERED=$(mortar_wait_healthy "$RECOVER_TIMEOUT") || { T_RECOVERED=""; note="${note:+$note; }member $victim not in sync $RECOVER_TIMEOUT s after its brick was released: $(mortar_api "volumes/$MVOL/membership")"; }
        T_RESTART=""
        sleep 1.5  # three heartbeats: heal info is as of the manager's last one
        mortar_api "volumes/$MVOL/heal" >"$dir/heal-after.json" || true
        stop_bg "$POLL_PID"
    else
        recover "$sys" "$dir/heal.heal.log" "$pid"
        [ -n "$T_RECOVERED" ] || note="${note:+$note; }gv3 heal entries not 0 within $RECOVER_TIMEOUT s"
    fi
    local ident; ident=$(replicas_identical "$sys" "$file")
    local owrate
    owrate=$(jq -r '.jobs[0].write.bw / 1024' "$dir/heal-overwrite.json" 2>/dev/null) || owrate=""
    cat >"$dir/heal.meta.json" <<EOF
{"system":"$sys","rep":$rep,"victim":$(jnum "$victim"),"pid":$(jnum "$pid"),"killed":$killed,"hold":$HEAL_HOLD,
 "file_bytes":$HEAL_BYTES,"overwrite_bytes":$OVERWRITE_BYTES,"overwrite_rc":$orc,"overwrite_mib_s":$(jnum "$owrate"),
 "t_kill":$(jnum "$t_kill"),"t_overwrite_start":$t_ow0,"t_overwrite_end":$t_ow1,"t_hold_end":$(jnum "$t_hold_end"),
 "t_restart":$(jnum "$T_RESTART"),"t_healed":$(jnum "$T_RECOVERED"),"identical":"$ident","note":$(jq -Rn --arg n "$note" '$n')}
EOF
    [ -n "$note" ] && log "WARNING: rep $rep $sys heal: $note"
    if [ "$sys" = mortar3 ]; then
        log "rep $rep $sys heal: in sync again $( [ -n "$T_RECOVERED" ] && awk -v a="$t_hold_end" -v b="$T_RECOVERED" 'BEGIN { printf "%.2f s after the brick was released", b - a }' || echo never); bytesHealed $(jq '[.[].bytesHealed] | add' "$dir/heal-before.json" 2>/dev/null) → $(jq '[.[].bytesHealed] | add' "$dir/heal-after.json" 2>/dev/null); replicas identical: $ident"
    else
        log "rep $rep $sys heal: 0 entries $( [ -n "$T_RECOVERED" ] && awk -v a="$T_RESTART" -v b="$T_RECOVERED" 'BEGIN { printf "%.1f s after start force", b - a }' || echo never); replicas identical: $ident"
    fi
    remove_file "$sys" "$file"
}

# ---- run -----------------------------------------------------------------------------------------------------------
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=false; [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null | head -1)" ] && dirty=true
{
    echo "{"
    echo "\"runid\": \"$RUNID\", \"date\": \"$(date -u '+%Y-%m-%d %H:%M UTC')\", \"commit\": \"$commit\", \"dirty\": $dirty,"
    echo "\"quick\": $QUICK, \"size\": \"$SIZE\", \"runtime_s\": $RUNTIME, \"reps\": $REPS, \"depth_hi\": $DEPTH_HI,"
    echo "\"quiet_pct\": $QUIET_PCT, \"quiet_max_s\": $QUIET_MAX, \"systems\": \"$SYSTEMS\", \"kill_roles\": \"$KILL_ROLES\","
    echo "\"kill_runtime_s\": $KILL_RUNTIME, \"kill_after_s\": $KILL_AFTER, \"kill_size\": \"$KILL_SIZE\","
    echo "\"heal_size\": \"$HEAL_SIZE\", \"heal_pct\": $HEAL_PCT, \"heal_hold\": $HEAL_HOLD,"
    echo "\"nproc\": $(nproc), \"cpu\": $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | jq -R .),"
    echo "\"mem\": \"$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)\", \"kernel\": \"$(uname -r)\","
    echo "\"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"fio\": \"$(fio --version)\","
    echo "\"glusterfs\": \"$(glusterfs --version 2>/dev/null | head -1)\","
    if has mortar1 || has mortar3; then
        echo "\"mortar_binary\": \"$MORTAR_BINARY\", \"mortar_mtime\": \"$(stat -c %y "$MORTAR_BINARY")\","
        head_time=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)
        stale=false
        { [ "$(stat -c %Y "$MORTAR_BINARY")" -lt "$head_time" ] || [ "$(stat -c %Y "$GFAPI_DIR/libgfapi.so.0")" -lt "$head_time" ]; } && stale=true
        echo "\"mortar_built_before_head\": $stale,"
        echo "\"mortar_libgfapi\": \"$(readlink -f "$GFAPI_DIR/libgfapi.so.0")\", \"mortar_libgfapi_mtime\": \"$(stat -c %y "$GFAPI_DIR/libgfapi.so.0")\","
    fi
    echo "\"disk\": \"$(findmnt -no SOURCE,FSTYPE --target "$(dirname "$BENCH_ROOT")" | tr -s ' ')\""
    echo "}"
} >"$OUT/meta.json"
jq . "$OUT/meta.json" >/dev/null || die "meta.json is not valid JSON"
log "bench-replication run $RUNID: systems [$SYSTEMS], SIZE=$SIZE RUNTIME=${RUNTIME}s REPS=$REPS QUICK=$QUICK -> $OUT"
mkdir -p "$BENCH_ROOT"
T0=$SECONDS
read -r -a SYSLIST <<<"$SYSTEMS"
for rep in $(seq 1 "$REPS"); do
    order=()
    for i in "${!SYSLIST[@]}"; do order+=("${SYSLIST[$(((i + rep - 1) % ${#SYSLIST[@]}))]}"); done
    for sys in "${order[@]}"; do
        log "== rep $rep: $sys"
        system_up "$sys" "$rep"
        run_matrix "$sys" "$rep"
        if [ "$sys" = mortar3 ] || [ "$sys" = gluster3 ]; then
            for role in $KILL_ROLES; do kill_test "$sys" "$rep" "$role"; done
            heal_test "$sys" "$rep"
        fi
        system_down "$sys"
    done
done
log "measurements done in $((SECONDS - T0)) s; summarising"
summarize "$OUT"
log "summary: $OUT/summary.md; all figures: $OUT/results.json"
