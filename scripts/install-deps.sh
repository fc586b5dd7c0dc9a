#!/usr/bin/env bash
# Installs what building and testing Mortar needs on Debian 12, if it is missing. Idempotent; run as root.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        if [ -x "$candidate/swift" ]; then export PATH="$candidate:$PATH"; fi
    done
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "install-deps: no Swift toolchain found (need Swift 6.1 or newer on PATH)" >&2
    exit 1
fi

# Debian packages: iproute2 (network namespaces for the multi-host test), python3 (test helpers),
# attr (getfattr, to show FileIDs on bricks), util-linux (mount for the disk-full test), procps (pgrep/pkill);
# for the libgfapi drop-in's tests: the programs that link libgfapi (fio, qemu's gluster block driver, tgt's glfs
# backing store, Samba's vfs_glusterfs with smbd and smbclient), libiscsi's tools, GlusterFS's header and gcc for
# the C API test, binutils (readelf), jq;
# for the FUSE mount: fuse3 and libfuse3-dev (fusermount3, the library and its headers) and the real tools its
# tests run on it: rsync, git, sqlite3, tar;
# for the trust boundary's test: curl and openssl (an intruder's requests and TLS handshakes);
# the control plane: etcd-server and etcd-client (the catalog lives in etcd; `mortar up` and the tests start their
# own members on ports of their own, never the packaged service's 2379);
# metrics: prometheus (promtool checks the daemon's /metrics; the tests run a Prometheus server of their own on a
# port of its own, never the packaged service's 9090).
packages=(iproute2 python3 attr util-linux procps curl openssl etcd-server etcd-client prometheus
          fio qemu-utils qemu-block-extra tgt tgt-glusterfs samba samba-vfs-modules smbclient
          libiscsi-bin libglusterfs-dev gcc binutils jq
          fuse3 libfuse3-dev rsync git sqlite3 tar)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing Debian packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
