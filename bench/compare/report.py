#!/usr/bin/env python3
"""Report of one `scripts/bench-compare.sh` run: Mortar vs GlusterFS 10.3 vs the local disk.

Usage: python3 bench/compare/report.py RUN_DIR [--publish DIR [--readme FILE]]

Reads (format: bench/compare/FORMAT.md) only
  RUN_DIR/meta.json                         the run: machine, software, knobs, systems, reps, quiet_pct
  RUN_DIR/raw/<system>/rep<N>/*.meta.json   one per measured run, plus the output file each one names

Writes
  RUN_DIR/results.json   {"meta", "measurements" (every run, raw values included), "figures" (aggregated over reps),
                          "client_costs" (per system), "ratios", "aims"}
  RUN_DIR/summary.md     the readable report (also printed on stdout)
  RUN_DIR/plots/*.svg    library-ratio, fuse-ratio, smallfiles-ratio, throughput, iops (a plot without data is skipped)
  DIR/summary.md, DIR/plots/*.svg   with --publish DIR (e.g. docs/benchmarks/)
  FILE (the part between its bench-compare markers)   with --readme FILE (e.g. README.md)

A run that failed (rc != 0, missing or broken output, errors > 0, fio job error, a qemu-img bench without its "Run
completed" line) has no figure: it is counted and shown as "failed N/M", never replaced by a guess. Figures are median [min–max] over the repetitions; ratios are
ratios of medians. Exit status 0 even when aims are missed; 2 when RUN_DIR/meta.json is missing or unreadable.
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import statistics
import sys
from xml.sax.saxutils import escape

# ---- vocabulary ------------------------------------------------------------------------------------------------------

SYSTEM_NAMES = {"local": "local", "mortar1": "Mortar 1 brick", "mortar3": "Mortar replica 3",
                "gluster1": "GlusterFS 1 brick", "gluster3": "GlusterFS replica 3",
                "mortar1tcp": "Mortar 1 brick, TCP, TLS off", "mortar1tls": "Mortar 1 brick, TCP + TLS",
                "gluster1tls": "GlusterFS 1 brick, TLS", "mortar1net": "Mortar 1 brick, local reads off"}
# TLS-off/TLS-on pairs for the cost of TLS, and the most it may cost (a loss, as a fraction of the TLS-off figure)
# by fio job kind: sequential 1 MiB, and 4 KiB random at deep queues.
TLS_PAIRS = [("Mortar", "mortar1tcp", "mortar1tls"), ("GlusterFS", "gluster1", "gluster1tls")]
TLS_LOSS_AIMS = {"sequential": 0.10, "random qd16": 0.15}
# Short-circuit local reads: the same one-brick volume with them off (reads over the brick's Unix socket) and on.
LOCAL_READ_PAIR = ("mortar1net", "mortar1")
# A shape pairs the Mortar and GlusterFS volumes that are compared with each other.
SHAPES = [("1 brick", "mortar1", "gluster1"), ("replica 3", "mortar3", "gluster3")]
CLIENT_SYSTEMS = ["mortar1", "gluster1", "mortar3", "gluster3", "mortar1tcp", "mortar1tls", "gluster1tls"]

WORKLOADS = ["seqwrite", "seqread", "randread", "randwrite"]
# Engine shown for a row when a system ran the same job with several engines: the brief's pairing
# (library gfapi ↔ local/FUSE psync at qd1, gfapi_async ↔ libaio at deeper queues).
ENGINE_PREFERENCE = {("library", False): ["gfapi", "gfapi_async"], ("library", True): ["gfapi_async", "gfapi"],
                     ("fuse", False): ["psync", "libaio"], ("fuse", True): ["libaio", "psync"],
                     ("local", False): ["psync", "libaio"], ("local", True): ["libaio", "psync"]}

FILE_OPS = ["create", "stat", "read", "delete"]  # files/s, higher is better
TREE_OPS = ["find", "ls-lR"]                      # seconds, lower is better

QUICKER_IS_BETTER = {"s", "ms", "connect+fini ms", "first connect+fini ms"}  # ratios of these are GlusterFS / Mortar
# fio completion latency percentiles (clat_ns.percentile keys), shown for the random 4 KiB jobs with one job
LATENCY_PERCENTILES = {"p50 µs": "50.000000", "p99 µs": "99.000000"}
QEMU_BENCH_OPS = ["read", "write"]
MIB = 1 << 20
GIB = 1 << 30

PLOT_NAMES = ["library-ratio", "fuse-ratio", "smallfiles-ratio", "throughput", "iops"]


class RunError(Exception):
    """The run directory cannot be reported at all (message names the file)."""


# ---- reading ---------------------------------------------------------------------------------------------------------

def load_run_meta(run_dir):
    path = os.path.join(run_dir, "meta.json")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise RunError(f"{path}: missing — is {run_dir} a bench-compare run directory?")
    except (OSError, ValueError) as e:
        raise RunError(f"{path}: unreadable ({e})")
    if not isinstance(meta, dict):
        raise RunError(f"{path}: not a JSON object")
    return meta


class Failed(Exception):
    """The measured program ran but its output shows that it failed."""


def read_json_output(path):
    """The first JSON value in the file; text before the first '{' (fio's warnings) and after the value is ignored."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        raise Failed("no JSON object in output" if text.strip() else "empty output")
    value, _ = json.JSONDecoder().raw_decode(text, start)
    return value


def read_text_output(path):
    """The whole output of a program that prints text (qemu-img bench)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if not text.strip():
        raise Failed("empty output")
    return text


def fio_metric(workload):
    return "MiB/s" if str(workload).startswith("seq") else "IOPS"


def is_random(workload):
    return str(workload).startswith("rand")


def metrics_of(kind, meta):
    """The figures a measurement of this kind yields; a failed one yields None for each of them."""
    if kind == "fio":
        workload = meta.get("workload")
        return [fio_metric(workload), "p99 ms"] + (list(LATENCY_PERCENTILES) if is_random(workload) else [])
    return {"files": ["files/s"], "tree": ["s"], "qemu-convert": ["MiB/s"], "qemu-info": ["ms"],
            "qemu-bench": ["MiB/s", "IOPS"],
            "client": ["first connect+fini ms", "connect+fini ms", "first instance MiB",
                       "per extra instance MiB"]}.get(kind, [])


def parse_fio(meta, out):
    job = out["jobs"][0]  # group_reporting: one entry for all jobs
    if job.get("error", 0):
        raise Failed(f"fio job error {job['error']}")
    workload = meta.get("workload", "")
    side_name = "write" if "write" in workload else "read"
    side = job[side_name]
    if not side.get("io_bytes") and not side.get("bw"):
        raise Failed(f"no I/O on the {side_name} side")
    value = side["bw"] / 1024 if workload.startswith("seq") else side["iops"]
    percentiles = side.get("clat_ns", {}).get("percentile", {})
    p99 = percentiles.get("99.000000")
    moved = sum(job.get(s, {}).get("io_bytes", 0) for s in ("read", "write"))
    raw = {"bw_kib_s": side.get("bw"), "iops": side.get("iops"), "p99_ns": p99, "bytes": moved}
    figures = {fio_metric(workload): value, "p99 ms": None if p99 is None else p99 / 1e6}
    if is_random(workload):
        # a job without percentiles (clat_percentiles=0) has no latency figure: not measured, not zero
        for metric, key in LATENCY_PERCENTILES.items():
            ns = percentiles.get(key)
            figures[metric] = None if ns is None else ns / 1000
        raw["p50_ns"] = percentiles.get("50.000000")
    return figures, raw


def parse_files(meta, out):
    errors = out.get("errors", 0)
    if errors:
        raise Failed(f"errors {errors}")
    count = out.get("count", meta.get("count"))
    seconds = out["seconds"]
    if not seconds or seconds <= 0:
        raise Failed(f"seconds {seconds}")
    return {"files/s": count / seconds}, {"count": count, "seconds": seconds, "errors": errors}


def parse_tree(meta, out):
    if out.get("errors", 0):
        raise Failed(f"errors {out['errors']}")
    seconds = out["seconds"]
    if seconds is None or seconds < 0:
        raise Failed(f"seconds {seconds}")
    return {"s": seconds}, {"entries": out.get("entries", meta.get("entries")), "seconds": seconds}


def parse_qemu_convert(meta, out):
    seconds = out["seconds"]
    size = meta.get("bytes", out.get("bytes"))
    if not seconds or seconds <= 0 or not size:
        raise Failed(f"seconds {seconds}, bytes {size}")
    return {"MiB/s": size / MIB / seconds}, {"bytes": size, "seconds": seconds}


def parse_qemu_info(meta, out):
    result = out["results"][0]
    times = result.get("times")
    if times:
        median_s = statistics.median(times)
    elif result.get("median") is not None:  # hyperfine's own median when the times were not exported
        median_s = result["median"]
    else:
        raise Failed("no times in hyperfine output")
    return {"ms": median_s * 1000}, {"times_s": times, "command": result.get("command")}


def parse_client(meta, out):
    connect, fini = out["connect_ms"], out["fini_ms"]
    if not connect or len(connect) != len(fini):
        raise Failed(f"{len(connect)} connect times but {len(fini)} fini times")
    instances = out["instances"]
    first = (out["rss_first_kib"] - out["rss_base_kib"]) / 1024
    # with a single instance there is no "further" instance to measure: not measured rather than zero
    extra = (out["rss_last_kib"] - out["rss_first_kib"]) / (instances - 1) / 1024 if instances > 1 else None
    # The first instance pays for starting the library (threads, event loops): what a one-shot program such as
    # qemu-img sees. Later instances in the same process show the per-connection cost alone.
    figures = {"first connect+fini ms": connect[0] + fini[0],
               "connect+fini ms": statistics.median(c + f for c, f in zip(connect, fini)),
               "first instance MiB": first, "per extra instance MiB": extra}
    return figures, dict(out)


QEMU_BENCH_DONE = re.compile(r"^Run completed in ([0-9.]+) seconds\.", re.M)
QEMU_BENCH_SENT = re.compile(r"^Sending (\d+) (read|write) requests, (\d+) bytes each, (\d+) in parallel", re.M)


def parse_qemu_bench(meta, text):
    """qemu-img bench's text: "Run completed in N seconds." is the only figure it prints; without it (a failed open,
    a killed run) there is no figure. Its "Sending …" line must say what the meta says was asked for."""
    done = QEMU_BENCH_DONE.search(text)
    if not done:
        raise Failed("no 'Run completed' line")
    seconds = float(done.group(1))
    if seconds <= 0:  # qemu-img prints milliseconds: a run too short to time
        raise Failed(f"seconds {done.group(1)}")
    count, size = meta["count"], meta["block_size"]
    sent = QEMU_BENCH_SENT.search(text)
    if sent:
        said = (int(sent.group(1)), sent.group(2), int(sent.group(3)), int(sent.group(4)))
        asked = (count, meta.get("op"), size, meta.get("iodepth"))
        if said != asked:
            raise Failed(f"qemu-img bench ran {said}, the meta asked for {asked} (count, op, bytes, depth)")
    return ({"MiB/s": count * size / MIB / seconds, "IOPS": count / seconds},
            {"seconds": seconds, "count": count, "block_size": size, "iodepth": meta.get("iodepth"),
             "op": meta.get("op")})


PARSERS = {"fio": parse_fio, "files": parse_files, "tree": parse_tree, "qemu-convert": parse_qemu_convert,
           "qemu-info": parse_qemu_info, "qemu-bench": parse_qemu_bench, "client": parse_client}
READERS = {"qemu-bench": read_text_output}  # the other kinds write JSON


def figure_id(rec):
    """What a measurement measures, independent of system, access and rep: the key its reps are grouped by."""
    kind = rec["kind"]
    if kind == "fio":
        return f"fio/{rec.get('workload')}/j{rec.get('jobs')}/qd{rec.get('iodepth')}/{rec.get('engine')}"
    if kind in ("files", "tree"):
        return f"{kind}/{rec.get('op')}"
    if kind == "qemu-bench":
        return f"{kind}/{rec.get('op')}/{rec.get('block_size')}/qd{rec.get('iodepth')}"
    return kind


def location_from_path(meta_path):
    """System and rep from raw/<system>/rep<N>/, for a meta file too broken to say them itself."""
    rep_dir = os.path.dirname(meta_path)
    m = re.match(r"rep(\d+)$", os.path.basename(rep_dir))
    return os.path.basename(os.path.dirname(rep_dir)), int(m.group(1)) if m else None


def parse_measurement(meta_path, run_dir):
    """One record per *.meta.json: the meta's own fields, the raw values from the output, figures, and failure."""
    name = os.path.basename(meta_path)[: -len(".meta.json")]
    system, rep = location_from_path(meta_path)
    rec = {"name": name, "meta_file": os.path.relpath(meta_path, run_dir), "system": system, "rep": rep,
           "access": None, "kind": None, "rc": None, "failure": None, "figures": {}, "raw": None}
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        rec["failure"] = f"meta file unreadable: {e}"
        return rec
    rec.update({k: v for k, v in meta.items() if k not in ("figures", "raw", "failure")})
    rec["figures"] = {m: None for m in metrics_of(rec["kind"], meta)}
    rec["id"] = figure_id(rec)
    parser = PARSERS.get(rec["kind"])
    if parser is None:
        rec["failure"] = f"unknown kind {rec['kind']!r}"
        return rec
    problems = []
    if rec.get("rc") != 0:
        problems.append("no exit status recorded" if rec.get("rc") is None else "non-zero exit status")
    # the output is read even after a non-zero exit, so results.json keeps whatever the program did report
    figures = None
    if not meta.get("output"):
        problems.append("no output file named")
    else:
        out_path = os.path.join(os.path.dirname(meta_path), meta["output"])
        rec["output_file"] = os.path.relpath(out_path, run_dir)
        try:
            figures, rec["raw"] = parser(meta, READERS.get(rec["kind"], read_json_output)(out_path))
        except FileNotFoundError:
            problems.append("output missing")
        except Failed as e:
            problems.append(str(e))
        except (OSError, ValueError, KeyError, IndexError, TypeError, ZeroDivisionError) as e:
            problems.append(f"output broken ({type(e).__name__}: {e})")
    if problems:
        rec["failure"] = "; ".join(problems)
    else:
        rec["figures"] = figures
    return rec


def load_measurements(run_dir):
    paths = sorted(glob.glob(os.path.join(run_dir, "raw", "*", "rep*", "*.meta.json")))
    return [parse_measurement(p, run_dir) for p in paths]


# ---- aggregation -----------------------------------------------------------------------------------------------------

def spread(values):
    """median/min/max/n of the values that exist; None when there are none."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def aggregate(records):
    """One figure row per (system, access, what, metric) over its reps; failed reps counted, not averaged in."""
    groups = {}
    for rec in records:
        if rec["kind"] not in PARSERS:
            continue
        for metric, value in rec["figures"].items():
            key = (rec["system"], rec["access"], rec["id"], metric)
            groups.setdefault(key, []).append((rec, value))
    rows = []
    for (system, access, fid, metric), runs in sorted(groups.items(), key=lambda kv: [str(x) for x in kv[0]]):
        first = runs[0][0]
        s = spread(v for _, v in runs)
        row = {"system": system, "access": access, "id": fid, "kind": first["kind"], "metric": metric,
               "median": s and s["median"], "min": s and s["min"], "max": s and s["max"], "n": s["n"] if s else 0,
               "failed": sum(1 for r, _ in runs if r["failure"]), "total": len(runs),
               "values": [v for _, v in sorted(runs, key=lambda rv: rv[0]["rep"] or 0)]}
        for field in ("workload", "jobs", "iodepth", "engine", "op", "block_size", "count"):
            if field in first:
                row[field] = first[field]
        rows.append(row)
    return rows


class Figures:
    """Lookup of aggregated figure rows."""

    def __init__(self, rows):
        self.rows = rows
        self.by_key = {(r["system"], r["access"], r["id"], r["metric"]): r for r in rows}

    def get(self, system, access, fid, metric):
        return self.by_key.get((system, access, fid, metric))

    def fio(self, system, access, job, metric=None):
        """The figure of a fio job (workload, jobs, iodepth) for a system; the preferred engine if several ran.
        metric: the job's throughput figure unless another one (a latency percentile) is asked for."""
        workload, jobs, iodepth = job
        metric = metric or fio_metric(workload)
        found = {r["engine"]: r for r in self.rows
                 if r["kind"] == "fio" and r["system"] == system and r["access"] == access
                 and (r.get("workload"), r.get("jobs"), r.get("iodepth")) == job and r["metric"] == metric}
        for engine in ENGINE_PREFERENCE.get((access, (iodepth or 1) > 1), []):
            if engine in found:
                return found[engine]
        return next(iter(sorted(found.items())), (None, None))[1]

    def fio_jobs(self, systems):
        jobs = {(r.get("workload"), r.get("jobs"), r.get("iodepth")) for r in self.rows
                if r["kind"] == "fio" and r["system"] in systems and r["metric"] in ("MiB/s", "IOPS")}
        return sorted(jobs, key=fio_job_order)

    def qemu_bench_runs(self, systems):
        """(op, block_size, iodepth) of the qemu-img bench runs of these systems, reads first, small requests first."""
        runs = {(r.get("op"), r.get("block_size"), r.get("iodepth")) for r in self.rows
                if r["kind"] == "qemu-bench" and r["system"] in systems}
        return sorted(runs, key=lambda run: (QEMU_BENCH_OPS.index(run[0]) if run[0] in QEMU_BENCH_OPS
                                             else len(QEMU_BENCH_OPS), str(run[0]), run[1] or 0, run[2] or 0))

    def ops(self, kind, systems, order):
        present = {r.get("op") for r in self.rows if r["kind"] == kind and r["system"] in systems}
        return [op for op in order if op in present] + sorted(op for op in present if op not in order)


def fio_job_order(job):
    workload, jobs, iodepth = job
    w = WORKLOADS.index(workload) if workload in WORKLOADS else len(WORKLOADS)
    return (w, str(workload), iodepth or 0, jobs or 0)


def fio_job_label(job, with_unit=True):
    workload, jobs, iodepth = job
    seq = str(workload).startswith("seq")
    label = f"{workload} {'1 MiB' if seq else '4 KiB'}"
    if not seq or jobs != 1 or iodepth != 1:
        label += f" qd{iodepth} ×{jobs} job{'s' if jobs != 1 else ''}"
    return f"{label} ({fio_metric(workload)})" if with_unit else label


def median_of(row):
    return None if row is None else row["median"]


def ratio(numerator, denominator):
    """Ratio of two medians, None when either is missing (or the denominator is zero)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def mortar_vs_gluster(mortar_row, gluster_row, metric):
    """Mortar/GlusterFS with >1 meaning Mortar is better: inverted for times (lower is better)."""
    m, g = median_of(mortar_row), median_of(gluster_row)
    return ratio(g, m) if metric in QUICKER_IS_BETTER else ratio(m, g)


def usable_cpu(rec, field):
    """The driver writes 0 client CPU when /usr/bin/time left no record: that is unknown, not free."""
    value = rec.get(field)
    return isinstance(value, (int, float)) and (value > 0 or field != "client_cpu_s")


def cost_per_gib(records, system, field):
    """CPU seconds per GiB moved, from the library seqwrite+seqread jobs=1 fio runs: per rep, then over reps."""
    per_rep = {}
    for r in records:
        if (r["kind"] == "fio" and r["system"] == system and r["access"] == "library" and not r["failure"]
                and str(r.get("workload")).startswith("seq") and r.get("jobs") == 1 and usable_cpu(r, field)
                and r["raw"] and r["raw"].get("bytes")):
            cpu, moved = per_rep.get(r["rep"], (0.0, 0))
            per_rep[r["rep"]] = (cpu + r[field], moved + r["raw"]["bytes"])
    return spread(cpu / (moved / GIB) for cpu, moved in per_rep.values() if moved)


def peak_rss_mib(records, system):
    return spread(r["client_max_rss_kib"] / 1024 for r in records
                  if r["kind"] == "fio" and r["system"] == system and r["access"] == "library"
                  and not r["failure"] and (r.get("client_max_rss_kib") or 0) > 0)  # 0 = no /usr/bin/time record


# ---- formatting ------------------------------------------------------------------------------------------------------

def fmt_num(x):
    if x is None:
        return "–"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_cell(row):
    """median [min–max] (just the value with one rep), plus the failures; "–" when never measured."""
    if row is None or (row.get("n", 0) == 0 and not row.get("failed")):
        return "–"
    failed = row.get("failed", 0)
    if row["n"] == 0:
        return f"failed {failed}/{row['total']}"
    text = fmt_num(row["median"])
    if row["n"] > 1:
        text += f" [{fmt_num(row['min'])}–{fmt_num(row['max'])}]"
    if failed:
        text += f" (failed {failed}/{row['total']})"
    return text


def fmt_ratio(r):
    if r is None:
        return "–"
    return f"{r:.2f}×" + (" ▼" if r < 1.0 else "")


def fmt_latency_ratio(r):
    """Mortar latency / GlusterFS latency: lower is better, so ▼ (Mortar behind) marks a ratio above 1.0."""
    if r is None:
        return "–"
    return f"{r:.2f}×" + (" ▼" if r > 1.0 else "")


def size_label(size):
    """Bytes → '4 KiB', '64 KiB', '1 MiB'."""
    if size is None:
        return "?"
    for unit, scale in (("MiB", MIB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- report sections -------------------------------------------------------------------------------------------------

def section_header(meta):
    m = meta.get("machine", {})
    mem = f"{m['mem_kib'] / (1 << 20):.1f} GiB RAM" if isinstance(m.get("mem_kib"), (int, float)) else "RAM ?"
    software = " · ".join(f"{k}: {v}" for k, v in meta.get("software", {}).items()) or "?"
    knobs = ", ".join(f"{k}={v}" for k, v in meta.get("knobs", {}).items()) or "?"
    return "\n".join([
        f"# Mortar vs GlusterFS 10.3 vs local disk — run {meta.get('run_id', '?')}",
        "",
        f"- **Date** {meta.get('date_utc', '?')} · **commit** {meta.get('commit', '?')} · **mode** {meta.get('mode', '?')}"
        f" · **reps** {meta.get('reps', '?')}",
        f"- **Machine** {m.get('cpu', '?')}, {m.get('nproc', '?')} CPUs, {mem}, kernel {m.get('kernel', '?')},"
        f" disk {m.get('disk', '?')}",
        f"- **Software** {software}",
        f"- **Knobs** {knobs}",
        "- **Method** the systems run one after another (never at the same time), caches are dropped before every"
        " run, and client and servers talk over loopback only. Cells are median [min–max] over the reps; ratios"
        " are ratios of medians; ▼ marks a ratio below 1.0; \"failed N/M\" counts runs without a figure.",
    ])


def fio_shape_rows(figs, shape):
    """Table rows and ratio records for one shape's fio jobs."""
    name, mortar, gluster = shape
    rows, ratios = [], []
    for job in figs.fio_jobs({mortar, gluster}):
        cells = {"local": figs.fio("local", "local", job),
                 "ml": figs.fio(mortar, "library", job), "gl": figs.fio(gluster, "library", job),
                 "mf": figs.fio(mortar, "fuse", job), "gf": figs.fio(gluster, "fuse", job)}
        med = {k: median_of(v) for k, v in cells.items()}
        r = {"Mortar/GlusterFS library": ratio(med["ml"], med["gl"]),
             "Mortar/GlusterFS FUSE": ratio(med["mf"], med["gf"]),
             "Mortar library/local": ratio(med["ml"], med["local"]),
             "Mortar library/Mortar FUSE": ratio(med["ml"], med["mf"])}
        label = fio_job_label(job)
        rows.append([label] + [fmt_cell(cells[k]) for k in ("local", "ml", "gl", "mf", "gf")]
                    + [fmt_ratio(v) for v in r.values()])
        ratios += [{"section": "fio", "shape": name, "row": label, "ratio": k, "value": v} for k, v in r.items()]
    return rows, ratios


def section_fio(figs, plots):
    out = ["## fio through the library and the mounts", "",
           "Sequential jobs in MiB/s, random jobs in IOPS (higher is better). Engines: library gfapi (qd1) or"
           " gfapi_async (deeper queues); FUSE and local psync (qd1) or libaio (deeper queues). The local column is"
           " the same job on a directory of the same disk.", ""]
    header = ["fio job", "local", "Mortar library", "GlusterFS library", "Mortar FUSE", "GlusterFS FUSE",
              "Mortar/GlusterFS library", "Mortar/GlusterFS FUSE", "Mortar library/local",
              "Mortar library/Mortar FUSE"]
    all_ratios = []
    for shape in SHAPES:
        rows, ratios = fio_shape_rows(figs, shape)
        if not rows:
            continue
        out += [f"### {shape[0]} ({shape[1]} vs {shape[2]})", "", md_table(header, rows), ""]
        all_ratios += ratios
    if not all_ratios:
        out += ["No fio measurements.", ""]
    out += plot_links(plots, [("library-ratio", "Mortar/GlusterFS through the library, per fio job"),
                              ("fuse-ratio", "Mortar/GlusterFS through FUSE, per fio job"),
                              ("throughput", "Sequential throughput, 1 brick"),
                              ("iops", "Random I/O, 1 brick")])
    for shape in SHAPES:
        rows, ratios = fio_latency_rows(figs, shape)
        if not rows:
            continue
        out += [f"### Completion latency, {shape[0]} ({shape[1]} vs {shape[2]})", "",
                "fio's completion latency (clat) of the random 4 KiB jobs with one job: p50 and p99 in µs, lower is"
                " better. The ratio is Mortar p50 / GlusterFS p50 through the library, so for latency a ratio below"
                " 1.0 means Mortar is faster; ▼ marks Mortar slower (a ratio above 1.0).", "",
                md_table(LATENCY_HEADER, rows), ""]
        all_ratios += ratios
    return "\n".join(out), all_ratios


LATENCY_COLUMNS = [("local", "local"), ("ml", "Mortar library"), ("gl", "GlusterFS library"),
                   ("mf", "Mortar FUSE"), ("gf", "GlusterFS FUSE")]
LATENCY_HEADER = (["fio job (µs)"] + [f"{name} {p}" for _, name in LATENCY_COLUMNS for p in ("p50", "p99")]
                  + ["Mortar/GlusterFS library p50 (< 1: Mortar faster)"])


def fio_latency_rows(figs, shape):
    """Latency table rows and ratio records for one shape: random 4 KiB jobs with one job that have percentiles."""
    name, mortar, gluster = shape
    places = {"local": ("local", "local"), "ml": (mortar, "library"), "gl": (gluster, "library"),
              "mf": (mortar, "fuse"), "gf": (gluster, "fuse")}
    rows, ratios = [], []
    for job in figs.fio_jobs({mortar, gluster}):
        if not is_random(job[0]) or job[1] != 1:
            continue
        cells = {(k, metric): figs.fio(system, access, job, metric)
                 for k, (system, access) in places.items() for metric in LATENCY_PERCENTILES}
        shown = [fmt_cell(cells[(k, metric)]) for k, _ in LATENCY_COLUMNS for metric in LATENCY_PERCENTILES]
        if all(c == "–" for c in shown):  # fio ran but left no percentiles
            continue
        r = ratio(median_of(cells[("ml", "p50 µs")]), median_of(cells[("gl", "p50 µs")]))
        label = fio_job_label(job, with_unit=False)
        rows.append([label] + shown + [fmt_latency_ratio(r)])
        ratios.append({"section": "fio latency", "shape": name, "row": label,
                       "ratio": "Mortar/GlusterFS library p50", "value": r})
    return rows, ratios


def tls_loss_kind(job):
    """Which TLS aim a fio job is held to, or None."""
    workload, _jobs, iodepth = job
    if str(workload).startswith("seq"):
        return "sequential"
    if (iodepth or 1) >= 16:
        return "random qd16"
    return None


def section_tls(figs, costs):
    """The cost of TLS through the library: each pair's TLS-on figure against its TLS-off one, per fio job, and the
    connect+fini latency (where the handshakes are). Returns (markdown, rows of results); empty without a pair."""
    pairs = [(name, off, on) for name, off, on in TLS_PAIRS
             if figs.fio_jobs([off]) and figs.fio_jobs([on])]
    if not pairs:
        return "", []
    out = ["## The cost of TLS (library)", "",
           "Each system with TLS on against the same system with it off, one brick, through the library over TCP"
           " (Mortar's mortar1 column elsewhere uses the brick's Unix socket, which has no TLS). Loss = 1 − on/off;"
           f" aims: at most {TLS_LOSS_AIMS['sequential']:.0%} on 1 MiB sequential jobs and"
           f" {TLS_LOSS_AIMS['random qd16']:.0%} on 4 KiB jobs at queue depth 16.", ""]
    header = ["fio job"]
    for name, off, on in pairs:
        header += [f"{name} TLS off ({off})", f"{name} TLS on ({on})", f"{name} loss"]
    rows, results = [], []
    jobs = sorted(set().union(*[set(figs.fio_jobs([off, on])) for _n, off, on in pairs]), key=fio_job_order)
    for job in jobs:
        row = [fio_job_label(job)]
        for name, off, on in pairs:
            a, b = median_of(figs.fio(off, "library", job)), median_of(figs.fio(on, "library", job))
            r = ratio(b, a)
            loss = None if r is None else 1 - r
            kind = tls_loss_kind(job)
            aim_value = TLS_LOSS_AIMS.get(kind)
            verdict = "" if loss is None or aim_value is None else (" ✓" if loss <= aim_value else " ✗")
            row += [fmt_num(a) if a is not None else "–", fmt_num(b) if b is not None else "–",
                    "–" if loss is None else f"{loss:+.0%}{verdict}"]
            results.append({"system": name, "job": list(job), "off": a, "on": b, "loss": loss, "aim": aim_value})
        rows.append(row)
    for key, label in [("first connect+fini ms", "glfs_init+glfs_fini, first instance (ms)"),
                       ("connect+fini ms", "glfs_init+glfs_fini (ms)")]:
        row = [label]
        for _name, off, on in pairs:
            a = median_of((costs.get(off) or {}).get(key))
            b = median_of((costs.get(on) or {}).get(key))
            row += [fmt_num(a) if a is not None else "–", fmt_num(b) if b is not None else "–",
                    "–" if a is None or b is None else f"{b - a:+.1f} ms"]
        rows.append(row)
    out += [md_table(header, rows), ""]
    return "\n".join(out), results


def section_local_reads(figs):
    """Short-circuit local reads on and off: mortar1 against mortar1net (the same volume with
    performance.local-reads off) per fio job, through the library and the mount, with the random jobs' p50
    latency. Returns (markdown, rows of results); empty unless both ran."""
    off, on = LOCAL_READ_PAIR
    if not (figs.fio_jobs([off]) and figs.fio_jobs([on])):
        return "", []
    out = ["## Short-circuit local reads", "",
           f"One brick on this host, the client on its Unix socket: `performance.local-reads off` ({off}: every read"
           f" is a request to the brick) against on ({on}: the client reads the brick's file through a descriptor"
           " the brick handed over). on/off > 1 means the short-circuit is faster; for p50 latency (µs) it is"
           " off/on, so > 1 means faster too.", ""]
    header = ["fio job", "library off", "library on", "library on/off", "FUSE off", "FUSE on", "FUSE on/off"]
    rows, results = [], []
    for job in figs.fio_jobs([off, on]):
        metrics = [None] + (list(LATENCY_PERCENTILES)[:1] if is_random(job[0]) and job[1] == 1 else [])
        for metric in metrics:
            label = fio_job_label(job) if metric is None else f"{fio_job_label(job, with_unit=False)} ({metric})"
            row = [label]
            for access in ("library", "fuse"):
                a = median_of(figs.fio(off, access, job, metric))
                b = median_of(figs.fio(on, access, job, metric))
                r = ratio(b, a) if metric is None else ratio(a, b)
                row += [fmt_num(a), fmt_num(b), fmt_ratio(r)]
                results.append({"job": list(job), "access": access, "metric": metric or fio_metric(job[0]),
                                "off": a, "on": b, "speedup": r})
            rows.append(row)
    out += [md_table(header, rows), ""]
    return "\n".join(out), results


def small_file_cells(figs, system, access, op):
    kind, metric = ("files", "files/s") if op in FILE_OPS else ("tree", "s")
    return figs.get(system, access, f"{kind}/{op}", metric), metric


def section_small_files(figs, plots):
    out = ["## Small files and metadata", "",
           "create/stat/read/delete in files/s (higher is better); find and ls -lR in seconds (lower is better)."
           " Ratios are always Mortar/GlusterFS in the \"better\" sense (for seconds: GlusterFS s / Mortar s),"
           " so > 1 means Mortar is faster.", ""]
    header = ["operation", "Mortar library", "GlusterFS library", "Mortar FUSE", "GlusterFS FUSE", "local",
              "Mortar/GlusterFS library", "Mortar/GlusterFS FUSE"]
    ratios = []
    for name, mortar, gluster in SHAPES:
        ops = figs.ops("files", {mortar, gluster}, FILE_OPS) + figs.ops("tree", {mortar, gluster}, TREE_OPS)
        if not ops:
            continue
        rows = []
        for op in ops:
            ml, metric = small_file_cells(figs, mortar, "library", op)
            gl, _ = small_file_cells(figs, gluster, "library", op)
            mf, _ = small_file_cells(figs, mortar, "fuse", op)
            gf, _ = small_file_cells(figs, gluster, "fuse", op)
            loc, _ = small_file_cells(figs, "local", "local", op)
            r = {"Mortar/GlusterFS library": mortar_vs_gluster(ml, gl, metric),
                 "Mortar/GlusterFS FUSE": mortar_vs_gluster(mf, gf, metric)}
            label = f"{op} ({metric})"
            rows.append([label] + [fmt_cell(c) for c in (ml, gl, mf, gf, loc)] + [fmt_ratio(v) for v in r.values()])
            ratios += [{"section": "small files", "shape": name, "row": label, "ratio": k, "value": v}
                       for k, v in r.items()]
        out += [f"### {name} ({mortar} vs {gluster})", "", md_table(header, rows), ""]
    if not ratios:
        out += ["No small-file or metadata measurements.", ""]
    out += plot_links(plots, [("smallfiles-ratio", "Mortar/GlusterFS for small files and metadata")])
    return "\n".join(out), ratios


def section_vm_images(figs):
    out = ["## VM images", "",
           "`qemu-img convert` of a raw image into the system (MiB/s, higher is better) and `qemu-img info` latency"
           " (ms, lower is better; ratio = GlusterFS ms / Mortar ms). library = a gluster:// URL through libgfapi"
           " (GlusterFS's own or Mortar's drop-in), FUSE = a file on the mount.", ""]
    header = ["figure", "local"]
    for name, _, _ in SHAPES:
        header += [f"Mortar {name}", f"GlusterFS {name}", f"Mortar/GlusterFS {name}"]
    rows, ratios = [], []
    for kind, metric, title in [("qemu-convert", "MiB/s", "qemu-img convert (MiB/s)"),
                                ("qemu-info", "ms", "qemu-img info (ms)")]:
        for access in ("library", "fuse"):
            cells, row_ratios = [fmt_cell(figs.get("local", "local", kind, metric))], {}
            for name, mortar, gluster in SHAPES:
                m, g = figs.get(mortar, access, kind, metric), figs.get(gluster, access, kind, metric)
                row_ratios[name] = mortar_vs_gluster(m, g, metric)
                cells += [fmt_cell(m), fmt_cell(g), fmt_ratio(row_ratios[name])]
            if all(c == "–" for c in cells[1:]):
                continue
            label = f"{title}, {'library' if access == 'library' else 'FUSE'}"
            rows.append([label] + cells)
            ratios += [{"section": "vm images", "shape": n, "row": label, "ratio": "Mortar/GlusterFS", "value": v}
                       for n, v in row_ratios.items()]
    if rows:
        out += [md_table(header, rows), ""]
    bench_md, bench_ratios = qemu_bench_tables(figs)
    if not rows and not bench_ratios:
        out += ["No VM image measurements.", ""]
    return "\n".join(out + bench_md), ratios + bench_ratios


def qemu_bench_metric(block_size):
    """Small requests are counted (IOPS), large ones weighed (MiB/s), as fio's 4 KiB and 1 MiB jobs are."""
    return "IOPS" if (block_size or 0) < 64 * 1024 else "MiB/s"


def qemu_bench_label(run):
    op, size, depth = run
    return f"{op} {size_label(size)} qd{depth} ({qemu_bench_metric(size)})"


def qemu_bench_tables(figs):
    """One table per shape of the qemu-img bench runs: (markdown lines, ratio records)."""
    out, ratios = [], []
    header = ["qemu-img bench", "local", "Mortar library", "GlusterFS library", "Mortar FUSE", "GlusterFS FUSE",
              "Mortar library/local", "Mortar/GlusterFS library"]
    for name, mortar, gluster in SHAPES:
        runs = figs.qemu_bench_runs({mortar, gluster})
        if not runs:
            continue
        rows = []
        for run in runs:
            op, size, depth = run
            fid, metric = f"qemu-bench/{op}/{size}/qd{depth}", qemu_bench_metric(size)
            cells = {"local": figs.get("local", "local", fid, metric),
                     "ml": figs.get(mortar, "library", fid, metric), "gl": figs.get(gluster, "library", fid, metric),
                     "mf": figs.get(mortar, "fuse", fid, metric), "gf": figs.get(gluster, "fuse", fid, metric)}
            med = {k: median_of(v) for k, v in cells.items()}
            r = {"Mortar library/local": ratio(med["ml"], med["local"]),
                 "Mortar/GlusterFS library": ratio(med["ml"], med["gl"])}
            label = qemu_bench_label(run)
            rows.append([label] + [fmt_cell(cells[k]) for k in ("local", "ml", "gl", "mf", "gf")]
                        + [fmt_ratio(v) for v in r.values()])
            ratios += [{"section": "qemu bench", "shape": name, "row": label, "ratio": k, "value": v}
                       for k, v in r.items()]
        if not out:
            out += [qemu_bench_intro(figs), ""]
        out += [f"### qemu-img bench, {name} ({mortar} vs {gluster})", "", md_table(header, rows), ""]
    return out, ratios


def qemu_bench_intro(figs):
    counts = sorted({r.get("count") for r in figs.rows if r["kind"] == "qemu-bench" and r.get("count")})
    requests = f"{counts[0]:,} requests" if len(counts) == 1 else "a fixed number of requests (knob qemu_bench_count)"
    return ("`qemu-img bench -f raw -t none -n`: QEMU's block layer as a VM's disk uses it, with cache=none (the image"
            f" opened O_DIRECT, also through gluster://), on the converted image; {requests} of one size at one queue"
            " depth, one after another from offset 0 (qemu-img bench has no random mode); writes with"
            " `-w --pattern=0x5a`. 4 KiB rows in IOPS, 64 KiB rows in MiB/s (higher is better).")


def client_costs(records, figs):
    """Per system: the client-cost figures (aggregated rows or spreads), for the table and the aims."""
    costs = {}
    for system in CLIENT_SYSTEMS:
        c = {"first connect+fini ms": figs.get(system, "library", "client", "first connect+fini ms"),
             "connect+fini ms": figs.get(system, "library", "client", "connect+fini ms"),
             "first instance MiB": figs.get(system, "library", "client", "first instance MiB"),
             "per extra instance MiB": figs.get(system, "library", "client", "per extra instance MiB"),
             "client CPU s/GiB": cost_per_gib(records, system, "client_cpu_s"),
             "server CPU s/GiB": cost_per_gib(records, system, "server_cpu_s"),
             "fio peak RSS MiB": peak_rss_mib(records, system)}
        if any(v is not None for v in c.values()):
            costs[system] = c
    return costs


def section_client_cost(costs):
    out = ["## Client cost (library)", "",
           "connect+fini: glfs_new … glfs_init plus glfs_fini — of the process's first instance (which also starts"
           " the library), and the median over all instances of one process. Memory: RSS growth for the"
           " first instance (after 1 MiB of I/O) and per further instance. CPU per GiB: from the library fio"
           " seqwrite+seqread runs with one job (sum of CPU seconds / sum of GiB moved, per rep). fio peak RSS:"
           " max RSS of the fio process over all library fio runs.", ""]
    if not costs:
        return "\n".join(out + ["No client-cost measurements.", ""])
    systems = list(costs)
    labels = [("first connect+fini ms", "connect+fini, first instance (ms)"), ("connect+fini ms", "connect+fini (ms)"),
              ("first instance MiB", "memory, first instance (MiB)"),
              ("per extra instance MiB", "memory, per extra instance (MiB)"),
              ("client CPU s/GiB", "client CPU (s per GiB)"), ("server CPU s/GiB", "server CPU (s per GiB)"),
              ("fio peak RSS MiB", "fio peak RSS (MiB)")]
    rows = [[label] + [fmt_cell(costs[s][key]) for s in systems] for key, label in labels]
    out += [md_table(["figure"] + [f"{SYSTEM_NAMES[s]} ({s})" for s in systems], rows), ""]
    return "\n".join(out)


# ---- aims ------------------------------------------------------------------------------------------------------------

QEMU_BENCH_LOCAL_AIM = 0.9                 # (8) qemu-img bench through gluster:// / the same run on a local file
LATENCY_P50_AIM = 0.6                      # (9) Mortar p50 / GlusterFS p50, through the library
LATENCY_AIM_ROW = "randread 4 KiB qd1 ×1 job"


def aim(number, text, status, detail):
    return {"id": number, "aim": text, "status": status, "detail": detail}


def status_of(ok_list):
    """met when every measured item holds; not measured when nothing could be compared."""
    if not ok_list:
        return "not measured"
    return "met" if all(ok_list) else "MISSED"


def plain_ratio(v):
    """A ratio inside an aim's sentence: the verdict already says whether it is good, so no ▼ marker."""
    return f"{v:.2f}×"


def row_name(label):
    """'randread 4 KiB qd1 ×1 job (IOPS)' → 'randread 4 KiB qd1 ×1 job'."""
    return label.rsplit(" (", 1)[0]


def lib_ratios_by_shape(ratios, key):
    by_shape = {}
    for r in ratios:
        if r["section"] == "fio" and r["ratio"] == key and r["value"] is not None:
            by_shape.setdefault(r["shape"], []).append((row_name(r["row"]), r["value"]))
    return by_shape


def per_shape(by_shape, judge):
    """Apply judge(items) → (ok, text) to each shape's ratios; a shape without any says "not measured"."""
    oks, parts = [], []
    for shape, _, _ in SHAPES:
        if shape not in by_shape:
            parts.append(f"{shape}: not measured")
            continue
        ok, text = judge(by_shape[shape])
        oks.append(ok)
        parts.append(f"{shape}: {text}")
    return oks, " — ".join(parts)


def judge_ahead(items):
    behind = [f"{row} {plain_ratio(v)}" for row, v in items if v <= 1.0]
    return not behind, (f"ahead on {len(items) - len(behind)} of {len(items)}"
                        + (f", not ahead on {'; '.join(behind)}" if behind else ""))


def judge_latency(items):
    """One shape's p50 ratio (Mortar / GlusterFS, lower is better) against aim 9."""
    v = items[0][1]
    ok = v <= LATENCY_P50_AIM
    return ok, f"p50 {plain_ratio(v)} GlusterFS's" + ("" if ok else f" (above {LATENCY_P50_AIM}×)")


def judge_most_at_1_5(items):
    k = sum(1 for _, v in items if v >= 1.5)
    return k * 2 > len(items), f"{k} of {len(items)} jobs at ≥ 1.5×"  # "most" = more than half


def evaluate_aims(fio_ratios, small_ratios, costs, vm_ratios=()):
    aims = []
    lib = lib_ratios_by_shape(fio_ratios, "Mortar/GlusterFS library")
    fuse = lib_ratios_by_shape(fio_ratios, "Mortar/GlusterFS FUSE")

    oks, detail = per_shape(lib, judge_ahead)
    aims.append(aim(1, "Mortar library ahead of GlusterFS libgfapi on every fio job", status_of(oks), detail))
    oks, detail = per_shape(lib, judge_most_at_1_5)
    aims.append(aim(2, "Mortar library ≥ 1.5× GlusterFS on most fio jobs", status_of(oks), detail))

    # (3) sequential read and write through the library within 10 % of the local disk (1 brick)
    parts, oks = [], []
    seq_local = [(row_name(r["row"]), r["value"]) for r in fio_ratios
                 if r["shape"] == "1 brick" and r["ratio"] == "Mortar library/local" and r["row"].startswith("seq")]
    for workload in ("seqwrite", "seqread"):
        measured = [(row, v) for row, v in seq_local if row.startswith(workload + " ") and v is not None]
        if not measured:
            parts.append(f"{workload}: not measured")
        for row, v in measured:
            oks.append(v >= 0.9)
            parts.append(f"{row} {plain_ratio(v)} ({'ok' if v >= 0.9 else 'below 0.9×'})")
    aims.append(aim(3, "Sequential read and write via the library ≥ 0.9× local (mortar1)", status_of(oks),
                    "; ".join(parts)))

    oks, detail = per_shape(fuse, judge_ahead)
    aims.append(aim(4, "Mortar FUSE ahead of GlusterFS FUSE", status_of(oks), detail))

    # (5) small files and metadata at least 3x GlusterFS, each op, per access and shape
    items = [r for r in small_ratios if r["value"] is not None]
    misses = [f"{r['shape']} {r['ratio'].split()[-1]} {row_name(r['row'])} {plain_ratio(r['value'])}"
              for r in items if r["value"] < 3.0]
    detail = f"{len(items) - len(misses)} of {len(items)} at ≥ 3×" + (f"; below: {', '.join(misses)}" if misses else "")
    aims.append(aim(5, "Small-file and metadata workloads ≥ 3× GlusterFS", status_of([r["value"] >= 3.0 for r in items]),
                    detail if items else "not measured"))

    # (6) and (7): Mortar's client library costs
    for number, text, key, limit, unit in [(6, "connect+fini ≤ 100 ms (first instance)", "first connect+fini ms", 100,
                                            "ms"),
                                           (7, "client memory ≤ 32 MiB per instance (first instance)",
                                            "first instance MiB", 32, "MiB")]:
        parts, oks = [], []
        for system in ("mortar1", "mortar3"):
            row = costs.get(system, {}).get(key)
            if row is None or row.get("n", 0) == 0:
                continue
            oks.append(row["median"] <= limit)
            parts.append(f"{system} {fmt_num(row['median'])} {unit}")
        aims.append(aim(number, text, status_of(oks), ", ".join(parts) or "not measured"))

    aims.append(aim_qemu_bench_vs_local(vm_ratios))
    aims.append(aim_library_latency(fio_ratios))
    return aims


def aim_qemu_bench_vs_local(vm_ratios):
    """(8) every qemu-img bench run through gluster:// (mortar1) at least 0.9× the same run on a local file; like (3),
    one brick only: replica 3 writes every byte three times to the same disk."""
    parts, oks = [], []
    measured = [(row_name(r["row"]), r["value"]) for r in vm_ratios
                if r["section"] == "qemu bench" and r["shape"] == "1 brick" and r["ratio"] == "Mortar library/local"
                and r["value"] is not None]
    for op in QEMU_BENCH_OPS:
        rows = [(row, v) for row, v in measured if row.startswith(op + " ")]
        if not rows:
            parts.append(f"{op}: not measured")
        for row, v in rows:
            ok = v >= QEMU_BENCH_LOCAL_AIM
            oks.append(ok)
            parts.append(f"{row} {plain_ratio(v)} ({'ok' if ok else f'below {QEMU_BENCH_LOCAL_AIM}×'})")
    return aim(8, f"qemu-img bench through gluster:// ≥ {QEMU_BENCH_LOCAL_AIM}× a local file, read and write"
                  " (mortar1)", status_of(oks), "; ".join(parts))


def aim_library_latency(fio_ratios):
    """(9) the p50 completion latency of 4 KiB random reads at queue depth 1 through the library at most 0.6× GlusterFS
    libgfapi's, per shape."""
    by_shape = {}
    for r in fio_ratios:
        if r["section"] == "fio latency" and r["row"] == LATENCY_AIM_ROW and r["value"] is not None:
            by_shape.setdefault(r["shape"], []).append((r["row"], r["value"]))
    oks, detail = per_shape(by_shape, judge_latency)
    return aim(9, f"p50 latency of 4 KiB QD1 random read through the library ≤ {LATENCY_P50_AIM}× GlusterFS libgfapi",
               status_of(oks), detail)


def section_aims(aims):
    out = ["## Aims", ""]
    for a in aims:
        status = {"met": "**met**", "MISSED": "**MISSED**"}.get(a["status"], a["status"])
        out.append(f"- ({a['id']}) {a['aim']}: {status} — {a['detail']}")
    return "\n".join(out + [""])


# ---- notes -----------------------------------------------------------------------------------------------------------

def section_notes(meta, records):
    out = ["## Notes", ""]
    failed = [r for r in records if r["failure"]]
    if failed:
        out.append(f"Failed measurements ({len(failed)} of {len(records)} runs; no figure, not counted in medians):")
        out.append("")
        out += [f"- {r['system']} {r['access'] or '?'} {r['name']} rep{r['rep']}: rc {r['rc']}, {r['failure']}"
                for r in failed]
    else:
        out.append(f"All {len(records)} measured runs succeeded.")
    quiet = meta.get("quiet_pct")
    busy = [r for r in records if quiet is not None and isinstance(r.get("gate_busy_pct"), (int, float))
            and r["gate_busy_pct"] >= quiet]
    if busy:
        out += ["", f"Started on a busy machine (CPU busy ≥ {quiet} % just before the run; figures may be low):", ""]
        out += [f"- {r['system']} {r['access']} {r['name']} rep{r['rep']}: started on a busy machine"
                f" ({r['gate_busy_pct']} % busy after waiting {r.get('gate_wait_s', '?')} s)" for r in busy]
    out += ["", "Every run with its raw values: results.json (measurements); aggregated figures: results.json (figures).",
            ""]
    return "\n".join(out)


# ---- SVG plots -------------------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 900, 500
MARGIN = {"left": 80, "right": 60, "top": 60, "bottom": 120}
SHAPE_COLOURS = {"1 brick": "#2b6cb0", "replica 3": "#dd6b20"}
ACCESS_SHAPE_COLOURS = {"library, 1 brick": "#2b6cb0", "library, replica 3": "#90cdf4",
                        "FUSE, 1 brick": "#dd6b20", "FUSE, replica 3": "#fbd38d"}
ABSOLUTE_COLOURS = {"local": "#718096", "Mortar library": "#2b6cb0", "GlusterFS library": "#c05621",
                    "Mortar FUSE": "#90cdf4", "GlusterFS FUSE": "#fbd38d"}


def nice_step(span, ticks=6):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Scale:
    """Value → y pixel, linear from 0 or logarithmic over whole decades; ticks for the y axis.
    headroom_px: room kept above the highest value for its label, so labels never run into the title."""

    def __init__(self, values, lines, log, headroom_px):
        vals = [v for v in values if v is not None and v > 0] + list(lines)
        self.log = log
        self.top_px, self.bottom_px = MARGIN["top"], HEIGHT - MARGIN["bottom"]
        usable = 1 - headroom_px / (self.bottom_px - self.top_px)
        if log:
            floor_value = min(vals) / 1.2
            decade = 10 ** math.floor(math.log10(floor_value))
            self.lo = max(decade * m for m in (1, 2, 5) if decade * m <= floor_value * (1 + 1e-9))
            span = (math.log10(max(vals)) - math.log10(self.lo)) / usable
            needed = 10 ** (math.log10(self.lo) + span)
            decade = 10 ** math.floor(math.log10(needed))
            # stop at the next 1-2-5 step rather than the next decade: a whole empty decade squashes the bars
            self.hi = next(decade * m for m in (1, 2, 5, 10) if decade * m >= needed * (1 - 1e-9))
        else:
            self.lo = 0.0
            top = max(vals) / usable if vals else 1.0
            self.step = nice_step(top)
            self.hi = math.ceil(top / self.step - 1e-9) * self.step

    def y(self, v):
        if self.log:
            f = (math.log10(max(v, self.lo)) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.bottom_px - f * (self.bottom_px - self.top_px)

    def ticks(self):
        if self.log:
            out, decade = [], 10 ** math.floor(math.log10(self.lo) + 1e-9)
            while decade <= self.hi * 1.0001:
                out += [decade * m for m in (1, 2, 5) if self.lo * 0.9999 <= decade * m <= self.hi * 1.0001]
                decade *= 10
            return out
        n = int(round(self.hi / self.step))
        return [i * self.step for i in range(n + 1)]


def svg_text(x, y, text, size=12, anchor="middle", colour="#1a202c", weight="normal", rotate=None):
    transform = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"'
            f' font-weight="{weight}"{transform}>{escape(text)}</text>')


def tick_label(v):
    return f"{v:g}" if v < 1000 else f"{v:,.0f}"


def bar_chart_svg(title, y_label, categories, series, values, fmt, lines=(), log=False, spreads=None):
    """Grouped bars. categories: [(key, [label lines])]; series: [(name, colour)]; values[(cat, series)] → value|None.
    lines: [(value, label, dasharray)] reference lines (ratio charts). spreads[(cat, series)] → (min, max) whiskers."""
    spreads = spreads or {}
    plot_left, plot_right = MARGIN["left"], WIDTH - MARGIN["right"]
    group_w = (plot_right - plot_left) / max(len(categories), 1)
    bar_w = min(60.0, group_w * 0.8 / max(len(series), 1))
    upright = bar_w < 34  # narrow bars: value labels stand upright instead of overlapping their neighbours
    longest = max((len(fmt(v)) for v in values.values() if v is not None), default=4)
    headroom = 6.5 * longest + 12 if upright else 20
    tops = list(values.values()) + [hi for _, hi in spreads.values()]
    scale = Scale(tops, [v for v, _, _ in lines], log, headroom)
    base_y = scale.y(scale.lo)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
           f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
           svg_text(WIDTH / 2, 28, title, size=17, weight="bold")]
    # y grid and tick labels
    for t in scale.ticks():
        y = scale.y(t)
        out.append(f'<line x1="{plot_left}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        out.append(svg_text(plot_left - 8, y + 4, tick_label(t), size=11, anchor="end", colour="#4a5568"))
    y_mid = (scale.top_px + scale.bottom_px) / 2
    out.append(svg_text(22, y_mid, y_label + (" (log scale)" if log else ""), size=13, rotate=-90))
    # bars
    for ci, (cat, label_lines) in enumerate(categories):
        x0 = plot_left + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, (name, colour) in enumerate(series):
            x = x0 + si * bar_w
            v = values.get((cat, name))
            if v is None:
                out.append(svg_text(x + bar_w / 2, base_y - 4, "n/a", size=10, colour="#a0aec0"))
                continue
            y = scale.y(v)
            out.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{max(base_y - y, 0):.1f}"'
                       f' fill="{colour}"><title>{escape(f"{name}: {fmt(v)}")}</title></rect>')
            top = y
            lo_hi = spreads.get((cat, name))
            if lo_hi and lo_hi[0] != lo_hi[1]:
                y_lo, y_hi = scale.y(lo_hi[0]), scale.y(lo_hi[1])
                cx = x + bar_w / 2
                out.append(f'<path d="M{cx:.1f},{y_lo:.1f}V{y_hi:.1f}M{cx - 4:.1f},{y_lo:.1f}h8M{cx - 4:.1f},{y_hi:.1f}h8"'
                           f' stroke="#1a202c" stroke-width="1" fill="none"/>')
                top = min(top, y_hi)
            if not upright:
                out.append(svg_text(x + bar_w / 2, top - 5, fmt(v), size=11))
            else:
                out.append(svg_text(x + bar_w / 2 + 4, top - 5, fmt(v), size=10, anchor="start", rotate=-90))
        label_size = 12 if group_w >= 110 else 11  # eight fio jobs side by side need the smaller font
        for li, line in enumerate(label_lines):
            out.append(svg_text(plot_left + (ci + 0.5) * group_w, base_y + 18 + 14 * li, line, size=label_size))
    # reference lines over the bars, labelled at the right end
    for v, label, dash in lines:
        y = scale.y(v)
        out.append(f'<line x1="{plot_left}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}" stroke="#c53030"'
                   f' stroke-width="1.5" stroke-dasharray="{dash}"/>')
        out.append(svg_text(plot_right + 4, y + 4, label, size=11, anchor="start", colour="#c53030"))
    out.append(f'<line x1="{plot_left}" y1="{base_y:.1f}" x2="{plot_right}" y2="{base_y:.1f}" stroke="#1a202c"/>')
    out.append(f'<line x1="{plot_left}" y1="{scale.top_px}" x2="{plot_left}" y2="{base_y:.1f}" stroke="#1a202c"/>')
    # legend in one row under the category labels
    legend_y = HEIGHT - 28
    item_w = min(190, (plot_right - plot_left) / max(len(series), 1))
    lx = plot_left + ((plot_right - plot_left) - item_w * len(series)) / 2
    for si, (name, colour) in enumerate(series):
        x = lx + si * item_w
        out.append(f'<rect x="{x:.1f}" y="{legend_y - 11}" width="14" height="14" fill="{colour}"/>')
        out.append(svg_text(x + 20, legend_y, name, size=12, anchor="start"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def fmt_ratio_label(v):
    return f"{v:.2f}"


def ratio_lines(aim_value, aim_label):
    return [(1.0, "1.0", "6 4"), (aim_value, aim_label, "2 3")]


def use_log_for_ratios(values):
    vals = [v for v in values if v is not None and v > 0]
    return bool(vals) and (max(vals) > 5 or min(vals) < 0.1)


def keep_present(categories, series, values):
    """Drop series and categories without any value, so a plot shows what was measured (gaps still say n/a)."""
    series = [s for s in series if any(values.get((c, s[0])) is not None for c, _ in categories)]
    categories = [c for c in categories if any(values.get((c[0], s[0])) is not None for s in series)]
    return categories, series


def job_label_lines(job):
    """Short lines under a group of bars: ten fio jobs side by side leave about 75 px per label."""
    workload, jobs, iodepth = job
    seq = str(workload).startswith("seq")
    if seq and jobs == 1 and iodepth == 1:
        return [workload, "1 MiB"]
    return [workload, f"{'1 MiB' if seq else '4 KiB'} qd{iodepth}", f"×{jobs} job{'s' if jobs != 1 else ''}"]


def plot_fio_ratio(figs, access, title):
    jobs = figs.fio_jobs({s for _, m, g in SHAPES for s in (m, g)})
    values = {}
    for name, mortar, gluster in SHAPES:
        for job in jobs:
            values[(job, name)] = ratio(median_of(figs.fio(mortar, access, job)), median_of(figs.fio(gluster, access, job)))
    categories, series = keep_present([(j, job_label_lines(j)) for j in jobs],
                                      [(name, SHAPE_COLOURS[name]) for name, _, _ in SHAPES], values)
    if not series:
        return None
    return bar_chart_svg(title, "Mortar / GlusterFS (> 1: Mortar faster)", categories, series, values,
                         fmt_ratio_label, ratio_lines(1.5, "1.5×"), use_log_for_ratios(values.values()))


def plot_small_files(figs):
    ops = FILE_OPS + TREE_OPS
    values = {}
    for access, access_label in (("library", "library"), ("fuse", "FUSE")):
        for name, mortar, gluster in SHAPES:
            for op in ops:
                m, metric = small_file_cells(figs, mortar, access, op)
                g, _ = small_file_cells(figs, gluster, access, op)
                values[(op, f"{access_label}, {name}")] = mortar_vs_gluster(m, g, metric)
    categories, series = keep_present([(op, [op]) for op in ops], list(ACCESS_SHAPE_COLOURS.items()), values)
    if not series:
        return None
    return bar_chart_svg("Small files and metadata: Mortar / GlusterFS", "Mortar / GlusterFS (> 1: Mortar faster)",
                         categories, series, values, fmt_ratio_label, ratio_lines(3.0, "3× aim"),
                         use_log_for_ratios(values.values()))


def plot_absolute(figs, title, y_label, sequential):
    """1-brick absolute figures: local, Mortar/GlusterFS library, Mortar/GlusterFS FUSE per fio job."""
    _, mortar, gluster = SHAPES[0]
    jobs = [j for j in figs.fio_jobs({"local", mortar, gluster}) if str(j[0]).startswith("seq") == sequential]
    sources = {"local": ("local", "local"), "Mortar library": (mortar, "library"),
               "GlusterFS library": (gluster, "library"), "Mortar FUSE": (mortar, "fuse"),
               "GlusterFS FUSE": (gluster, "fuse")}
    values, spreads = {}, {}
    for job in jobs:
        for name, (system, access) in sources.items():
            row = figs.fio(system, access, job)
            values[(job, name)] = median_of(row)
            if row is not None and row["n"] > 1:
                spreads[(job, name)] = (row["min"], row["max"])
    categories, series = keep_present([(j, job_label_lines(j)) for j in jobs], list(ABSOLUTE_COLOURS.items()), values)
    if not series:
        return None
    vals = [v for v in values.values() if v]
    log = bool(vals) and max(vals) / min(vals) > 100  # keep slow systems visible next to the local disk
    return bar_chart_svg(title, y_label, categories, series, values, fmt_num, (), log, spreads)


def write_plots(run_dir, figs):
    plots = {"library-ratio": plot_fio_ratio(figs, "library", "fio through the library: Mortar / GlusterFS libgfapi"),
             "fuse-ratio": plot_fio_ratio(figs, "fuse", "fio through FUSE: Mortar / GlusterFS"),
             "smallfiles-ratio": plot_small_files(figs),
             "throughput": plot_absolute(figs, "Sequential throughput, 1 brick (median, min–max whiskers)",
                                         "MiB/s", True),
             "iops": plot_absolute(figs, "Random I/O, 1 brick (median, min–max whiskers)", "IOPS", False)}
    plot_dir = os.path.join(run_dir, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    written = []
    for name, svg in plots.items():
        path = os.path.join(plot_dir, name + ".svg")
        if svg is None:
            if os.path.exists(path):  # a stale plot from an earlier report of this run would contradict it
                os.remove(path)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
        written.append(name)
    return written


def plot_links(plots, wanted):
    return [f"![{alt}](plots/{name}.svg)\n" for name, alt in wanted if name in plots]


# ---- publishing ------------------------------------------------------------------------------------------------------

def publish(run_dir, target, plots):
    """Copy summary.md and the plots into target; links in summary.md point at target/plots/."""
    os.makedirs(os.path.join(target, "plots"), exist_ok=True)
    with open(os.path.join(run_dir, "summary.md"), encoding="utf-8") as f:
        summary = f.read()
    # any directory prefix before plots/ (e.g. from a summary written elsewhere) becomes relative to target
    summary = re.sub(r"\]\((?:[^)\s]*/)?plots/([^)/\s]+\.svg)\)", r"](plots/\1)", summary)
    with open(os.path.join(target, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary)
    for name in PLOT_NAMES:
        dest = os.path.join(target, "plots", name + ".svg")
        if name in plots:
            shutil.copyfile(os.path.join(run_dir, "plots", name + ".svg"), dest)
        elif os.path.exists(dest):  # the published summary no longer shows it
            os.remove(dest)


README_BEGIN = "<!-- bench-compare: latest published run (report.py --readme writes between these lines) -->"
README_END = "<!-- bench-compare: end -->"


def update_readme(readme, published_dir):
    """Puts the published summary between the README's markers: headings moved three levels down, plot links
    pointing at the published copies. A README without both markers is an error, never rewritten elsewhere."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise RunError(f"{readme} lacks the markers '{README_BEGIN}' … '{README_END}'")
    with open(os.path.join(published_dir, "summary.md"), encoding="utf-8") as f:
        summary = f.read()
    summary = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", summary, flags=re.M)
    relative = os.path.relpath(os.path.join(published_dir, "plots"), os.path.dirname(os.path.abspath(readme)))
    summary = summary.replace("](plots/", f"]({relative}/")
    text = text[: begin + len(README_BEGIN)] + "\n\n" + summary.strip() + "\n\n" + text[end:]
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text)


# ---- main ------------------------------------------------------------------------------------------------------------

def build_report(run_dir):
    meta = load_run_meta(run_dir)
    records = load_measurements(run_dir)
    figs = Figures(aggregate(records))
    costs = client_costs(records, figs)
    plots = write_plots(run_dir, figs)
    fio_md, fio_ratios = section_fio(figs, plots)
    small_md, small_ratios = section_small_files(figs, plots)
    vm_md, vm_ratios = section_vm_images(figs)
    aims = evaluate_aims(fio_ratios, small_ratios, costs, vm_ratios)
    tls_md, tls_results = section_tls(figs, costs)
    local_md, local_results = section_local_reads(figs)
    summary = "\n".join([section_header(meta), "", fio_md, small_md, vm_md, section_client_cost(costs)]
                        + ([tls_md] if tls_md else []) + ([local_md] if local_md else [])
                        + [section_aims(aims), section_notes(meta, records)])
    results = {"meta": meta, "measurements": records, "figures": figs.rows,
               "client_costs": costs, "ratios": fio_ratios + small_ratios + vm_ratios, "aims": aims,
               "tls": tls_results, "local_reads": local_results}
    with open(os.path.join(run_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    with open(os.path.join(run_dir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary)
    return summary, plots, records


def main(argv=None):
    ap = argparse.ArgumentParser(description="Report of a scripts/bench-compare.sh run (see bench/compare/FORMAT.md).")
    ap.add_argument("run_dir", metavar="RUN_DIR")
    ap.add_argument("--publish", metavar="DIR", help="also copy summary.md and plots/ into DIR (e.g. docs/benchmarks)")
    ap.add_argument("--readme", metavar="FILE", help="with --publish: put the report between FILE's bench-compare markers")
    args = ap.parse_args(argv)
    if args.readme and not args.publish:
        ap.error("--readme needs --publish (the README links the published plots)")
    try:
        summary, plots, records = build_report(args.run_dir)
    except RunError as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    print(summary)
    if not records:
        print(f"report.py: warning: no measurements under {os.path.join(args.run_dir, 'raw')}", file=sys.stderr)
    if args.publish:
        publish(args.run_dir, args.publish, plots)
        print(f"report.py: published summary.md and {len(plots)} plots to {args.publish}", file=sys.stderr)
    if args.readme:
        try:
            update_readme(args.readme, args.publish)
        except RunError as e:
            print(f"report.py: {e}", file=sys.stderr)
            return 2
        print(f"report.py: updated the latest-run section of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
