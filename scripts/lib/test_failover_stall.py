#!/usr/bin/env python3
"""Tests of failover_stall.py: the stall is the one tests/netns/control-plane.sh's awk computes (checked against
that awk on made-up logs), and the results table. Run with pytest or directly."""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_stall  # noqa: E402

# The figure of tests/netns/control-plane.sh, word for word.
AWK = """$2 >= t - 1 { if (seen && $2 - last > max) max = $2 - last; last = $2; seen = 1 }
        END { printf "%.2f", max }"""


def log(times):
    return ["%d %.9f\n" % (n, t) for n, t in enumerate(times)]


class StallTests(unittest.TestCase):
    def test_longest_gap_counts_from_one_second_before_the_kill(self):
        times = [100.0, 100.1, 105.0, 105.1, 108.0, 108.05, 108.1, 111.5, 111.6]
        # The 4.9 s gap ends before 107 (kill 108 - 1), so it does not count; 108.1 -> 111.5 does.
        self.assertAlmostEqual(failover_stall.longest_gap(times, 108.0), 3.4)

    def test_the_gap_that_straddles_the_window_start_does_not_count(self):
        # As in the awk: the first line inside the window only sets "last".
        times = [90.0, 99.5, 99.6]
        self.assertAlmostEqual(failover_stall.longest_gap(times, 100.0), 0.1)

    def test_fewer_than_two_writes_give_zero(self):
        self.assertEqual(failover_stall.longest_gap([], 10.0), 0.0)
        self.assertEqual(failover_stall.longest_gap([9.5], 10.0), 0.0)

    def test_parse_skips_partial_lines(self):
        self.assertEqual(failover_stall.parse_acked(["0 1.5\n", "1 2.5\n", "2\n", "3 x\n", "\n"]), [1.5, 2.5])

    def test_command_prints_two_decimals(self):
        with tempfile.NamedTemporaryFile("w", suffix=".acked", delete=False) as acked:
            acked.writelines(log([10.0, 10.05, 11.0, 15.256, 15.3]))
        try:
            out = subprocess.run([sys.executable, failover_stall.__file__, "stall", acked.name, "11.0"],
                                 check=True, capture_output=True, text=True).stdout
        finally:
            os.unlink(acked.name)
        self.assertEqual(out.strip(), "4.26")

    @unittest.skipUnless(shutil.which("awk"), "needs awk")
    def test_agrees_with_the_control_plane_awk(self):
        rng = random.Random(7)
        for _ in range(40):
            t = 1_700_000_000.0 + rng.random()
            times = []
            for _ in range(rng.randint(0, 60)):
                t += rng.choice([0.06, 0.07, 0.1, 0.5]) + rng.random() * rng.choice([0.01, 3, 40])
                times.append(t)
            kill = (times[rng.randrange(len(times))] if times else t) + rng.uniform(-2, 2)
            with tempfile.NamedTemporaryFile("w", suffix=".acked", delete=False) as acked:
                acked.writelines(log(times))
            try:
                expected = subprocess.run(["awk", "-v", "t=%.9f" % kill, AWK, acked.name],
                                          check=True, capture_output=True, text=True).stdout
                with open(acked.name, encoding="utf-8") as lines:
                    ours = failover_stall.longest_gap(failover_stall.parse_acked(lines), kill)
            finally:
                os.unlink(acked.name)
            self.assertEqual("%.2f" % ours, expected)


class TableTests(unittest.TestCase):
    HEADER = "\t".join(failover_stall.COLUMNS) + "\n"

    def test_rows_in_column_order_and_note_dropped_when_empty(self):
        rows = failover_stall.read_results([
            self.HEADER,
            "mortar\tmanager\th2 (manager)\t-\t1.5\t3.71\t0\t20\t1.20\t1.50\t\n",
            "gluster\tvolfile server\th1 (volfile server)\t42\t1.6\t>120\t0\t3\t0.90\t0.80\t\n",
        ])
        table = failover_stall.markdown_table(rows).splitlines()
        self.assertEqual(len(table), 4)
        self.assertTrue(table[0].startswith("| System | Case | Lost host"))
        self.assertNotIn("Note", table[0])
        self.assertEqual(table[2], "| mortar | manager | h2 (manager) | - | 1.5 | 3.71 | 0 | 20 | 1.20 | 1.50 |")
        self.assertIn("| >120 |", table[3])

    def test_note_kept_and_pipes_escaped(self):
        rows = failover_stall.read_results([self.HEADER, "gluster\tother\th3\t5\t21.6\t6.10\t1\t20\t2\t2\ta|b\n"])
        table = failover_stall.markdown_table(rows)
        self.assertIn("| Note |", table)
        self.assertIn("a\\|b", table)

    def test_short_rows_are_padded(self):
        rows = failover_stall.read_results([self.HEADER, "mortar\tother\n"])
        self.assertEqual(rows[0]["note"], "")
        self.assertEqual(rows[0]["case"], "other")

    def test_empty_results(self):
        self.assertEqual(failover_stall.read_results([]), [])


if __name__ == "__main__":
    unittest.main()
