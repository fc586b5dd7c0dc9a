#!/usr/bin/env bash
# `make bench`: builds Mortar in release mode, starts a private daemon and a one-brick volume under a scratch
# directory, and runs `mortar bench` against it with the brick's own disk as the baseline. Figures are ratios
# from one run; nothing here asserts a timing.
#   SIZE_MIB=1024 SECONDS=20 bash scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
configuration="${CONFIGURATION:-release}"
swift build -c "$configuration" 2>&1 | tail -1
mortar="$PWD/.build/$configuration/mortar"
work="${BENCH_DIR:-/var/tmp/mortar-bench}"
port="${BENCH_PORT:-24117}"
rm -rf "$work"; mkdir -p "$work/brick" "$work/local"
source scripts/lib/credentials.sh
mortar_credentials "$mortar" "$work" "$work/state/tls"
export MORTAR_TLS_DIR="$work/admin"
"$mortar" daemon --state-dir "$work/state" --listen "127.0.0.1:$port" --brick-port-min 24200 \
    --pid-file "$work/daemon.pid" >"$work/daemon.log" 2>&1 &
trap 'kill -TERM $(cat "$work/daemon.pid" 2>/dev/null) 2>/dev/null; wait; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do MORTAR_MANAGER="127.0.0.1:$port" "$mortar" volume list >/dev/null 2>&1 && break; sleep 0.1; done
export MORTAR_MANAGER="127.0.0.1:$port"
"$mortar" volume create bench "127.0.0.1:$work/brick"
"$mortar" volume start bench
for _ in $(seq 1 100); do "$mortar" volume status bench --json | grep -q '"online" : true' && break; sleep 0.1; done
"$mortar" bench --volume "mortar://127.0.0.1:$port/bench" --local-directory "$work/local" \
    --size-mib "${SIZE_MIB:-1024}" --seconds "${SECONDS_PER_WORKLOAD:-20}" "$@"
"$mortar" volume stop bench >/dev/null
