# One command for each job. See README.md.
.PHONY: demo test bench bench-compare down build gfapi

build:
	swift build

demo:
	bash scripts/demo.sh

down:
	.build/debug/mortar down --dir ./mortar-cluster

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

# Mortar vs GlusterFS 10.3 vs the local disk, side by side (QUICK=1 for the few-minute version). See README.md.
bench-compare:
	bash scripts/bench-compare.sh

# The libgfapi drop-in (release, static Swift runtime) in .build-gfapi/lib; `mortar gfapi-path` finds it.
gfapi:
	bash scripts/build-gfapi.sh
