#!/usr/bin/env python3
"""Figures for scripts/bench-failover.sh: the stall around a lost host, and the Markdown table of a run.

    failover_stall.py stall ACKED KILL_TIME     the longest gap (s, two decimals) between consecutive acknowledged
                                                writes from 1 s before KILL_TIME on
    failover_stall.py table RESULTS.tsv         the run's results as a Markdown table

ACKED holds one line per acknowledged write, "N EPOCH-SECONDS", in the order they were acknowledged (the writer loop
of tests/netns/control-plane.sh). The stall is computed exactly as that test's awk does: only the lines whose time is
at least KILL_TIME - 1 count, and the figure is the largest difference between one and the next (0.00 with fewer
than two). RESULTS.tsv has a header line naming the columns in COLUMNS; the table shows them in that order.
"""
import sys

WINDOW = 1.0

COLUMNS = ("system", "case", "lost", "ping_timeout", "loss_at", "stall", "failed", "acked_after", "load_at_loss",
           "load_after", "note")
HEADINGS = {
    "system": "System",
    "case": "Case",
    "lost": "Lost host (its roles)",
    "ping_timeout": "network.ping-timeout",
    "loss_at": "Loss at (s after 1st write)",
    "stall": "Stall (s)",
    "failed": "Writes failed",
    "acked_after": "Acked after loss",
    "load_at_loss": "Load 1-min at loss",
    "load_after": "Load 1-min after",
    "note": "Note",
}


def parse_acked(lines):
    """The acknowledgement times, in file order; lines that are not "N TIME" (a partial last line) are skipped."""
    times = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        try:
            times.append(float(fields[1]))
        except ValueError:
            continue
    return times


def longest_gap(times, kill_time, window=WINDOW):
    """The largest difference between consecutive times among those >= kill_time - window (0.0 if fewer than two)."""
    longest = 0.0
    last = None
    for time in times:
        if time < kill_time - window:
            continue
        if last is not None and time - last > longest:
            longest = time - last
        last = time
    return longest


def read_results(lines):
    """Rows of a results file (tab-separated, header first) as dictionaries keyed by its header's names."""
    rows = [line.rstrip("\n").split("\t") for line in lines if line.strip()]
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, row + [""] * (len(header) - len(row)))) for row in rows[1:]]


def markdown_table(rows, columns=COLUMNS):
    """A Markdown table of the rows; the note column is left out when no row has one."""
    shown = [c for c in columns if c != "note" or any(row.get("note") for row in rows)]

    def cell(text):
        return (text or "").replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(HEADINGS.get(c, c) for c in shown) + " |",
           "|" + "|".join("---" for _ in shown) + "|"]
    for row in rows:
        out.append("| " + " | ".join(cell(row.get(c, "")) for c in shown) + " |")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) == 4 and argv[1] == "stall":
        with open(argv[2], encoding="utf-8") as acked:
            times = parse_acked(acked)
        print("%.2f" % longest_gap(times, float(argv[3])))
        return 0
    if len(argv) == 3 and argv[1] == "table":
        with open(argv[2], encoding="utf-8") as results:
            sys.stdout.write(markdown_table(read_results(results)))
        return 0
    sys.stderr.write("usage: failover_stall.py stall ACKED KILL_TIME | table RESULTS.tsv\n")
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
