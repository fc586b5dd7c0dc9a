#!/usr/bin/env python3
"""Writes docs/grafana/mortar.json, the Grafana dashboard over the metrics `mortar daemon --metrics-listen` and
client processes (`mortar mount -o metrics=HOST:PORT`, the Swift library's `ClientMetrics`) serve.

The dashboard is generated, not hand-edited, so every panel's query is a line here that a reviewer can read and
`test_dashboard.py` can check against the metric families Mortar exports (Sources/Metrics/MetricCatalog.swift).

    python3 scripts/make_dashboard.py            # rewrite docs/grafana/mortar.json
    python3 scripts/make_dashboard.py --check    # exit 1 if the file differs from what this script writes
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "grafana" / "mortar.json"
SELECT = 'volume=~"$volume"'

# (title, unit, [(query, legend)]) per row: what an operator looks at first on top.
ROWS = [
    ("Requests", [
        ("Requests per second, by operation", "reqps",
         [(f"sum by (operation) (rate(mortar_brick_operations_total{{{SELECT}}}[$__rate_interval]))", "{{operation}}")]),
        ("Errors per second, by operation and errno", "reqps",
         [(f"sum by (operation, errno) (rate(mortar_brick_operation_errors_total{{{SELECT}}}[$__rate_interval]))",
           "{{operation}} {{errno}}")]),
        ("p99 latency, by operation", "s",
         [("histogram_quantile(0.99, sum by (le, operation) "
           f"(rate(mortar_brick_operation_duration_seconds_bucket{{{SELECT}}}[$__rate_interval])))", "{{operation}}")]),
        ("p50 latency, by operation", "s",
         [("histogram_quantile(0.5, sum by (le, operation) "
           f"(rate(mortar_brick_operation_duration_seconds_bucket{{{SELECT}}}[$__rate_interval])))", "{{operation}}")]),
    ]),
    ("Bricks", [
        ("Bytes per second, by brick", "Bps",
         [(f"sum by (volume, brick) (rate(mortar_brick_read_bytes_total{{{SELECT}}}[$__rate_interval]))",
           "read {{volume}}/{{brick}}"),
          (f"sum by (volume, brick) (rate(mortar_brick_written_bytes_total{{{SELECT}}}[$__rate_interval]))",
           "written {{volume}}/{{brick}}")]),
        ("Requests in flight, and waiting for an I/O thread", "short",
         [(f"sum by (volume, brick) (mortar_brick_requests_in_flight{{{SELECT}}})", "in flight {{volume}}/{{brick}}"),
          (f"sum by (volume, brick) (mortar_brick_requests_queued{{{SELECT}}})", "queued {{volume}}/{{brick}}")]),
        ("Connections and open files", "short",
         [(f"sum by (volume, brick) (mortar_brick_connections{{{SELECT}}})", "connections {{volume}}/{{brick}}"),
          (f"sum by (volume, brick) (mortar_brick_open_files{{{SELECT}}})", "open files {{volume}}/{{brick}}")]),
        ("Connections refused before being served, per second", "reqps",
         [(f"sum by (volume, brick, reason) (rate(mortar_brick_refused_connections_total{{{SELECT}}}[$__rate_interval]))",
           "{{volume}}/{{brick}} {{reason}}")]),
        ("Bricks per daemon, and failed scrapes", "short",
         [("sum by (instance, state) (mortar_daemon_bricks)", "{{instance}} {{state}}"),
          ("sum by (instance) (increase(mortar_daemon_brick_scrape_errors_total[$__rate_interval]))",
           "{{instance}} failed scrapes")]),
    ]),
    ("Replication and heal", [
        ("Members by state (each set, as its members see it)", "short",
         [(f"max by (volume, set, state) (mortar_replica_set_members{{{SELECT}}})", "{{volume}} set {{set}} {{state}}")]),
        ("Epoch of each set", "short",
         [(f"max by (volume, set) (mortar_replica_member_epoch{{{SELECT}}})", "{{volume}} set {{set}}")]),
        ("Heal backlog: files and directories", "short",
         [(f"max by (volume, set, for_member) (mortar_heal_pending_files{{{SELECT}}})",
           "{{volume}} set {{set}} member {{for_member}}")]),
        ("Forwards from primaries: p99 latency by member", "s",
         [("histogram_quantile(0.99, sum by (le, volume, to_member) "
           f"(rate(mortar_replica_forward_duration_seconds_bucket{{{SELECT}}}[$__rate_interval])))",
           "{{volume}} to member {{to_member}}")]),
        ("Forwards that failed, per second", "reqps",
         [(f"sum by (volume, to_member) (rate(mortar_replica_forward_failures_total{{{SELECT}}}[$__rate_interval]))",
           "{{volume}} to member {{to_member}}")]),
        ("Heal backlog: changed bytes, and heal copy rate", "bytes",
         [(f"max by (volume, set, for_member) (mortar_heal_pending_bytes{{{SELECT}}})",
           "backlog {{volume}} set {{set}} member {{for_member}}"),
          (f"sum by (volume) (rate(mortar_heal_copied_bytes_total{{{SELECT}}}[$__rate_interval]))",
           "copied per second {{volume}}")]),
    ]),
    ("Rebalance", [
        ("Rebalance in progress, by volume", "short",
         [(f"max by (volume) (mortar_rebalance_running{{{SELECT}}})", "{{volume}}")]),
        ("Files moved per second, and skipped or failed", "short",
         [(f"sum by (volume) (deriv(mortar_rebalance_files{{{SELECT},outcome=\"moved\"}}[$__rate_interval]))",
           "moved per second {{volume}}"),
          (f"max by (volume, outcome) (mortar_rebalance_files{{{SELECT},outcome=~\"skipped|failed\"}})",
           "{{outcome}} {{volume}}")]),
        ("Bytes moved per second", "Bps",
         [(f"sum by (volume) (deriv(mortar_rebalance_moved_bytes{{{SELECT}}}[$__rate_interval]))", "{{volume}}")]),
        ("Files scanned, and run time", "short",
         [(f"max by (volume) (mortar_rebalance_files{{{SELECT},outcome=\"scanned\"}})", "scanned {{volume}}"),
          (f"max by (volume) (mortar_rebalance_seconds{{{SELECT}}})", "seconds {{volume}}")]),
    ]),
    ("Clients (mounts and applications with client metrics)", [
        ("Client requests per second, by operation", "reqps",
         [(f"sum by (operation) (rate(mortar_client_operations_total{{{SELECT}}}[$__rate_interval]))", "{{operation}}"),
          (f"sum by (operation, errno) (rate(mortar_client_operation_errors_total{{{SELECT}}}[$__rate_interval]))",
           "errors {{operation}} {{errno}}")]),
        ("Client p99 latency, by operation", "s",
         [("histogram_quantile(0.99, sum by (le, operation) "
           f"(rate(mortar_client_operation_duration_seconds_bucket{{{SELECT}}}[$__rate_interval])))", "{{operation}}")]),
        ("Client bytes per second", "Bps",
         [(f"sum by (volume, instance) (rate(mortar_client_read_bytes_total{{{SELECT}}}[$__rate_interval]))",
           "read {{volume}} {{instance}}"),
          (f"sum by (volume, instance) (rate(mortar_client_written_bytes_total{{{SELECT}}}[$__rate_interval]))",
           "written {{volume}} {{instance}}")]),
        ("Client requests in flight", "short",
         [(f"sum by (volume, instance) (mortar_client_requests_in_flight{{{SELECT}}})", "{{volume}} {{instance}}")]),
    ]),
]


def dashboard():
    panels = []
    panel_id = 1
    y = 0
    for row_title, row_panels in ROWS:
        panels.append({"type": "row", "title": row_title, "id": panel_id, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id += 1
        y += 1
        for index, (title, unit, queries) in enumerate(row_panels):
            panels.append({
                "type": "timeseries",
                "title": title,
                "id": panel_id,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": y + 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + number), "expr": expr, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for number, (expr, legend) in enumerate(queries)
                ],
            })
            panel_id += 1
        y += 8 * ((len(row_panels) + 1) // 2)
    return {
        "title": "Mortar",
        "uid": "mortar-overview",
        "description": "Mortar volumes, bricks, latency and heal, from `mortar daemon --metrics-listen`.",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "tags": ["mortar", "storage"],
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "volume", "type": "query", "label": "Volume", "multi": True, "includeAll": True,
             "allValue": ".*", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": "label_values(mortar_brick_operations_total, volume)", "refresh": 2},
        ]},
        "panels": panels,
    }


def rendered():
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def main(arguments):
    text = rendered()
    if arguments[1:] == ["--check"]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT.relative_to(ROOT)} is not what scripts/make_dashboard.py writes; run it", file=sys.stderr)
            return 1
        return 0
    if arguments[1:]:
        print("usage: make_dashboard.py [--check]", file=sys.stderr)
        return 2
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
