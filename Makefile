# One command for each job. See README.md.
.PHONY: demo test bench bench-compare down build gfapi install uninstall

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

# `mortar` in $(PREFIX)/bin and the libgfapi drop-in in $(PREFIX)/lib/mortar/gfapi, where `mortar gfapi-path` looks
# next to the installed binary. Both are release builds with the Swift runtime linked in, from the drop-in's scratch
# directory (one set of release modules for both), so the installed files need nothing from the toolchain.
# DESTDIR for staging, as usual.
PREFIX ?= /usr/local
GFAPI_SCRATCH := .build-gfapi
install:
	bash scripts/build-gfapi.sh >/dev/null
	flock /tmp/mortar-build.lock swift build -c release --product mortar -Xswiftc -static-stdlib \
		--scratch-path $(GFAPI_SCRATCH)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/mortar/gfapi
	install -m 0755 $(GFAPI_SCRATCH)/release/mortar $(DESTDIR)$(PREFIX)/bin/mortar
	install -m 0755 $(GFAPI_SCRATCH)/lib/libgfapi.so.0 $(DESTDIR)$(PREFIX)/lib/mortar/gfapi/libgfapi.so.0
	ln -sf libgfapi.so.0 $(DESTDIR)$(PREFIX)/lib/mortar/gfapi/libgfapi.so

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/mortar $(DESTDIR)$(PREFIX)/lib/mortar/gfapi/libgfapi.so.0 \
		$(DESTDIR)$(PREFIX)/lib/mortar/gfapi/libgfapi.so
	-rmdir $(DESTDIR)$(PREFIX)/lib/mortar/gfapi $(DESTDIR)$(PREFIX)/lib/mortar 2>/dev/null
