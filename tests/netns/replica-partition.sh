#!/usr/bin/env bash
# A brick host cut off from the manager but still reachable by clients and by the other members. Three Mortar hosts
# and a client, each in its own network namespace on a private bridge, like three-hosts.sh; host 1 runs the
# managing daemon. A `replica 3` volume has one member per host. Host 3 is then cut off from host 1 only (host 1
# is both the manager and a member; host 3 still reaches host 2 and the client). The manager must take host 3 out
# with a new epoch, and from then on host 3 can acknowledge nothing: the client's writes succeed on the two members
# left, host 3's brick holds none of them, and a write that a client with the old view sends to host 3 is not
# acknowledged unless the members in sync hold it. When the cut is undone, host 3 heals by itself and the three
# brick directories end identical.
#
# Needs root, iproute2, jq, python3, getfattr (attr) and FUSE (/dev/fuse, fusermount3): scripts/install-deps.sh
# installs them. The cut is made with routes, so no firewall package is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
name="replica-partition"
[ -x "$mortar" ] || { echo "$name: FAIL: $mortar not built" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "$name: FAIL: needs root for network namespaces" >&2; exit 1; }
for tool in jq python3 getfattr pgrep; do
    command -v "$tool" >/dev/null || { echo "$name: FAIL: needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -c /dev/fuse ] || { echo "$name: FAIL: needs /dev/fuse for the client with an old view" >&2; exit 1; }

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

# The daemons', bricks' and mount's logs, the last lines of each, to explain a failure.
show_logs() {
    for log in "$work"/h?/daemon.log "$work"/h?/state/logs/bricks/* "$work/mount.log"; do
        [ -f "$log" ] || continue
        echo "---- $log (last 30 lines)"
        tail -n 30 "$log"
    done
}

source tests/netns/lib.sh
cleanup() {
    # The descriptor held on the FUSE mount first, so the mount can go away with its process.
    exec 5>&-
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT

# Hosts 1-3 are .1-.3 and the client .4, all on one bridge in a switch namespace (nothing in the root namespace).
netns_up
# One cluster CA; each host's daemon finds its certificate in STATE/tls; every CLI call here is the admin's.
mortar_credentials "$mortar" "$work" "$work/h1/state/tls" "$work/h2/state/tls" "$work/h3/state/tls"
export MORTAR_TLS_DIR="$work/admin"

manager=(--manager "$subnet.1:24007")
volume="mortar://$subnet.1/rep"

# The replica set as the manager reports it: its epoch and its members' states ("in-sync in-sync out-of-sync").
set_json() { on c "$mortar" volume status "${manager[@]}" rep --json 2>/dev/null | jq -c '.replicaSets[0]'; }
epoch_of() { jq -r '.epoch' <<<"$1"; }
states_of() { jq -r '.members | join(" ")' <<<"$1"; }
# Whether the manager's last heartbeat reached each member ("true true false"), from `heal info`.
reachable() {
    on c "$mortar" volume heal "${manager[@]}" rep info --json 2>/dev/null | jq -r '[.[].reachable] | join(" ")'
}

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

# Cuts (or restores) the path between host 1 and host 3 in both directions, and nothing else: a route more specific
# than the bridge's /24 makes each side's packets to the other fail at once (EHOSTUNREACH), as a firewall between
# them would. iproute2 alone does it.
cut_h1_h3() {
    on h3 ip route add unreachable "$subnet.1/32"
    on h1 ip route add unreachable "$subnet.3/32"
}
restore_h1_h3() {
    on h3 ip route del unreachable "$subnet.1/32"
    on h1 ip route del unreachable "$subnet.3/32"
}

now_ms() { date +%s%3N; }
# The first 4 KiB of a file, as the count of its non-zero bytes (0: the zeros of the old-view write landed).
nonzero_head() { head -c 4096 "$1" | tr -d '\0' | wc -c; }
# Which bricks hold the old-view write of `$1`, as "host 1 no, host 2 no, host 3 yes".
zeros_on() {
    local i held=""
    for i in 1 2 3; do
        [ "$(nonzero_head "$work/h$i/brick/$1")" = 0 ] && held+="host $i yes" || held+="host $i no"
        [ $i = 3 ] || held+=", "
    done
    echo "$held"
}

# Which member is `$1`'s primary (a file on host 1's brick) when members `$2` (e.g. "0 1 2") are in sync: the same
# rendezvous hash as ReplicaSetView.primary(for:) over the FileID in the brick's trusted.mortar.id (16 bytes,
# big-endian high then low). Kept in step with ReplicaSetView.score; check 2 says so if they drift apart.
primary_of() {
    local id members
    read -ra members <<<"$2"
    id=$(getfattr --absolute-names -e hex -n trusted.mortar.id "$1" 2>/dev/null | sed -n 's/^trusted.mortar.id=0x//p')
    [ ${#id} -eq 32 ] || fail "no FileID on $1"
    python3 - "$id" "${members[@]}" <<'EOF'
import sys
mask = (1 << 64) - 1
high, low = int(sys.argv[1][:16], 16), int(sys.argv[1][16:], 16)
def score(member):
    value = high ^ ((low * 0x9E3779B97F4A7C15) & mask) ^ ((member * 0xD1B54A32D192ED03) & mask)
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
    return value ^ (value >> 31)
print(max((int(member) for member in sys.argv[2:]), key=score))
EOF
}

start_volume() {
    for i in 1 2 3; do mkdir -p "$work/h$i/brick"; netns_daemon "$i"; done
    for i in 1 2 3; do netns_wait_daemon replica-partition "$i"; done
    on c "$mortar" peer probe "${manager[@]}" "$subnet.2" >/dev/null
    on c "$mortar" peer probe "${manager[@]}" "$subnet.3" >/dev/null
    # One member per host, so no --force.
    on c "$mortar" volume create "${manager[@]}" rep replica 3 \
        "$subnet.1:$work/h1/brick" "$subnet.2:$work/h2/brick" "$subnet.3:$work/h3/brick" >/dev/null
    on c "$mortar" volume start "${manager[@]}" rep >/dev/null
    wait_for_members "in-sync in-sync in-sync" "true true true" 15
    epoch_before=$(epoch_of "$set")
    pass "replica 3 over three hosts started, all members in sync and answering in epoch $epoch_before"
}

# File A, 3 MiB, written while every member is in sync: each brick holds a full copy. Small files S1..S24 give
# check 2 a file whose primary is host 3 in this epoch (each is with odds 1 in 3).
write_initial_files() {
    mkdir -p "$work/files" "$work/small"
    head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$work/files/A"
    cp "$work/files/A" "$work/files/A.old"
    on c "$mortar" cp "$work/files/A" "$volume/A"
    for n in $(seq 1 24); do head -c 65536 /dev/urandom >"$work/small/S$n"; done
    on c "$mortar" cp -r "$work/small" "$volume/small"
    for i in 1 2 3; do
        cmp -s "$work/files/A" "$work/h$i/brick/A" || fail "host $i's brick does not hold file A byte for byte"
        diff -r "$work/small" "$work/h$i/brick/small" >/dev/null || fail "host $i's brick does not hold small/"
    done
    pass "file A (3 MiB) and 24 small files are on all three bricks"
}

# A client that keeps the view of the epoch before the cut: a FUSE mount made now, holding open (descriptor 5) a
# file whose primary is host 3. After the cut its write goes straight to host 3's brick, stamped with the old
# epoch, which host 3 still believes current: only the members' rules can stop host 3 acknowledging it. The mount
# lives in the client namespace's own mount namespace; the script reaches it through /proc/PID/root.
open_old_view_client() {
    stale=""
    for n in $(seq 1 24); do
        if [ "$(primary_of "$work/h1/brick/small/S$n" "0 1 2")" = 2 ]; then stale="small/S$n"; break; fi
    done
    [ -n "$stale" ] || fail "none of the 24 small files has host 3 as its primary"
    mkdir -p "$work/mnt"
    on c "$mortar" mount -f "$volume" "$work/mnt" >"$work/mount.log" 2>&1 &
    local launcher=$! pid=""
    for _ in $(seq 1 100); do
        pid=$(pgrep -P "$launcher" -x mortar || echo "$launcher")
        grep -q " $work/mnt " "/proc/$pid/mountinfo" 2>/dev/null && break
        sleep 0.1
    done
    grep -q " $work/mnt " "/proc/$pid/mountinfo" 2>/dev/null || fail "the FUSE mount did not appear within 10 s"
    mnt="/proc/$pid/root$work/mnt"
    exec 5<>"$mnt/$stale"
    cmp -s "$mnt/$stale" "$work/small/${stale#small/}" || fail "$stale read through the mount differs"
    echo "$name: a mounted client holds $stale open (its primary is host 3 in epoch $epoch_before)"
}

cut_and_wait_for_new_epoch() {
    cut_at=$(now_ms)
    cut_h1_h3
    echo "$name: host 3 cut off from host 1 (manager and member); it still reaches host 2 and the client"
    # The manager misses 4 heartbeats (about 2 s) and takes member 2 (host 3) out with a new epoch.
    wait_for_members "in-sync in-sync out-of-sync" "true true false" 20
    epoch_after=$(epoch_of "$set")
    [ "$epoch_after" -gt "$epoch_before" ] || fail "member 2 is out of sync but the epoch did not move ($epoch_before)"
    pass "manager took host 3 out of sync $(($(now_ms) - cut_at)) ms after the cut: epoch $epoch_before -> $epoch_after"
}

# With two members in sync (min-in-sync 2 of 3) the set stays writable: a new file B, and A rewritten with its
# second MiB changed, from fresh clients (which fetch the new view). The first write is timed: it must not wait
# on host 3.
write_during_cut() {
    head -c $((2 * 1024 * 1024 + 77)) /dev/urandom >"$work/files/B"
    local write_at
    write_at=$(now_ms)
    on c "$mortar" cp "$work/files/B" "$volume/B" || fail "writing B with host 3 cut off failed"
    echo "$name: first write after the cut (new 2 MiB file B) took $(($(now_ms) - write_at)) ms," \
        "$(($(now_ms) - cut_at)) ms after the cut"
    head -c $((1024 * 1024)) /dev/urandom | dd of="$work/files/A" bs=1M seek=1 conv=notrunc status=none
    on c "$mortar" cp "$work/files/A" "$volume/A" || fail "rewriting A with host 3 cut off failed"
    # Check 1: both writes read back through the volume.
    for f in A B; do
        on c "$mortar" cat "$volume/$f" >"$work/files/$f.read" || fail "reading $f back failed"
        cmp -s "$work/files/$f" "$work/files/$f.read" || fail "$f read back through the volume differs"
    done
    pass "check 1: B and the new A were written and read back through the volume"
}

# Check 2: the old-view client writes 4 KiB of zeros at the start of its open file. Host 3 may answer with an
# error (the client then gives up or retries on the new primary), but it must not acknowledge: if the write
# succeeds, the two members in sync must hold it.
write_with_old_view() {
    local write_at elapsed outcome
    write_at=$(now_ms)
    if timeout 45 bash -c 'head -c 4096 /dev/zero >&5' 2>"$work/stale.err"; then outcome=acknowledged; else
        outcome="refused ($(tail -n 1 "$work/stale.err"))"
    fi
    elapsed=$(($(now_ms) - write_at))
    [ "$elapsed" -lt 45000 ] || fail "check 2: the old-view write to host 3 hung for 45 s"
    echo "$name: old-view write to $stale: $outcome after $elapsed ms; on the bricks: $(zeros_on "$stale")"
    if [ "$outcome" = acknowledged ]; then
        for i in 1 2; do
            [ "$(nonzero_head "$work/h$i/brick/$stale")" = 0 ] ||
                fail "check 2: a write sent to host 3 in epoch $epoch_before was acknowledged, and host $i" \
                    "(in sync in epoch $epoch_after) does not hold it"
        done
    fi
    pass "check 2: the old-view write sent to host 3 was not acknowledged by host 3 alone"
}

# Check 3: host 3 took part in nothing in the new epoch: the members in sync hold the new data, and host 3's brick
# has no B and still the old A.
check_host3_untouched() {
    for i in 1 2; do
        cmp -s "$work/files/B" "$work/h$i/brick/B" || fail "host $i's brick does not hold B"
        cmp -s "$work/files/A" "$work/h$i/brick/A" || fail "host $i's brick does not hold the new A"
    done
    [ ! -e "$work/h3/brick/B" ] || fail "host 3's brick holds B, written after it left the set"
    cmp -s "$work/files/A.old" "$work/h3/brick/A" || fail "host 3's brick changed A after it left the set"
    pass "check 3: host 3's brick has no B and the old A: it took no part in epoch $epoch_after"
}

# Heal starts by itself once host 3 answers heartbeats again: out-of-sync -> healing -> in-sync, with new epochs.
# Then every brick must hold the same bytes; the file the old-view client wrote is compared first, by name, since
# host 3 may have applied that write on its own before refusing it.
heal_and_compare() {
    restore_h1_h3
    local restored_at
    restored_at=$(now_ms)
    echo "$name: cut undone"
    wait_for_members "in-sync in-sync in-sync" "true true true" 30
    pass "host 3 healed and in sync $(($(now_ms) - restored_at)) ms after the cut was undone, epoch $(epoch_of "$set")"
    cmp -s "$work/h1/brick/$stale" "$work/h3/brick/$stale" ||
        fail "after heal host 3's $stale differs from host 1's (first 4 KiB non-zero bytes: host 1" \
            "$(nonzero_head "$work/h1/brick/$stale"), host 3 $(nonzero_head "$work/h3/brick/$stale")):" \
            "host 3 kept a write it applied in epoch $epoch_before and never acknowledged, yet is in sync"
    for i in 2 3; do
        diff -r --exclude=.mortar "$work/h1/brick" "$work/h$i/brick" >"$work/diff" ||
            fail "after heal the bricks of host 1 and host $i differ: $(head -n 5 "$work/diff")"
    done
    pass "the three brick directories are identical after heal"
}

start_volume
write_initial_files
open_old_view_client
cut_and_wait_for_new_epoch
write_during_cut
write_with_old_view
check_host3_untouched
heal_and_compare
echo "$name: all checks passed in $((SECONDS - started)) s"
