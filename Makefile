# One command for each job. See README.md.
.PHONY: demo test bench down build gfapi

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

# The libgfapi drop-in (release, static Swift runtime) in .build-gfapi/lib; `mortar gfapi-path` finds it.
gfapi:
	bash scripts/build-gfapi.sh
