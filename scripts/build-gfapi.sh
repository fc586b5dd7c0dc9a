#!/usr/bin/env bash
# Builds Mortar's libgfapi drop-in for shipping: a release build with the Swift runtime linked in statically (so the
# library needs nothing from the Swift toolchain at run time), installed as .build-gfapi/lib/libgfapi.so.0 with a
# libgfapi.so symlink for linking. Prints the directory last; point LD_LIBRARY_PATH at it.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$PWD/.build-gfapi"
# A separate scratch directory: -static-stdlib changes every module's build flags, so sharing .build would make
# the normal debug and release builds start over each time.
flock /tmp/mortar-build.lock \
    swift build -c release --product gfapi -Xswiftc -static-stdlib --scratch-path "$scratch" >&2
mkdir -p "$scratch/lib"
install -m 0755 "$scratch/release/libgfapi.so" "$scratch/lib/libgfapi.so.0.new"
mv -f "$scratch/lib/libgfapi.so.0.new" "$scratch/lib/libgfapi.so.0"
ln -sf libgfapi.so.0 "$scratch/lib/libgfapi.so"
echo "$scratch/lib"
