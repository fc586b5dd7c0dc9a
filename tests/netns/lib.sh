# Shared by the network-namespace tests (sourced, not run): hosts on a private bridge, nothing in the root namespace.
#
# Set before calling: prefix (unique per run, e.g. "xyz$$"), subnet (three octets, e.g. "10.213.77") and hosts
# (names in address order). netns_up makes a switch namespace "$prefix-sw" holding a bridge and one namespace per
# host, "$prefix-NAME", whose eth0 has $subnet.N/24 (N counts from 1 in $hosts order). netns_down stops every
# process in them (TERM, then KILL half a second later) and deletes them; call it from the script's EXIT trap.

source scripts/lib/credentials.sh

# netns_require NAME MORTAR: fails the test, naming it, unless MORTAR is an executable and this is root.
netns_require() {
    [ -x "$2" ] || { echo "$1: FAILED: $2 not built" >&2; exit 1; }
    [ "$(id -u)" -eq 0 ] || { echo "$1: FAILED: needs root for network namespaces" >&2; exit 1; }
}

netns_up() {
    ip netns add "$prefix-sw"
    ip -n "$prefix-sw" link add br0 type bridge
    ip -n "$prefix-sw" link set br0 up
    local number=0 host ns
    for host in $hosts; do
        number=$((number + 1))
        ns="$prefix-$host"
        ip netns add "$ns"
        ip link add eth0 netns "$ns" type veth peer name "p$number" netns "$prefix-sw"
        ip -n "$prefix-sw" link set "p$number" master br0
        ip -n "$prefix-sw" link set "p$number" up
        ip -n "$ns" addr add "$subnet.$number/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        # Brick ports (from 49152, as GlusterFS's) lie inside Linux's ephemeral range: an outgoing connection of
        # etcd or a daemon could take one first and a brick would fail to bind it. Reserve them, as a host should.
        ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_reserved_ports=49152-49251
    done
}

netns_down() {
    local host pid
    for host in $hosts sw; do
        for pid in $(ip netns pids "$prefix-$host" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    done
    sleep 0.5
    for host in $hosts sw; do
        for pid in $(ip netns pids "$prefix-$host" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$prefix-$host" 2>/dev/null || true
    done
}

# on HOST COMMAND…: runs a command in that host's namespace.
on() { local host=$1; shift; ip netns exec "$prefix-$host" "$@"; }

# netns_daemon N: starts host hN's daemon in the background, listening on $subnet.N:24007, with its state in
# $work/hN/state (certificates in its tls/), its pid in $work/hN/daemon.pid and its log in $work/hN/daemon.log.
netns_daemon() {
    local i=$1
    mkdir -p "$work/h$i/state"
    on "h$i" "$mortar" daemon --state-dir "$work/h$i/state" --listen "$subnet.$i:24007" \
        --advertise "$subnet.$i" --pid-file "$work/h$i/daemon.pid" >>"$work/h$i/daemon.log" 2>&1 &
}

# netns_wait_daemon TEST N: waits up to 30 s for host hN's daemon to answer; else shows its log and fails TEST.
netns_wait_daemon() {
    local i=$2
    for _ in $(seq 1 300); do
        on "h$i" "$mortar" peer status --manager "$subnet.$i:24007" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$work/h$i/daemon.log" >&2
    echo "$1: FAILED: the daemon on host $i did not answer within 30 s" >&2
    exit 1
}
