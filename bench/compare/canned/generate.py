#!/usr/bin/env python3
"""Writes the canned run next to this script: meta.json and raw/<system>/rep{1,2}/ (format: ../FORMAT.md).

Run it again after changing the table below: python3 bench/compare/canned/generate.py
test_report.py checks the report against figures computed by hand from this table, so the numbers are round:

  fio (1 brick)           local        Mortar lib   Gluster lib  Mortar FUSE      Gluster FUSE
  seqwrite MiB/s  rep1/2  950/1050     900/1000     450/500      600/600          400/400
                  median  1000         950          475          600              400
  randread IOPS   rep1/2  20000/20000  3000/3000    4000/4000    2000/FAILED(rc1) 1000/1000
  → seqwrite: lib 950/475 = 2.00×, FUSE 600/400 = 1.50×, lib/local 950/1000 = 0.95× ▼, lib/FUSE 950/600 = 1.58×
  → randread: lib 3000/4000 = 0.75× ▼, FUSE 2000/1000 = 2.00× (the median of the one good rep), lib/local 0.15× ▼
  fio (replica 3): seqwrite library only, Mortar 600, GlusterFS 200 → 3.00×

  randread completion latency (µs, clat_ns percentiles in the fio JSON), p50 / p99 per rep:
    local 45/120, Mortar lib 300/600 and 320/700 → 310 [300–320] / 650 [600–700], Gluster lib 240/500,
    Mortar FUSE 480/1,200 (rep2 failed), Gluster FUSE 950/2,500
  → Mortar/GlusterFS library p50 310/240 = 1.29× ▼ (Mortar slower): aim 9 (≤ 0.6×) missed

  mortar1net (mortar1 with short-circuit local reads off): library seqwrite 900/1000 → 950, randread 1500
  (p50 620 µs), FUSE randread 1000 (p50 960 µs)
  → on/off: library seqwrite 950/950 = 1.00×, randread 3000/1500 = 2.00×, p50 620/310 = 2.00×;
    FUSE randread 2000/1000 = 2.00×, p50 960/480 = 2.00×; FUSE seqwrite has no off figure (–)

  small files (count 10000) and tree     local   Mortar lib  Gluster lib  Mortar FUSE  Gluster FUSE
  create seconds                          0.5     1.0         4.0          2.0          5.0
    → files/s 20000, 10000, 2500, 5000, 2000: lib 4.00×, FUSE 2.50× (< 3×: aim 5 missed)
  stat seconds (library only)             -       0.5         1.0          -            -      → 2.00×
  find seconds                            0.1     0.4         2.0          1.0          3.0    → lib 5.00×, FUSE 3.00×

  qemu-convert 1 GiB seconds: local 1, Mortar lib 2, Gluster lib 4, Mortar FUSE 4, Gluster FUSE 8
    → MiB/s 1024, 512, 256, 256, 128: 2.00× both
  qemu-info ms (hyperfine times): local 5, Mortar lib 11, Gluster lib 44, Mortar FUSE 20, Gluster FUSE 30
    → GlusterFS ms / Mortar ms: lib 4.00×, FUSE 1.50×

  qemu-img bench, 10,240 requests (4 KiB: 40 MiB, 64 KiB: 640 MiB), "Run completed in" seconds (rep1/rep2):
                   local   Mortar lib     Gluster lib  Mortar FUSE  Gluster FUSE
  read 4k qd1      0.512   2.048          4.096        4.096        10.24         → IOPS 20000, 5000, 2500, 2500, 1000
  read 64k qd16    0.640   0.625/0.640    1.280        1.280        2.560         → MiB/s 1000, 1012 [1000–1024], 500,
                                                                                    500, 250
  write 4k qd1     1.024   1.280          2.560        2.048        5.120/FAILED  → IOPS 10000, 8000, 4000, 5000, 2000
  write 64k qd16   0.800   0.800          1.600        1.280        2.560         → MiB/s 800, 800, 400, 500, 250
  → Mortar library/local: read 4k 0.25× ▼, read 64k 1.01×, write 4k 0.80× ▼, write 64k 1.00×: aim 8 (≥ 0.9×)
    missed on read 4k and write 4k; Mortar/GlusterFS library 2.00×, 2.02×, 2.00×, 2.00×
  replica 3, read 64k qd16 library only: Mortar 0.640 → 1000 MiB/s, GlusterFS 2.560 → 250 MiB/s → 4.00×

  client (5 instances)   connect+fini median rep1/rep2   first instance   per extra instance
  mortar1                29 / 39 → 34 [29–39] ms         20 MiB           4 MiB
    (connect rep1 20,21,24,25,60 + fini 5 → 25,26,29,30,65: median 29, not the mean 35; rep2 likewise 39)
  gluster1               220 / 220 ms                    40 MiB           30 MiB

  CPU per GiB (seqwrite library, 4 GiB moved per run): mortar1 client 2.0 s, 2.8 s → 0.50, 0.70 → median 0.60;
  server 1.0 s → 0.25; gluster1 client 8.0 s → 2.00, server 4.0 s → 1.00.
  fio peak RSS (library runs): mortar1 20, 20 MiB (seqwrite), 30, 60 MiB (randread) → median 25.0 MiB (mean would
  be 32.5); gluster1 100 MiB.

Two runs are deliberate failures (mortar1 rep2 FUSE randread: rc 1, empty output; gluster1 rep2 FUSE qemu-img
bench write 4k qd1: rc 1, qemu-img's error and no "Run completed") and one started on a busy machine (gluster1
rep2 library randread: gate_busy_pct 35 ≥ quiet_pct 20). Local rep1 randread's fio output starts with a warning
line before the JSON; the library qemu-img bench outputs start with a libgfapi log line.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 1 << 30
SEQ_BYTES = 4 * GIB

META = {"run_id": "canned", "mode": "quick", "date_utc": "2026-11-26T02:00:00Z", "commit": "abc1234",
        "machine": {"cpu": "AMD EPYC 7B13", "nproc": 2, "mem_kib": 24684084, "kernel": "6.18.44",
                    "disk": "/dev/vda ext4"},
        "software": {"fio": "fio-3.33", "glusterfs": "glusterfs 10.3", "qemu_img": "qemu-img version 7.2.9",
                     "hyperfine": "hyperfine 1.15.0"},
        "knobs": {"size": "4g", "runtime_s": 10, "small_files": 10000, "tree_entries": 20000, "image_size": "1g",
                  "qemu_bench_count": 10240},
        "systems": ["local", "mortar1", "mortar1net", "mortar3", "gluster1", "gluster3"], "reps": 2,
        "quiet_pct": 20}

# fio: (system, access, workload, engine, [value rep1, rep2], client_cpu_s per rep, server_cpu_s,
#       max_rss_kib (one for both reps or one per rep))
# value: MiB/s for seq, IOPS for rand; None = the failed run
FIO = [
    ("local", "local", "seqwrite", "psync", [950, 1050], [1.5, 1.5], None, 8192),
    ("local", "local", "randread", "psync", [20000, 20000], [1.0, 1.0], None, 8192),
    ("mortar1", "library", "seqwrite", "gfapi", [900, 1000], [2.0, 2.8], 1.0, 20480),
    ("mortar1", "library", "randread", "gfapi", [3000, 3000], [1.0, 1.0], 2.0, [30720, 61440]),
    ("mortar1", "fuse", "seqwrite", "psync", [600, 600], [1.0, 1.0], 3.0, 8192),
    ("mortar1", "fuse", "randread", "psync", [2000, None], [1.0, 1.0], 3.0, 8192),
    ("gluster1", "library", "seqwrite", "gfapi", [450, 500], [8.0, 8.0], 4.0, 102400),
    ("gluster1", "library", "randread", "gfapi", [4000, 4000], [2.0, 2.0], 5.0, 102400),
    ("gluster1", "fuse", "seqwrite", "psync", [400, 400], [1.0, 1.0], 6.0, 8192),
    ("gluster1", "fuse", "randread", "psync", [1000, 1000], [1.0, 1.0], 6.0, 8192),
    ("mortar1net", "library", "seqwrite", "gfapi", [900, 1000], [2.0, 2.0], 1.0, 20480),
    ("mortar1net", "library", "randread", "gfapi", [1500, 1500], [1.0, 1.0], 2.0, 20480),
    ("mortar1net", "fuse", "randread", "psync", [1000, 1000], [1.0, 1.0], 3.0, 8192),
    ("mortar3", "library", "seqwrite", "gfapi", [600, 600], [3.0, 3.0], 6.0, 40960),
    ("gluster3", "library", "seqwrite", "gfapi", [200, 200], [10.0, 10.0], 12.0, 112640),
]
# fio completion latency of the randread jobs: (system, access) → per rep (p50 µs, p99 µs)
LATENCY = {("local", "local"): [(45, 120), (45, 120)],
           ("mortar1", "library"): [(300, 600), (320, 700)],
           ("gluster1", "library"): [(240, 500), (240, 500)],
           ("mortar1", "fuse"): [(480, 1200), (480, 1200)],
           ("gluster1", "fuse"): [(950, 2500), (950, 2500)],
           ("mortar1net", "library"): [(620, 1000), (620, 1000)],
           ("mortar1net", "fuse"): [(960, 2000), (960, 2000)]}
# files / tree: (system, access, kind, op, seconds) — same in both reps
SMALL = [
    ("local", "local", "files", "create", 0.5), ("mortar1", "library", "files", "create", 1.0),
    ("gluster1", "library", "files", "create", 4.0), ("mortar1", "fuse", "files", "create", 2.0),
    ("gluster1", "fuse", "files", "create", 5.0),
    ("mortar1", "library", "files", "stat", 0.5), ("gluster1", "library", "files", "stat", 1.0),
    ("local", "local", "tree", "find", 0.1), ("mortar1", "library", "tree", "find", 0.4),
    ("gluster1", "library", "tree", "find", 2.0), ("mortar1", "fuse", "tree", "find", 1.0),
    ("gluster1", "fuse", "tree", "find", 3.0),
]
# qemu-img: (system, access, convert seconds, info ms)
QEMU = [("local", "local", 1.0, 5), ("mortar1", "library", 2.0, 11), ("gluster1", "library", 4.0, 44),
        ("mortar1", "fuse", 4.0, 20), ("gluster1", "fuse", 8.0, 30)]
# qemu-img bench: (system, access, op, block size, depth, [seconds rep1, rep2]); None = the failed run
QEMU_BENCH_COUNT = 10240
QEMU_BENCH = [
    ("local", "local", "read", 4096, 1, [0.512, 0.512]), ("mortar1", "library", "read", 4096, 1, [2.048, 2.048]),
    ("gluster1", "library", "read", 4096, 1, [4.096, 4.096]), ("mortar1", "fuse", "read", 4096, 1, [4.096, 4.096]),
    ("gluster1", "fuse", "read", 4096, 1, [10.24, 10.24]),
    ("local", "local", "read", 65536, 16, [0.640, 0.640]), ("mortar1", "library", "read", 65536, 16, [0.625, 0.640]),
    ("gluster1", "library", "read", 65536, 16, [1.280, 1.280]), ("mortar1", "fuse", "read", 65536, 16, [1.280, 1.280]),
    ("gluster1", "fuse", "read", 65536, 16, [2.560, 2.560]),
    ("local", "local", "write", 4096, 1, [1.024, 1.024]), ("mortar1", "library", "write", 4096, 1, [1.280, 1.280]),
    ("gluster1", "library", "write", 4096, 1, [2.560, 2.560]), ("mortar1", "fuse", "write", 4096, 1, [2.048, 2.048]),
    ("gluster1", "fuse", "write", 4096, 1, [5.120, None]),
    ("local", "local", "write", 65536, 16, [0.800, 0.800]), ("mortar1", "library", "write", 65536, 16, [0.800, 0.800]),
    ("gluster1", "library", "write", 65536, 16, [1.600, 1.600]),
    ("mortar1", "fuse", "write", 65536, 16, [1.280, 1.280]), ("gluster1", "fuse", "write", 65536, 16, [2.560, 2.560]),
    ("mortar3", "library", "read", 65536, 16, [0.640, 0.640]),
    ("gluster3", "library", "read", 65536, 16, [2.560, 2.560]),
]
# client: system → per rep (connect_ms list, fini_ms list), rss base/first/last KiB
CLIENT = {"mortar1": ([[20, 21, 24, 25, 60], [30, 31, 34, 35, 70]], [5] * 5, (10240, 30720, 47104)),
          "gluster1": ([[150, 160, 170, 180, 190], [150, 160, 170, 180, 190]], [50] * 5, (20480, 61440, 184320))}


def dump(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, separators=(",", ":"))


def write(system, rep, name, meta, output, out_name=None, prefix=""):
    rep_dir = os.path.join(HERE, "raw", system, f"rep{rep}")
    os.makedirs(rep_dir, exist_ok=True)
    out_name = out_name or name + ".json"
    busy = 35.0 if (system, rep, name) == ("gluster1", 2, "fio-library-randread-j1-qd1-gfapi") else 3.5
    dump(os.path.join(rep_dir, name + ".meta.json"),
         {**meta, "system": system, "rep": rep, "rc": meta.get("rc", 0), "gate_busy_pct": busy,
          "gate_wait_s": 60 if busy > 20 else 0, "output": out_name})
    if output is None:
        text = ""
    elif isinstance(output, str):  # a program that prints text (qemu-img bench)
        text = prefix + output
    else:
        text = prefix + json.dumps(output, separators=(",", ":"))
    with open(os.path.join(rep_dir, out_name), "w", encoding="utf-8") as f:
        f.write(text)


def fio_side(workload, value, active, latency_us=None):
    if not active:
        return {"io_bytes": 0, "bw": 0, "iops": 0.0, "clat_ns": {"percentile": {"99.000000": 0}}}
    if workload.startswith("seq"):
        bw, iops, moved, p50, p99 = value * 1024, float(value), SEQ_BYTES, 1_000_000, 2_000_000
    else:
        p50, p99 = (latency_us[0] * 1000, latency_us[1] * 1000) if latency_us else (500_000, 1_000_000)
        bw, iops, moved = value * 4, float(value), value * 4096 * 10
    # fio's percentile list (clat_percentiles=1 by default), ns
    percentile = {"1.000000": p50 // 4, "50.000000": p50, "90.000000": (p50 + p99) // 2, "99.000000": p99,
                  "99.900000": p99 * 2}
    return {"io_bytes": moved, "bw": bw, "iops": iops, "runtime": 10000,
            "clat_ns": {"mean": 1e9 / iops, "percentile": percentile}}


def fio_runs():
    for system, access, workload, engine, values, cpus, server, rss in FIO:
        name = f"fio-{access}-{workload}-j1-qd1-{engine}"
        rss_per_rep = rss if isinstance(rss, list) else [rss, rss]
        latencies = LATENCY.get((system, access), [None, None]) if workload.startswith("rand") else [None, None]
        for rep, (value, cpu, max_rss, latency) in enumerate(zip(values, cpus, rss_per_rep, latencies), start=1):
            meta = {"kind": "fio", "access": access, "workload": workload, "jobs": 1, "iodepth": 1, "engine": engine,
                    "client_cpu_s": cpu, "client_max_rss_kib": max_rss, "server_cpu_s": server, "rc": 0}
            out = None
            if value is None:
                meta["rc"] = 1
            else:
                writes = "write" in workload
                out = {"fio version": "fio-3.33", "jobs": [{"jobname": workload, "error": 0,
                                                            "read": fio_side(workload, value, not writes, latency),
                                                            "write": fio_side(workload, value, writes, latency)}]}
            prefix = ("note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be"
                      " capped at 1\n") if (system, workload, rep) == ("local", "randread", 1) else ""
            write(system, rep, name, meta, out, prefix=prefix)


def small_runs():
    for system, access, kind, op, seconds in SMALL:
        for rep in (1, 2):
            if kind == "files":
                meta, out = {"kind": kind, "access": access, "op": op, "count": 10000}, \
                    {"op": op, "count": 10000, "seconds": seconds, "errors": 0}
            else:
                meta, out = {"kind": kind, "access": access, "op": op, "entries": 20000}, \
                    {"op": op, "entries": 20000, "seconds": seconds}
            write(system, rep, f"{kind}-{access}-{op}", meta, out)


def qemu_runs():
    for system, access, convert_s, info_ms in QEMU:
        for rep in (1, 2):
            write(system, rep, f"qemu-convert-{access}", {"kind": "qemu-convert", "access": access, "bytes": GIB},
                  {"seconds": convert_s})
            # Mortar's library times are skewed (median 11 ms, mean 13.7 ms): the figure must be the median
            times = [info_ms / 1000] * 3 if info_ms != 11 else [0.010, 0.011, 0.020]
            write(system, rep, f"qemu-info-{access}", {"kind": "qemu-info", "access": access},
                  {"results": [{"command": f"qemu-img info {access}-image", "mean": sum(times) / 3,
                                "median": sorted(times)[1], "times": times}]},
                  out_name=f"qemu-info-{access}.hyperfine.json")


def qemu_bench_runs():
    """Outputs as qemu-img bench prints them; the library ones after a libgfapi log line, as qemu's gluster driver
    logs to stderr (which the driver keeps in the same file)."""
    for system, access, op, size, depth, seconds in QEMU_BENCH:
        name = f"{access}-qemu-bench-{op}-{size // 1024}k-qd{depth}"
        for rep, s in enumerate(seconds, start=1):
            meta = {"kind": "qemu-bench", "access": access, "op": op, "block_size": size, "iodepth": depth,
                    "count": QEMU_BENCH_COUNT, "rc": 0 if s is not None else 1}
            target = "gluster://127.0.0.1/gv1/compare.img" if access == "library" else f"/{access}/compare.img"
            if s is None:
                out = f"qemu-img: Could not open '{target}': Could not open '{target}': Invalid argument\n"
            else:
                out = (f"Sending {QEMU_BENCH_COUNT} {op} requests, {size} bytes each, {depth} in parallel"
                       f" (starting at offset 0, step size {size})\nRun completed in {s:.3f} seconds.\n")
            prefix = ("[2026-11-26 02:00:00.000000 +0000] I [io-stats.c:4038:fini] 0-gv1: io-stats translator"
                      " unloaded\n") if access == "library" else ""
            write(system, rep, name, meta, out, out_name=name + ".out", prefix=prefix)


def client_runs():
    for system, (connects, fini, (base, first, last)) in CLIENT.items():
        for rep, connect in enumerate(connects, start=1):
            write(system, rep, "client", {"kind": "client", "access": "library"},
                  {"instances": 5, "connect_ms": connect, "fini_ms": fini, "rss_base_kib": base,
                   "rss_first_kib": first, "rss_last_kib": last})


def main():
    shutil.rmtree(os.path.join(HERE, "raw"), ignore_errors=True)
    with open(os.path.join(HERE, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(META, f, indent=1)
    fio_runs()
    small_runs()
    qemu_runs()
    qemu_bench_runs()
    client_runs()


if __name__ == "__main__":
    main()
