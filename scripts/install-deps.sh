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
# attr (getfattr, to show FileIDs on bricks), util-linux (mount for the disk-full test), procps (pgrep/pkill),
# fuse3 and libfuse3-dev (the FUSE mount: fusermount3, the library and its headers), and the real tools the mount's
# tests run on it: rsync, git, sqlite3, fio, tar.
packages=(iproute2 python3 attr util-linux procps fuse3 libfuse3-dev rsync git sqlite3 fio tar)
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
