#!/usr/bin/env bash
# Volume access options across real hosts: a server and two clients, each in its own network namespace on a private
# bridge. auth.allow admits one client and refuses the other (with the reason, and EACCES from the library);
# auth.reject overrides auth.allow; server.root-squash makes root's files belong to the anonymous user; every
# change reaches the running brick without a restart, and `volume reset` undoes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
source tests/netns/lib.sh
netns_require access "$mortar"

prefix="mta$$"
work=$(mktemp -d /tmp/mortar-netns-XXXXXX)
subnet="10.213.79"
fail() { echo "access: FAILED: $*" >&2; [ -f "$work/daemon.log" ] && tail -20 "$work/daemon.log" >&2; exit 1; }

hosts="server allowed other"
cleanup() {
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT
netns_up
server="$subnet.1" allowed="$subnet.2" other="$subnet.3"
mortar_credentials "$mortar" "$work" "$work/state/tls"
export MORTAR_TLS_DIR="$work/admin"

admin() { on server "$mortar" "$@" --manager "$server:24007"; }

mkdir -p "$work/state" "$work/brick"
on server "$mortar" daemon --state-dir "$work/state" --listen "$server:24007" --advertise "$server" \
    >>"$work/daemon.log" 2>&1 &
for _ in $(seq 1 100); do admin volume list >/dev/null 2>&1 && break; sleep 0.1; done
admin volume create guarded "$server:$work/brick"
admin volume start guarded
url="mortar://$server/guarded"
echo hello >"$work/hello"

# Waits (bounded: a hang fails) until `what` holds, checking every 0.2 s; prints how long it took.
within() {
    local what=$1 check=$2 started=$SECONDS
    for _ in $(seq 1 100); do
        if eval "$check"; then echo "access: $what after $((SECONDS - started)) s"; return 0; fi
        sleep 0.2
    done
    fail "$what: not within 20 s"
}
refused() { ! on "$1" "$mortar" cat "$url/hello" >"$work/out" 2>"$work/err" && grep -q "$2" "$work/err"; }
served() { on "$1" "$mortar" cat "$url/hello" 2>"$work/err" | grep -q hello; }

on allowed "$mortar" cp "$work/hello" "$url/hello"
served other || fail "the other client is refused before any option is set: $(cat "$work/err")"

admin volume set guarded auth.allow "$server,$allowed"
admin volume get guarded auth.allow | grep -q "$allowed" || fail "volume get does not show auth.allow"
within "the other client is refused" "refused other 'not in auth.allow'"
grep -q "$other" "$work/err" || fail "the refusal does not name the client's address: $(cat "$work/err")"
served allowed || fail "the allowed client is refused: $(cat "$work/err")"

# The library's errno for a refused client is EACCES (what glfs_init and a mount report).
on other "$mortar" stat "$url/hello" 2>"$work/err" && fail "stat from a refused client succeeded"
grep -qi "permission denied\|not in auth.allow" "$work/err" || fail "stat's error is not EACCES: $(cat "$work/err")"

# A mount from a refused client fails, saying why.
mkdir -p "$work/mnt"
if on other "$mortar" mount "$url" "$work/mnt" 2>"$work/err"; then
    umount -l "$work/mnt" || true
    fail "a refused client mounted the volume"
fi
grep -q "not in auth.allow" "$work/err" || fail "the refused mount does not say why: $(cat "$work/err")"
echo "access: a refused mount says: $(head -1 "$work/err")"

admin volume set guarded auth.reject "$subnet.0/24"
within "auth.reject overrides auth.allow" "refused allowed 'auth.reject'"

admin volume reset guarded auth.reject
within "auth.reject is reset" "served allowed"
admin volume reset guarded
within "every option is reset" "served other"

# Root squash: root on a client creates files as the anonymous user; reset, as root again. The files go in a
# directory anyone may write (made by root before the squash; its mode set on the brick, as an admin may).
on allowed "$mortar" mkdir "$url/open"
chmod 1777 "$work/brick/open"
copy_as_root() { on allowed "$mortar" cp "$work/hello" "$url/open/$1-$RANDOM$RANDOM" 2>"$work/err"; }
newest() { stat -c "$2" "$(ls -t "$work"/brick/open/"$1"-* | head -1)"; }
admin volume set guarded server.root-squash on
admin volume set guarded server.anonuid 4242
within "root-squash reaches the brick" "copy_as_root squashed && [ \"\$(newest squashed %u)\" = 4242 ]"
[ "$(newest squashed %g)" = 65534 ] || fail "root's group was not squashed: $(newest squashed %g)"
admin volume reset guarded server.root-squash
within "root-squash is reset" "copy_as_root root && [ \"\$(newest root %u)\" = 0 ]"

# Option errors are one clear line.
admin volume set guarded auth.allow "not an address" 2>"$work/err" && fail "a bad auth.allow was accepted"
grep -q "auth.allow" "$work/err" || fail "a bad auth.allow's error does not name the option: $(cat "$work/err")"
admin volume set guarded no.such.option on 2>"$work/err" && fail "an unknown option was accepted"
grep -q "unknown volume option" "$work/err" || fail "an unknown option's error: $(cat "$work/err")"
echo "access: passed"
