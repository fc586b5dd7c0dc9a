# Sourced, not run: TLS credentials for a cluster that a script or test starts itself.
#
# mortar_credentials MORTAR DIR HOST_DIR…: a CA in DIR/ca, an admin certificate in DIR/admin and a client
# certificate in DIR/client, and a host certificate in each HOST_DIR (named host1, host2, … in order; each carries
# 127.0.0.1 and ::1 too, so curl and friends accept it on loopback). Then `export MORTAR_TLS_DIR=DIR/admin` gives the
# CLI its credentials, and `mortar_curl DIR URL` reaches the management API as that admin.
mortar_credentials() {
    local bin=$1 dir=$2 n=0 host
    shift 2
    "$bin" cert init --ca-dir "$dir/ca" >/dev/null || return 1
    "$bin" cert issue admin --admin --ca-dir "$dir/ca" --out "$dir/admin" >/dev/null || return 1
    "$bin" cert issue client --ca-dir "$dir/ca" --out "$dir/client" >/dev/null || return 1
    for host in "$@"; do
        n=$((n + 1))
        "$bin" cert issue "host$n" --role host --san 127.0.0.1,::1 --ca-dir "$dir/ca" --out "$host" >/dev/null || return 1
    done
}

# mortar_curl DIR URL [CURL ARGS…]: curl with DIR/admin's certificate, trusting only the cluster's CA.
mortar_curl() {
    local dir=$1
    shift
    curl -s --cacert "$dir/admin/glusterfs.ca" --cert "$dir/admin/glusterfs.pem" --key "$dir/admin/glusterfs.key" "$@"
}
