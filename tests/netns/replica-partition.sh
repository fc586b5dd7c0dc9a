#!/usr/bin/env bash
# A brick host cut off from the manager but still reachable by clients and by the other members. Three Mortar hosts
# and a client, each in its own network namespace on a private bridge, like three-hosts.sh; host 1 runs the
# managing daemon. A `replica 3` volume has one member per host. Host 3 is then cut off from host 1 only (host 1
# is both the manager and a member; host 3 still reaches host 2 and the client). The manager must take host 3 out
# with a new epoch, and from then on host 3 can acknowledge nothing: the client's writes succeed on the two
# members left, and host 3's brick holds none of them. When the cut is undone, host 3 heals by itself and the
# three brick directories end identical.
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
name="replica-partition"
[ -x "$mortar" ] || { echo "$name: FAIL: $mortar not built" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "$name: FAIL: needs root for network namespaces" >&2; exit 1; }
command -v jq >/dev/null || { echo "$name: FAIL: needs jq (scripts/install-deps.sh installs it)" >&2; exit 1; }

prefix="mrp$$"
work=$(mktemp -d /tmp/mortar-partition-XXXXXX)
subnet="10.213.78"
hosts="h1 h2 h3 c"
started=$SECONDS

pass() { echo "$name: PASS: $*"; }
fail() {
    echo "$name: FAIL: $*" >&2
    show_logs >&2
    exit 1
}

# The daemons' and bricks' logs, the last lines of each, to explain a failure.
show_logs() {
    for log in "$work"/h?/daemon.log "$work"/h?/state/logs/bricks/*; do
        [ -f "$log" ] || continue
        echo "---- $log (last 40 lines)"
        tail -n 40 "$log"
    done
}

cleanup() {
    for host in $hosts sw; do
        for pid in $(ip netns pids "$prefix-$host" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    done
    sleep 0.5
    for host in $hosts sw; do
        for pid in $(ip netns pids "$prefix-$host" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$prefix-$host" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Hosts 1-3 are .1-.3 and the client .4, all on one bridge in a switch namespace (nothing in the root namespace).
ip netns add "$prefix-sw"
ip -n "$prefix-sw" link add br0 type bridge
ip -n "$prefix-sw" link set br0 up
i=0
for host in $hosts; do
    i=$((i + 1))
    ns="$prefix-$host"
    ip netns add "$ns"
    ip link add eth0 netns "$ns" type veth peer name p$i netns "$prefix-sw"
    ip -n "$prefix-sw" link set p$i master br0
    ip -n "$prefix-sw" link set p$i up
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

on() { local host=$1; shift; ip netns exec "$prefix-$host" "$@"; }
manager="--manager $subnet.1:24007"
volume="mortar://$subnet.1/rep"

start_daemon() {
    local i=$1
    mkdir -p "$work/h$i/state" "$work/h$i/brick"
    on "h$i" "$mortar" daemon --state-dir "$work/h$i/state" --listen "$subnet.$i:24007" \
        --advertise "$subnet.$i" --pid-file "$work/h$i/daemon.pid" >>"$work/h$i/daemon.log" 2>&1 &
}
wait_for_daemon() {
    local i=$1
    for _ in $(seq 1 100); do
        on c "$mortar" peer status --manager "$subnet.$i:24007" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "daemon on host $i did not answer within 10 s"
}

# The replica set's epoch and its members' states ("in-sync in-sync out-of-sync"), as the manager reports them.
set_json() { on c "$mortar" volume status $manager rep --json 2>/dev/null | jq -c '.replicaSets[0]'; }
epoch_of() { jq -r '.epoch' <<<"$1"; }
states_of() { jq -r '.members | join(" ")' <<<"$1"; }

# Whether the manager's last heartbeat reached each member ("true true false"), from `heal info`.
reachable() { on c "$mortar" volume heal $manager rep info --json 2>/dev/null | jq -r '[.[].reachable] | join(" ")'; }

# Polls the manager every 0.2 s until the set's states are `$1` and its heartbeats reach the members as `$2` says,
# for at most `$3` seconds; leaves the set's JSON in $set. The bound turns a hang (a member never taken out, a
# heal that never ends) into a failure. Reachability matters at the start: a brick that never came up is still
# "in-sync" until the heartbeats have missed it four times.
wait_for_members() {
    local states=$1 answers=$2 limit=$3 deadline=$((SECONDS + $3)) heard=""
    while [ $SECONDS -lt $deadline ]; do
        set=$(set_json) || set=""
        heard=$(reachable) || heard=""
        [ -n "$set" ] && [ "$(states_of "$set")" = "$states" ] && [ "$heard" = "$answers" ] && return 0
        sleep 0.2
    done
    fail "members did not become '$states' / reachable '$answers' within $limit s" \
        "(last: ${set:-no answer}; reachable: ${heard:-no answer})"
}

# Byte-compares two brick directories, leaving out the bricks' own bookkeeping under .mortar.
same_tree() { diff -r --exclude=.mortar "$1" "$2" >/dev/null; }

# Cuts (or restores) the path between host 1 and host 3 in both directions, and nothing else: a more specific
# route than the bridge's /24 makes each side's packets to the other fail at once (EHOSTUNREACH), as a firewall
# between them would. No extra package is needed (iproute2 only).
cut_h1_h3() {
    on h3 ip route add unreachable "$subnet.1/32"
    on h1 ip route add unreachable "$subnet.3/32"
}
restore_h1_h3() {
    on h3 ip route del unreachable "$subnet.1/32"
    on h1 ip route del unreachable "$subnet.3/32"
}

# Milliseconds since the epoch, for the timings printed.
now_ms() { date +%s%3N; }

for i in 1 2 3; do start_daemon "$i"; done
for i in 1 2 3; do wait_for_daemon "$i"; done
on c "$mortar" peer probe $manager "$subnet.2" >/dev/null
on c "$mortar" peer probe $manager "$subnet.3" >/dev/null
# One member per host, so no --force.
on c "$mortar" volume create $manager rep replica 3 \
    "$subnet.1:$work/h1/brick" "$subnet.2:$work/h2/brick" "$subnet.3:$work/h3/brick" >/dev/null
on c "$mortar" volume start $manager rep >/dev/null
wait_for_members "in-sync in-sync in-sync" "true true true" 15
epoch_before=$(epoch_of "$set")
pass "replica 3 over three hosts started, all members in sync in epoch $epoch_before"

# File A is written while every member is in sync: each brick holds a full copy.
mkdir -p "$work/files"
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$work/files/A"
cp "$work/files/A" "$work/files/A.old"
on c "$mortar" cp "$work/files/A" "$volume/A"
for i in 1 2 3; do
    cmp -s "$work/files/A" "$work/h$i/brick/A" || fail "host $i's brick does not hold file A byte for byte"
done
pass "file A (3 MiB) is on all three bricks"

cut_at=$(now_ms)
cut_h1_h3
echo "$name: host 3 cut off from host 1 (manager and member); it still reaches host 2 and the client"

# The manager misses 4 heartbeats (about 2 s) and takes member 2 (host 3) out with a new epoch.
wait_for_members "in-sync in-sync out-of-sync" "true true false" 20
epoch_after=$(epoch_of "$set")
[ "$epoch_after" -gt "$epoch_before" ] || fail "member 2 is out of sync but the epoch did not move ($epoch_before)"
pass "manager took host 3 out of sync after $(( $(now_ms) - cut_at )) ms: epoch $epoch_before -> $epoch_after"

# With two members in sync (min-in-sync 2 of 3) the set stays writable: a new file B, and A rewritten with its
# second MiB changed. The first write is timed: it must not wait on host 3.
head -c $((2 * 1024 * 1024 + 77)) /dev/urandom >"$work/files/B"
write_at=$(now_ms)
on c "$mortar" cp "$work/files/B" "$volume/B" || fail "writing B with host 3 cut off failed"
first_write_ms=$(( $(now_ms) - write_at ))
echo "$name: first write after the cut (2 MiB file B) took $first_write_ms ms, $(( $(now_ms) - cut_at )) ms after the cut"
head -c $((1024 * 1024)) /dev/urandom | dd of="$work/files/A" bs=1M seek=1 conv=notrunc status=none
on c "$mortar" cp "$work/files/A" "$volume/A" || fail "rewriting A with host 3 cut off failed"

# (1) Both writes read back through the volume.
for f in A B; do
    on c "$mortar" cat "$volume/$f" >"$work/files/$f.read" || fail "reading $f back failed"
    cmp -s "$work/files/$f" "$work/files/$f.read" || fail "$f read back through the volume differs from what was written"
done
pass "B and the new A read back through the volume"

# (2) Host 3 acknowledged nothing in the new epoch: the two members in sync hold the new data, and host 3's
# brick has no B and still the old A, so it took no part in either write.
for i in 1 2; do
    cmp -s "$work/files/B" "$work/h$i/brick/B" || fail "host $i's brick does not hold B"
    cmp -s "$work/files/A" "$work/h$i/brick/A" || fail "host $i's brick does not hold the new A"
done
[ ! -e "$work/h3/brick/B" ] || fail "host 3's brick holds B, written after it left the set"
cmp -s "$work/files/A.old" "$work/h3/brick/A" || fail "host 3's brick changed A after it left the set"
pass "host 3's brick has no B and the old A: it took no part in epoch $epoch_after"

restore_h1_h3
healed_at=$(now_ms)
echo "$name: cut undone"

# Heal starts by itself once host 3 answers heartbeats: out-of-sync -> healing -> in-sync, with new epochs.
wait_for_members "in-sync in-sync in-sync" "true true true" 30
pass "host 3 healed and back in sync after $(( $(now_ms) - healed_at )) ms, epoch $(epoch_of "$set")"

same_tree "$work/h1/brick" "$work/h2/brick" || fail "after heal hosts 1 and 2 differ"
same_tree "$work/h1/brick" "$work/h3/brick" || fail "after heal hosts 1 and 3 differ"
cmp -s "$work/files/B" "$work/h3/brick/B" || fail "host 3's brick lacks B after heal"
pass "the three brick directories are identical after heal"
echo "$name: all checks passed in $((SECONDS - started)) s"
