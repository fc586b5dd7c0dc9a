#!/usr/bin/env bash
# The one command that sets up and runs the main job: builds Mortar, starts a local cluster on the embedded default
# (one daemon and three bricks under ./mortar-cluster, no configuration), creates and starts volume "demo", writes
# and reads files through the client library, and leaves the cluster running. Stop it with `make down`
# (or `.build/debug/mortar down --dir ./mortar-cluster`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

echo "== building"
swift build 2>&1 | tail -1
mortar=".build/debug/mortar"
dir="$PWD/mortar-cluster"

echo "== starting the cluster"
"$mortar" up --dir "$dir" --bricks 3

volume="mortar://127.0.0.1/demo"
sample=$(mktemp)
trap 'rm -f "$sample" "$sample.back"' EXIT
head -c $((8 * 1024 * 1024)) /dev/urandom >"$sample"

run() { echo "\$ mortar $*"; "$mortar" "$@"; }
echo "== using the volume through the client library"
run mkdir -p "$volume/docs/examples"
run cp README.md "$volume/docs/README.md"
run cp "$sample" "$volume/random-8MiB.bin"
run cp -r Sources/MortarCore "$volume/docs/examples/"
run ls -l "$volume/"
run ls "$volume/docs/examples/MortarCore"
run stat "$volume/random-8MiB.bin"
echo "\$ mortar cat $volume/docs/README.md | head -3"
"$mortar" cat "$volume/docs/README.md" | head -3
run cp "$volume/random-8MiB.bin" "$sample.back"
cmp "$sample" "$sample.back" && echo "read back 8 MiB: identical to what was written"
run volume status demo

cat <<MSG

== the cluster is running
Files are spread over the three brick directories as ordinary files:
  ls $dir/bricks/brick*
Use it:
  $mortar ls -l $volume/
  $mortar cp SOMEFILE $volume/
  $mortar volume info demo
From Swift: import Mortar; let volume = try await Volume.connect(volume: "demo")
Stop it:
  make down        (or: $mortar down --dir $dir)
MSG
