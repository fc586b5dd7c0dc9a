#!/usr/bin/env bash
# Three Mortar hosts and a client, each in its own network namespace on a private bridge (no traffic leaves the
# machine). One daemon per host; the first manages the cluster and probes the other two; a volume has a brick on
# every host; a client on a fourth host copies files in, which spread across the hosts; one host's daemon is
# restarted mid-test: its brick keeps serving while it is down and is adopted (same pid) when it is back, and every
# file still reads back byte for byte.
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
source tests/netns/lib.sh
netns_require three-hosts "$mortar"

prefix="mtr$$"
work=$(mktemp -d /tmp/mortar-netns-XXXXXX)
subnet="10.213.77"
fail() { echo "three-hosts: FAILED: $*" >&2; exit 1; }

hosts="h1 h2 h3 h4"
cleanup() {
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT
netns_up
# One cluster CA; each host's daemon finds its certificate in STATE/tls; every CLI call here is the admin's.
mortar_credentials "$mortar" "$work" "$work/h1/state/tls" "$work/h2/state/tls" "$work/h3/state/tls"
export MORTAR_TLS_DIR="$work/admin"

mkdir -p "$work/h1/brick" "$work/h2/brick" "$work/h3/brick"
for i in 1 2 3; do netns_daemon "$i"; done
for i in 1 2 3; do netns_wait_daemon three-hosts "$i"; done
echo "three daemons up"

manager="--manager $subnet.1:24007"
on h1 "$mortar" peer probe $manager "$subnet.2"
on h1 "$mortar" peer probe $manager "$subnet.3"
on h1 "$mortar" peer status $manager
on h1 "$mortar" volume create $manager spread "$subnet.1:$work/h1/brick" "$subnet.2:$work/h2/brick" \
    "$subnet.3:$work/h3/brick"
on h1 "$mortar" volume start $manager spread
on h1 "$mortar" volume status $manager spread

# The client lives on host 4 and reaches the manager and the bricks only over the bridge.
volume="mortar://$subnet.1/spread"
mkdir -p "$work/source"
for n in $(seq 1 30); do head -c $((n * 3001)) /dev/urandom >"$work/source/file-$n"; done
on h4 "$mortar" cp -r "$work/source" "$volume/data"
for i in 1 2 3; do
    count=$(find "$work/h$i/brick/data" -type f | wc -l)
    echo "host $i holds $count files"
    [ "$count" -gt 0 ] || fail "host $i holds none of the 30 files: they did not spread"
done

# Restart host 2's daemon: its brick keeps serving while no daemon runs there, and the new daemon adopts it.
brick_pid() { pgrep -f -- "--export $work/h2/brick --port" || true; }
brick2=$(brick_pid)
[ -n "$brick2" ] || fail "host 2 runs no brick process"
daemon2=$(cat "$work/h2/daemon.pid")
kill -TERM "$daemon2"
for _ in $(seq 1 100); do kill -0 "$daemon2" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$daemon2" 2>/dev/null || fail "host 2's daemon did not exit within 10 s of SIGTERM"
[ "$(brick_pid)" = "$brick2" ] || fail "host 2's brick stopped with its daemon"
mkdir -p "$work/while-down"
on h4 "$mortar" cp -r "$volume/data" "$work/while-down/data"
diff -r "$work/source" "$work/while-down/data" || fail "files read while host 2's daemon was down differ"
echo "three-hosts: all 30 files read back while host 2's daemon was down (its brick, pid $brick2, kept serving)"
netns_daemon 2
netns_wait_daemon three-hosts 2
for _ in $(seq 1 100); do
    on h4 "$mortar" volume status $manager spread --json 2>/dev/null | grep -q '"online" *: *false' || break
    sleep 0.1
done

mkdir -p "$work/back"
on h4 "$mortar" cp -r "$volume/data" "$work/back/data"
diff -r "$work/source" "$work/back/data" || fail "files read back after the restart differ"
[ "$(brick_pid)" = "$brick2" ] || fail "host 2's new daemon started another brick (pid $(brick_pid)) instead of adopting $brick2"
echo "three-hosts: all 30 files read back identical after restarting host 2's daemon"
