#!/usr/bin/env bash
# A replica-3 volume grows from 1 x 3 to 2 x 3 across three hosts, each in its own network namespace, while a
# client on a fourth host holds it mounted: files copied in before stay on the first set; files copied in after
# `add-brick` reach the new set within a bound, every member of it holding the same ones; a rebalance then moves the
# early files the new layout places on the new set there, while the mount goes on copying, replicated on all three
# members and leaving no link file; every file reads back byte for byte through the mount and through a new client.
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
source tests/netns/lib.sh
netns_require grow "$mortar"

prefix="mtg$$"
work=$(mktemp -d /tmp/mortar-netns-XXXXXX)
subnet="10.213.79"
fail() { echo "grow: FAILED: $*" >&2; exit 1; }

hosts="h1 h2 h3 h4"
cleanup() {
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT
netns_up
mortar_credentials "$mortar" "$work" "$work/h1/state/tls" "$work/h2/state/tls" "$work/h3/state/tls"
export MORTAR_TLS_DIR="$work/admin"

for i in 1 2 3; do mkdir -p "$work/h$i/a" "$work/h$i/b"; netns_daemon "$i"; done
for i in 1 2 3; do netns_wait_daemon grow "$i"; done
manager="--manager $subnet.1:24007"
on h1 "$mortar" peer probe $manager "$subnet.2"
on h1 "$mortar" peer probe $manager "$subnet.3"
on h1 "$mortar" volume create $manager vms replica 3 \
    "$subnet.1:$work/h1/a" "$subnet.2:$work/h2/a" "$subnet.3:$work/h3/a"
on h1 "$mortar" volume start $manager vms

mkdir -p "$work/before" "$work/after" "$work/mnt"
for n in $(seq 1 30); do head -c $((n * 2999)) /dev/urandom >"$work/before/file-$n"; done
for n in $(seq 1 60); do head -c $((n * 1777)) /dev/urandom >"$work/after/file-$n"; done
# The client on host 4 mounts the volume before it grows and keeps it mounted throughout. `ip netns exec` gives it
# a mount namespace of its own, so mounting, growing and checking happen inside one shell there.
on h4 bash -c '
    set -euo pipefail
    mortar=$1 work=$2 subnet=$3 mnt=$2/mnt
    fail() { echo "grow: FAILED: $*" >&2; exit 1; }
    manager="--manager $subnet.1:24007"
    "$mortar" mount -o "tls_dir=$work/client" "mortar://$subnet.1/vms" "$mnt"
    trap "umount \"$mnt\"" EXIT
    cp -r "$work/before" "$mnt/before"

    "$mortar" volume add-brick $manager vms "$subnet.1:$work/h1/b" "$subnet.2:$work/h2/b" "$subnet.3:$work/h3/b"
    "$mortar" volume info $manager vms | grep -q "Layout: 2 generations, 1 -> 2 replica sets" \
        || fail "volume info does not show the new layout generation"
    for _ in $(seq 1 300); do
        "$mortar" volume status $manager vms --json | grep -q "\"online\" *: *false" || break
        sleep 0.1
    done

    # New files go to the new set once the mount has heard of it (it asks at most once a second): copy until one
    # lands there, within a generous bound.
    files_in() { (cd "$1" && find . -path ./.mortar -prune -o -type f -print | sort); }
    started=$SECONDS
    landed=0
    for round in $(seq 1 60); do
        cp -r "$work/after" "$mnt/after-$round"
        if [ -n "$(files_in "$work/h1/b")" ]; then landed=$round; break; fi
        sleep 0.5
    done
    [ "$landed" -gt 0 ] || fail "no file reached the new replica set within 60 rounds"
    echo "grow: files reached the new set in copy round $landed, within $((SECONDS - started)) s of add-brick"
    cp -r "$work/after" "$mnt/late"
    count=$(files_in "$work/h1/b/late" | wc -l)
    [ "$count" -gt 10 ] || fail "only $count of 60 files copied after the growth are on the new set"
    for i in 2 3; do
        [ "$(files_in "$work/h$i/b")" = "$(files_in "$work/h1/b")" ] || fail "the new set member on host $i holds other files"
    done
    [ "$(files_in "$work/h1/a/before" | wc -l)" = 30 ] || fail "files copied before the growth moved"
    echo "grow: $count of 60 late files on the new set; its three members hold the same files"
    diff -r "$work/before" "$mnt/before" || fail "files copied before the growth read back different"
    diff -r "$work/after" "$mnt/late" || fail "files copied after the growth read back different"

    # Rebalance: the files copied before move to the new set where the newest layout places them, while the mount
    # goes on copying; the manager on host 1 runs it, through each set'"'"'s primary, so every copy is replicated.
    "$mortar" volume rebalance $manager vms start
    cp -r "$work/after" "$mnt/during" &
    copier=$!
    started=$SECONDS
    timeout 300 "$mortar" volume rebalance $manager vms status --watch >"$work/rebalance.txt" \
        || { cat "$work/rebalance.txt"; fail "the rebalance did not complete within 300 s"; }
    wait "$copier" || fail "copying through the mount failed during the rebalance"
    echo "grow: rebalance completed in $((SECONDS - started)) s:"
    sed -n 1,3p "$work/rebalance.txt"
    moved=$(files_in "$work/h1/b/before" | wc -l)
    [ "$moved" -gt 5 ] || fail "only $moved of the 30 files copied before the growth moved to the new set"
    [ $(( moved + $(files_in "$work/h1/a/before" | wc -l) )) = 30 ] || fail "a file copied before is on both sets or neither"
    for set in a b; do
        for i in 2 3; do
            [ "$(files_in "$work/h$i/$set")" = "$(files_in "$work/h1/$set")" ] \
                || fail "member $i of set $set holds other files after the rebalance"
        done
    done
    left=$(find "$work"/h[123]/[ab] -path "*/.mortar" -prune -o -type f -perm 1000 -print | wc -l)
    [ "$left" = 0 ] || fail "$left link files left on the bricks after the rebalance"
    echo "grow: $moved of 30 early files moved to the new set, on all three of its members; no link file left"
    diff -r "$work/before" "$mnt/before" || fail "files moved by the rebalance read back different"
    diff -r "$work/after" "$mnt/during" || fail "files copied during the rebalance read back different"
' grow-client "$mortar" "$work" "$subnet" || fail "the client on host 4 (see above)"

mkdir -p "$work/back"
on h4 "$mortar" cp -r "mortar://$subnet.1/vms/late" "$work/back/late"
diff -r "$work/after" "$work/back/late" || fail "a new client reads the late files back different"
on h4 "$mortar" cp -r "mortar://$subnet.1/vms/before" "$work/back/before"
diff -r "$work/before" "$work/back/before" || fail "a new client reads the moved files back different"
echo "grow: every file reads back identical through the mount and through a new client"
