#!/usr/bin/env bash
# The trust boundary across real hosts: a server, an allowed client and an intruder, each in its own network
# namespace on a private bridge. The intruder — with no certificate, another CA's, a revoked one, and a valid client
# certificate — tries the bricks and every management endpoint that changes something; each attempt is refused and
# the catalog and the bricks stay as they were. The allowed client, holding a client certificate, runs fio through
# the libgfapi drop-in with --verify, a qemu-img round trip and the FUSE mount, all over TLS.
#
# Needs root, iproute2, curl, openssl, fio, qemu-utils + qemu-block-extra, FUSE, and GFAPI_DIR (the drop-in).
set -euo pipefail
cd "$(dirname "$0")/../.."
mortar="${MORTAR_BINARY:-$PWD/.build/debug/mortar}"
source tests/netns/lib.sh
netns_require tls "$mortar"
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 drop-in}"
GFAPI_DIR=$(readlink -f "$GFAPI_DIR")

prefix="mts$$"
work=$(mktemp -d /tmp/mortar-netns-XXXXXX)
subnet="10.213.81"
fail() {
    echo "tls: FAILED: $*" >&2
    for log in "$work/daemon.log" "$work"/state/logs/bricks/*; do
        [ -f "$log" ] && { echo "--- $log" >&2; tail -15 "$log" >&2; }
    done
    exit 1
}

hosts="server client intruder"
cleanup() {
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT
netns_up
server="$subnet.1"

# The cluster's CA, the server's host certificate (carrying its address, so curl can check it), an admin, a client,
# a certificate that will be revoked; and an intruder's CA with an admin certificate of its own.
ca="$work/ca"
"$mortar" cert init --ca-dir "$ca" >/dev/null
"$mortar" cert issue server --role host --san "$server" --ca-dir "$ca" --out "$work/state/tls" >/dev/null
"$mortar" cert issue admin --admin --ca-dir "$ca" --out "$work/admin" >/dev/null
"$mortar" cert issue qemu --ca-dir "$ca" --out "$work/client" >/dev/null
"$mortar" cert issue stolen --ca-dir "$ca" --out "$work/stolen" >/dev/null
"$mortar" cert init --ca-dir "$work/other-ca" >/dev/null
"$mortar" cert issue admin --admin --ca-dir "$work/other-ca" --out "$work/other" >/dev/null

mkdir -p "$work/brick" "$work/mnt"
on server "$mortar" daemon --state-dir "$work/state" --listen "$server:24007" --advertise "$server" \
    >>"$work/daemon.log" 2>&1 &
admin() { on server env MORTAR_TLS_DIR="$work/admin" "$mortar" "$@" --manager "$server:24007"; }
for _ in $(seq 1 100); do admin volume list >/dev/null 2>&1 && break; sleep 0.1; done
admin volume create secure "$server:$work/brick"
admin volume start secure
for _ in $(seq 1 100); do admin volume status secure --json | grep -q '"online" *: *true' && break; sleep 0.1; done
port=$(admin volume status secure --json | sed -n 's/.*"port" *: *\([0-9]*\).*/\1/p' | head -1)
[ -n "$port" ] || fail "no brick port in volume status"
echo "tls: volume secure on $server, brick port $port"

# ---- the allowed client --------------------------------------------------------------------------------------------
client() { on client env MORTAR_TLS_DIR="$work/client" LD_LIBRARY_PATH="$GFAPI_DIR" "$@"; }
started=$SECONDS
client fio --name=verify --ioengine=gfapi --volume=secure --brick="$server" --filename=tls-fio.dat --rw=randwrite \
    --bs=4k --size=16m --iodepth=8 --verify=crc32c --verify_fatal=1 --output="$work/fio.log" \
    || { cat "$work/fio.log" >&2; fail "fio through the drop-in over TLS"; }
grep -q "err= 0" "$work/fio.log" || { cat "$work/fio.log" >&2; fail "fio reported errors"; }
echo "tls: fio wrote and verified 16 MiB through the drop-in over TLS ($((SECONDS - started)) s)"
head -c 8388608 /dev/urandom >"$work/disk.raw"
client qemu-img convert -O raw "$work/disk.raw" "gluster://$server/secure/disk.raw" || fail "qemu-img convert in"
client qemu-img convert -O raw "gluster://$server/secure/disk.raw" "$work/disk.back" || fail "qemu-img convert out"
cmp "$work/disk.raw" "$work/disk.back" || fail "qemu-img round trip differs"
echo "tls: qemu-img round trip of 8 MiB over TLS is identical"
# `ip netns exec` gives the client a mount namespace of its own: mount, use and unmount inside one shell there.
on client bash -c '
    set -e
    "$1" mount -o "tls_dir=$2/client" "mortar://$3/secure" "$2/mnt"
    trap "umount \"$2/mnt\"" EXIT
    echo "through the mount" >"$2/mnt/mounted.txt"
    [ "$(cat "$2/mnt/mounted.txt")" = "through the mount" ]
' tls-mount "$mortar" "$work" "$server" || fail "the mount with tls_dir did not write and read back"
[ "$(cat "$work/brick/mounted.txt")" = "through the mount" ] || fail "the brick does not hold what the mount wrote"
echo "tls: the mount wrote and read back over TLS"

# ---- the intruder --------------------------------------------------------------------------------------------------
admin cert revoke stolen --ca-dir "$ca" >/dev/null
catalog_before=$(admin volume info secure --json)
brick_before=$(cd "$work/brick" && ls -A | sort | tr '\n' ' ')

# curl CREDENTIALS METHOD PATH [BODY]: the HTTP status the daemon answered, or 000 when TLS refused the connection.
attempt() {
    local credentials=$1 method=$2 path=$3 body=${4:-}
    local tls=(--cacert "$work/admin/glusterfs.ca")
    case "$credentials" in
        none) ;;
        *) tls+=(--cert "$credentials/glusterfs.pem" --key "$credentials/glusterfs.key") ;;
    esac
    on intruder curl -s -o /dev/null -w '%{http_code}' -m 10 "${tls[@]}" -X "$method" \
        -H 'Content-Type: application/json' ${body:+--data "$body"} "https://$server:24007/v1/$path" || true
}
brick_json="{\"bricks\":[{\"volume\":\"secure\",\"path\":\"$work/brick\",\"port\":$port,\"index\":0}]}"
requests=(
    "POST volumes {\"name\":\"evil\",\"bricks\":[\"$server:/etc\"],\"force\":true}"
    "POST volumes/secure/stop"
    "POST volumes/secure/start"
    "DELETE volumes/secure"
    "POST volumes/secure/options {\"name\":\"auth.allow\",\"value\":\"*\"}"
    "POST agent/start $brick_json"
    "POST agent/stop $brick_json"
    "POST volumes/secure/membership {\"setIndex\":0,\"event\":{\"unreachable\":{\"member\":0}}}"
    "POST certificates/revoked {\"certificates\":{}}"
)
refusals=0
for who in none "$work/other" "$work/stolen" "$work/client"; do
    for request in "${requests[@]}"; do
        read -r method path body <<<"$request"
        status=$(attempt "$who" "$method" "$path" "$body")
        case "$status" in
            000 | 403) refusals=$((refusals + 1)) ;;
            *) fail "$(basename "$who") got HTTP $status for $method /v1/$path" ;;
        esac
    done
done
echo "tls: $refusals changes by the intruder refused (no certificate, another CA, revoked, a client's)"
# A client certificate reads; a revoked one does not.
[ "$(attempt "$work/client" GET volumes)" = 200 ] || fail "a client certificate cannot read the volume list"
[ "$(attempt "$work/stolen" GET volumes)" = 403 ] || fail "a revoked certificate reads the volume list"
# The management CLI says why.
on intruder env MORTAR_TLS_DIR="$work/other" "$mortar" volume list --manager "$server:24007" 2>"$work/err" \
    && fail "another CA's admin listed volumes"
grep -q "not signed by this cluster's CA" "$work/err" || fail "another CA's refusal does not say why: $(cat "$work/err")"
on intruder env MORTAR_TLS_DIR="$work/stolen" "$mortar" cat "mortar://$server/secure/mounted.txt" 2>"$work/err" \
    && fail "a revoked certificate read a file"
grep -q "revoked" "$work/err" || fail "the revoked certificate's refusal does not say why: $(cat "$work/err")"
echo "tls: refusals say why: $(head -1 "$work/err")"

# The brick itself: in TLS 1.3 the client finishes its side of the handshake before the server has checked the
# client's certificate, so the refusal shows as the alert the brick sends next: "certificate required" without a
# certificate, "unknown ca" for another CA's.
brick_alert() {
    local credentials=$1 tls=(-CAfile "$work/admin/glusterfs.ca" -tls1_3)
    [ "$credentials" = none ] || tls+=(-cert "$credentials/glusterfs.pem" -key "$credentials/glusterfs.key")
    (printf 'hello?'; sleep 1) | on intruder timeout 20 openssl s_client -connect "$server:$port" "${tls[@]}" \
        >"$work/openssl.log" 2>&1 || true
    grep -o 'alert [a-z ]*' "$work/openssl.log" | head -1
}
alert=$(brick_alert none)
[ "$alert" = "alert certificate required" ] \
    || fail "the brick did not refuse a client without a certificate (openssl: ${alert:-no alert}): $(tail -3 "$work/openssl.log")"
alert=$(brick_alert "$work/other")
[ "$alert" = "alert unknown ca" ] \
    || fail "the brick did not refuse another CA's certificate (openssl: ${alert:-no alert}): $(tail -3 "$work/openssl.log")"
echo "tls: the brick refuses a handshake without a certificate and with another CA's (TLS alerts)"
# A revoked certificate fails at the brick's hello too (the library tries the management API first, so the spec
# fetch is refused before the brick is reached; the Swift suite's TLSBrickTests and SecurityTests cover the
# brick's own refusals, forged replication roles included).
[ "$(admin volume info secure --json)" = "$catalog_before" ] || fail "the catalog changed"
[ "$(cd "$work/brick" && ls -A | sort | tr '\n' ' ')" = "$brick_before" ] || fail "the brick's contents changed"
admin volume status secure --json | grep -q '"online" *: *true' || fail "the brick is no longer online"
echo "tls: the catalog and the brick are as they were"
echo "tls: passed"
