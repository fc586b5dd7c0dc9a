#!/usr/bin/env python3
"""Checks the Grafana dashboard: the committed file is what make_dashboard.py writes, it is valid dashboard JSON
(unique panel ids, every target with a query), and every metric family its queries use is one Mortar exports
(the keys of Sources/Metrics/MetricCatalog.swift; histogram queries use the family's _bucket series)."""
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_dashboard  # noqa: E402

CATALOG = make_dashboard.ROOT / "Sources" / "Metrics" / "MetricCatalog.swift"


def exported_families():
    return set(re.findall(r'"(mortar_[a-z_]+)":', CATALOG.read_text()))


def queried_series(dashboard):
    series = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            series.update(re.findall(r"\b(mortar_[a-z_]+)", target["expr"]))
    return series


class DashboardTests(unittest.TestCase):
    def test_committed_file_is_generated(self):
        self.assertEqual(make_dashboard.OUTPUT.read_text(), make_dashboard.rendered(),
                         "docs/grafana/mortar.json differs: run python3 scripts/make_dashboard.py")

    def test_queries_use_exported_families_only(self):
        families = exported_families()
        self.assertIn("mortar_brick_operations_total", families)  # the catalog was read
        for series in queried_series(json.loads(make_dashboard.OUTPUT.read_text())):
            family = re.sub(r"_bucket$", "", series)
            self.assertIn(family, families, f"the dashboard queries {series}, which Mortar does not export")

    def test_every_exported_family_is_on_the_dashboard(self):
        shown = {re.sub(r"_bucket$", "", s) for s in queried_series(make_dashboard.dashboard())}
        self.assertEqual(exported_families() - shown, set(), "families no panel shows")

    def test_panels_are_well_formed(self):
        dashboard = make_dashboard.dashboard()
        ids = [panel["id"] for panel in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            self.assertTrue(panel["targets"], f"panel {panel['title']} has no query")
            for target in panel["targets"]:
                self.assertEqual(target["expr"].count("("), target["expr"].count(")"), target["expr"])

    def test_queries_parse_as_promql(self):
        """promtool (Debian's prometheus package; install-deps installs it) parses every query as a recording rule,
        with Grafana's variables given values. Without promtool this fails: it does not skip."""
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: run scripts/install-deps.sh")
        rules = ["groups:", "  - name: dashboard", "    rules:"]
        for number, series_panel in enumerate(p for p in make_dashboard.dashboard()["panels"] if p["type"] != "row"):
            for target in series_panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", "1m").replace("$volume", ".*")
                rules += [f"      - record: dashboard:panel{number}:{target['refId'].lower()}",
                          f"        expr: {json.dumps(expr)}"]
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
            file.write("\n".join(rules) + "\n")
            file.flush()
            checked = subprocess.run([promtool, "check", "rules", file.name], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)

    def test_check_mode_notices_a_stale_file(self):
        saved = make_dashboard.OUTPUT.read_text()
        try:
            make_dashboard.OUTPUT.write_text(saved.replace("Mortar", "Other", 1))
            self.assertEqual(make_dashboard.main(["make_dashboard.py", "--check"]), 1)
        finally:
            make_dashboard.OUTPUT.write_text(saved)
        self.assertEqual(make_dashboard.main(["make_dashboard.py", "--check"]), 0)


if __name__ == "__main__":
    unittest.main()
