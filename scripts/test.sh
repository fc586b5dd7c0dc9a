#!/usr/bin/env bash
# The one command that sets up and runs every test: installs what is missing, builds, runs the Swift test suite
# (unit, layer, conformance, randomised, integration with real processes) and the three-host network test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

echo "== build"
swift build
swift build --build-tests

echo "== swift test"
# Tests that start real daemons and bricks find the binary here.
export MORTAR_BINARY="$PWD/.build/debug/mortar"
swift test --skip-build

echo "== three hosts in network namespaces"
bash tests/netns/three-hosts.sh

echo "All tests passed."
