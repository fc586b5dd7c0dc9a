# shellcheck shell=bash disable=SC2034
# scripts/bench-lib.sh — helpers shared by the fio benchmark scripts (sourced, not run).
# The same quiet-CPU gate, cache drop and port check as scripts/bench-gfapi.sh (which keeps its own copy).
# The caller sets QUIET_PCT (busy % below which the machine counts as quiet) and QUIET_MAX (longest wait, s).

# Whole-machine CPU busy % over one second, from /proc/stat.
cpu_busy_1s() {
    local a b
    a=$(awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat); sleep 1
    b=$(awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; if (dt <= 0) dt = 1;
        printf "%d", 100 * (dt - (y[2] - x[2])) / dt }'
}

# Waits until the machine is quiet (CPU busy < QUIET_PCT) or QUIET_MAX seconds have passed. Sets GATE_BUSY (the
# last busy % seen: ≥ QUIET_PCT means the run started on a busy machine) and GATE_WAIT (seconds waited).
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

# Empties the page cache (client and bricks share this host, so both sides start cold).
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Whether something listens on TCP port $1.
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Seconds since the epoch with nanoseconds, for timestamps the summary subtracts.
now() { date +%s.%N; }

# One-line figure of a fio JSON result: "N MiB/s" (sequential) or "N IOPS", plus fio's error code.
fio_figure() {  # json workload
    jq -r --arg w "$2" '.jobs[0] as $j | (if ($w | test("read")) then $j.read else $j.write end) as $x
        | if ($w | startswith("seq")) then "\($x.bw / 1024 | floor) MiB/s" else "\($x.iops | floor) IOPS" end
          + " error=\($j.error)"' "$1" 2>/dev/null || echo "no result"
}
