# shellcheck shell=bash disable=SC2034
# scripts/bench-systems.sh — the systems the side-by-side benchmarks start and stop (sourced, not run): a private
# Mortar daemon with a one-brick (mortar1, volume r1) or replica-3 (mortar3, volume r3) volume, and GlusterFS 10.3
# through ../shared/bench/gluster-setup.sh (gluster1 = gv1, gluster3 = gv3). For the cost of TLS: mortar1tls (volume r1,
# clients over TCP with TLS instead of the brick's Unix socket), mortar1tcp (the same over TCP with the daemon run
# --insecure) and gluster1tls (gv1 with client.ssl and server.ssl on). Used by scripts/bench-replication.sh
# and scripts/bench-compare.sh. The caller defines log, die, OUT, LOG and the knobs these functions read:
# MORTAR_BINARY, MORTAR_PORT, MORTAR_BRICK_PORT_MIN, GFAPI_DIR, BENCH_ROOT, SHARED_BENCH, GHOST, SYS_LIBDIR.
# ---- state and cleanup ---------------------------------------------------------------------------------------------
MDAEMON_PID="" MSYS="" MDIR="" MVOL="" MREP=0 GLUSTER_UP=0 GLUSTER_TLS=0 BG_PIDS=()
MCLI_TLS=""   # the CLI's MORTAR_TLS_DIR: the admin's credentials, or off for mortar1tcp
# shellcheck source=scripts/lib/credentials.sh
. "$REPO/scripts/lib/credentials.sh"
mortar_api() {
    if [ "$MCLI_TLS" = off ]; then curl -s -m 5 "http://127.0.0.1:$MORTAR_PORT/v1/$1"
    else mortar_curl "$MDIR" -m 5 "https://127.0.0.1:$MORTAR_PORT/v1/$1"; fi
}
mortar_cli() { timeout -k 5 60 env MORTAR_MANAGER="127.0.0.1:$MORTAR_PORT" MORTAR_TLS_DIR="$MCLI_TLS" "$MORTAR_BINARY" "$@"; }
stop_bg() {  # background helpers (pollers, kill loops, fio) this script started, by pid
    local p
    for p in "$@"; do
        [ -n "$p" ] || continue
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
mortar_down() {
    [ -n "$MDAEMON_PID" ] || return 0
    mortar_cli volume stop "$MVOL" >>"$LOG" 2>&1 || log "WARNING: mortar volume stop $MVOL failed"
    kill -TERM "$MDAEMON_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do kill -0 "$MDAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$MDAEMON_PID" 2>/dev/null; then
        log "WARNING: the mortar daemon $MDAEMON_PID did not stop within 30 s of SIGTERM; SIGKILL"
        kill -KILL "$MDAEMON_PID" 2>/dev/null || true
    fi
    wait "$MDAEMON_PID" 2>/dev/null || true
    MDAEMON_PID=""
    local p
    for p in $(ps -eo pid=,args= | awk -v d="$MDIR/" 'index($0, d) && !/awk/ { print $1 }'); do
        log "WARNING: killing leftover mortar process $p: $(ps -o args= -p "$p")"; kill -KILL "$p" 2>/dev/null || true
    done
    # keep the logs (evidence), drop the data
    local keep=$OUT/raw/$MSYS/logs-rep$MREP
    mkdir -p "$keep"
    cp -a "$MDIR/daemon.log" "$keep/" 2>/dev/null || true
    cp -a "$MDIR/state/logs/." "$keep/" 2>/dev/null || true
    rm -rf "$MDIR"
    unset MORTAR_TLS_DIR MORTAR_LOCAL_SOCKET
}
gluster_down() {
    [ "$GLUSTER_UP" = 1 ] || return 0
    rm -f /mnt/gv1/bench-rep* /mnt/gv3/bench-rep* 2>/dev/null || true
    gluster_tls_off
    "$SHARED_BENCH/gluster-teardown.sh" >>"$LOG" 2>&1 || log "WARNING: gluster-teardown.sh failed"
    GLUSTER_UP=0
}

# ---- per-system facts ----------------------------------------------------------------------------------------------
sys_lib() { case "$1" in mortar*) echo "$GFAPI_DIR" ;; *) echo "$SYS_LIBDIR" ;; esac; }
sys_host() { case "$1" in mortar*) echo "$GHOST:$MORTAR_PORT" ;; *) echo "$GHOST" ;; esac; }
sys_vol() { case "$1" in mortar1*) echo r1 ;; mortar3) echo r3 ;; gluster1*) echo gv1 ;; gluster3) echo gv3 ;; esac; }
brick_dirs() {  # the system's brick directories, member order
    case "$1" in
        mortar1*) echo "$BENCH_ROOT/$1/b1" ;;
        mortar3) echo "$BENCH_ROOT/mortar3/b1 $BENCH_ROOT/mortar3/b2 $BENCH_ROOT/mortar3/b3" ;;
        gluster1*) echo /srv/gbase/gv1/brick ;;
        gluster3) echo /srv/gbase/gv3/b1 /srv/gbase/gv3/b2 /srv/gbase/gv3/b3 ;;
    esac
}
remove_file() {  # system file
    case "$1" in
        mortar*) mortar_cli rm "mortar://$GHOST:$MORTAR_PORT/$(sys_vol "$1")/$2" >>"$LOG" 2>&1 || true ;;
        gluster*) rm -f "/mnt/$(sys_vol "$1")/$2" ;;
    esac
}

# ---- systems up / down ---------------------------------------------------------------------------------------------
mortar_up() {  # system rep
    local sys=$1 i
    port_busy "$MORTAR_PORT" && die "127.0.0.1:$MORTAR_PORT busy before starting the mortar daemon"
    MSYS=$sys MREP=$2 MDIR=$BENCH_ROOT/$sys MVOL=$(sys_vol "$sys")
    rm -rf "$MDIR"; mkdir -p "$MDIR/state"
    mortar_credentials "$MORTAR_BINARY" "$MDIR" "$MDIR/state/tls" || die "cannot make the cluster's certificates in $MDIR"
    # Clients (fio, qemu-img, compare-tool, the mount) take the cluster's client certificate from the environment;
    # mortar1tls and mortar1tcp keep them off the brick's Unix socket so that the data path is TCP (with TLS, or not).
    local security=()
    MCLI_TLS=$MDIR/admin
    export MORTAR_TLS_DIR=$MDIR/client
    case "$sys" in
        mortar1tcp) security=(--insecure); MCLI_TLS=off; export MORTAR_TLS_DIR=off MORTAR_LOCAL_SOCKET=off ;;
        mortar1tls) export MORTAR_LOCAL_SOCKET=off ;;
        *) unset MORTAR_LOCAL_SOCKET ;;
    esac
    case "${MORTAR_METRICS:-off}" in
        on) security+=(--metrics-listen "127.0.0.1:${MORTAR_METRICS_PORT:-24419}") ;;
        off) ;;
        *) die "MORTAR_METRICS must be on or off" ;;
    esac
    "$MORTAR_BINARY" daemon --state-dir "$MDIR/state" --listen "127.0.0.1:$MORTAR_PORT" --pid-file "$MDIR/daemon.pid" \
        --brick-port-min "$MORTAR_BRICK_PORT_MIN" --new-session "${security[@]}" </dev/null >"$MDIR/daemon.log" 2>&1 &
    MDAEMON_PID=$!
    for i in $(seq 1 300); do
        mortar_api hello >/dev/null 2>&1 && break
        kill -0 "$MDAEMON_PID" 2>/dev/null || die "the mortar daemon exited at start: $(tail -5 "$MDIR/daemon.log")"
        sleep 0.1
    done
    mortar_api hello >/dev/null 2>&1 || die "the mortar daemon did not answer within 30 s ($MDIR/daemon.log)"
    local bricks=()
    for d in $(brick_dirs "$sys"); do bricks+=("127.0.0.1:$d"); done
    if [ "$sys" = mortar3 ]; then
        mortar_cli volume create "$MVOL" replica 3 "${bricks[@]}" --force >>"$LOG" 2>&1 || die "mortar volume create $MVOL failed (see $LOG)"
    else
        mortar_cli volume create "$MVOL" "${bricks[@]}" --force >>"$LOG" 2>&1 || die "mortar volume create $MVOL failed (see $LOG)"
    fi
    local option options=${MORTAR_VOLUME_OPTIONS:-}
    # mortar1net: the same volume, its reads over the brick's socket (short-circuit local reads off)
    [ "$sys" = mortar1net ] && options="$options performance.local-reads=off"
    for option in $options; do   # NAME=VALUE ..., e.g. performance.read-ahead=off for an A/B run
        mortar_cli volume set "$MVOL" "${option%%=*}" "${option#*=}" >>"$LOG" 2>&1 \
            || die "mortar volume set $MVOL $option failed (see $LOG)"
    done
    mortar_cli volume start "$MVOL" >>"$LOG" 2>&1 || die "mortar volume start $MVOL failed (see $LOG)"
    mortar_wait_healthy 60 >/dev/null || die "volume $MVOL: bricks not all online and in sync within 60 s: $(mortar_api "volumes/$MVOL/status")"
    log "$sys: mortar daemon $MDAEMON_PID on 127.0.0.1:$MORTAR_PORT, volume $MVOL over $(brick_dirs "$sys")"
}
# Waits (at most $1 s) until every brick is online and every member in sync; prints the time it was, or fails.
mortar_wait_healthy() {
    local deadline=$((SECONDS + $1)) st
    while [ "$SECONDS" -lt "$deadline" ]; do
        st=$(mortar_api "volumes/$MVOL/status" 2>/dev/null) || st=""
        if [ -n "$st" ] && echo "$st" | jq -e '(.bricks | all(.online and .pid != null))
                and ([.replicaSets[].members[]] | all(. == "in-sync"))' >/dev/null 2>&1; then
            now; return 0
        fi
        sleep 0.05
    done
    return 1
}
gluster_up() {
    port_busy 24007 && die "127.0.0.1:24007 busy before gluster-setup.sh"
    GLUSTER_UP=1
    "$SHARED_BENCH/gluster-setup.sh" >>"$LOG" 2>&1 || die "gluster-setup.sh failed (see $LOG)"
}
# GlusterFS's TLS for gv1 (gluster1tls): a throwaway CA and one certificate in glusterfs.{pem,key,ca}, which
# both the bricks and the clients (FUSE mount, libgfapi) read; client.ssl and server.ssl on; the volume restarted and
# remounted. Refuses to overwrite credentials it did not make.
# The directory is the one GlusterFS was built to read (Debian's build: /usr/lib/ssl, not the documented /etc/ssl),
# taken from its socket transport.
gluster_ssl_dir() {
    local so path
    so=$(find /usr/lib -path '*rpc-transport/socket.so' 2>/dev/null | head -1)
    path=$( [ -n "$so" ] && strings "$so" | grep -m1 '/glusterfs\.pem$')
    dirname "${path:-/etc/ssl/glusterfs.pem}"
}
GLUSTER_SSL_DIR=$(gluster_ssl_dir)
GLUSTER_SSL_FILES="$GLUSTER_SSL_DIR/glusterfs.pem $GLUSTER_SSL_DIR/glusterfs.key $GLUSTER_SSL_DIR/glusterfs.ca"
gluster_tls_on() {
    local f tmp
    for f in $GLUSTER_SSL_FILES; do
        [ -e "$f" ] && die "$f exists; gluster1tls will not replace TLS credentials it did not make"
    done
    GLUSTER_TLS=1
    tmp=$(mktemp -d)
    { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 -subj /CN=bench-ca \
        && openssl req -newkey rsa:2048 -nodes -keyout "$tmp/host.key" -out "$tmp/host.csr" -subj "/CN=$(hostname)" \
        && openssl x509 -req -in "$tmp/host.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
            -out "$tmp/host.pem" -days 2; } >>"$LOG" 2>&1 || die "openssl could not make GlusterFS's certificates"
    install -m 0644 "$tmp/host.pem" "$GLUSTER_SSL_DIR/glusterfs.pem"
    install -m 0600 "$tmp/host.key" "$GLUSTER_SSL_DIR/glusterfs.key"
    install -m 0644 "$tmp/ca.pem" "$GLUSTER_SSL_DIR/glusterfs.ca"
    rm -rf "$tmp"
    gluster_ssl gv1 on || die "cannot turn GlusterFS's TLS on for gv1 (see $LOG)"
    gluster volume get gv1 server.ssl | grep -Eq 'server.ssl +on' || die "gv1's server.ssl is not on after setting it"
    log "gluster1tls: gv1 with client.ssl and server.ssl on"
}
gluster_tls_off() {
    [ "$GLUSTER_TLS" = 1 ] || return 0
    gluster_ssl gv1 off || log "WARNING: cannot turn GlusterFS's TLS off for gv1"
    rm -f $GLUSTER_SSL_FILES
    GLUSTER_TLS=0
}
gluster_ssl() {  # volume on|off — set, restart the volume, remount it, and check the mount writes
    local v=$1 state=$2 i
    umount /mnt/"$v" 2>/dev/null || umount -l /mnt/"$v" 2>/dev/null || true
    { gluster --mode=script volume stop "$v" \
        && gluster --mode=script volume set "$v" client.ssl "$state" \
        && gluster --mode=script volume set "$v" server.ssl "$state" \
        && if [ "$state" = on ]; then gluster --mode=script volume set "$v" auth.ssl-allow '*'
           else gluster --mode=script volume reset "$v" auth.ssl-allow; fi \
        && gluster --mode=script volume start "$v"; } >>"$LOG" 2>&1 || return 1
    for i in $(seq 1 10); do mount -t glusterfs "$GHOST:/$v" /mnt/"$v" >>"$LOG" 2>&1 && break; sleep 2; done
    echo ssl >/mnt/"$v"/.bench-ssl-check 2>>"$LOG" && rm -f /mnt/"$v"/.bench-ssl-check
}
system_up() {  # system rep
    case "$1" in
        mortar*) mortar_up "$1" "$2" ;;
        gluster1tls) gluster_up; gluster_tls_on ;;
        gluster*) gluster_up ;;
    esac
}
system_down() {
    case "$1" in mortar*) mortar_down ;; gluster*) gluster_down ;; esac
    return 0
}

