# One command for each job. See README.md.
.PHONY: demo test bench down build

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
