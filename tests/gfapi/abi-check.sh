#!/bin/bash
# abi-check.sh — static ABI check of a libgfapi.so.0 replacement with readelf (binutils).
#
#   GFAPI_DIR=/tmp/mortar-gfapi-dev tests/gfapi/abi-check.sh
#
# Fails (exit 1, one "FAIL:" line per problem) when
#   - the SONAME is not exactly libgfapi.so.0;
#   - a glfs_* symbol that fio, qemu's block-gluster.so, tgt's bs_glfs.so or Samba's vfs_glusterfs module imports
#     is not exported with the version node that consumer requires;
#   - an export's version differs from the version GlusterFS's own /usr/lib/x86_64-linux-gnu/libgfapi.so.0
#     gives that name (default "@@" against default, compat "@" against compat), or the name is unknown to it;
#   - anything other than glfs_* functions (and the version-node marker symbols) is exported — the strays
#     are listed; the known static-stdlib leak __dispatch_tsd is tolerated with a note;
#   - an export has no version;
#   - the library NEEDs the Swift runtime (libswift*, libdispatch, libFoundation*) or has an RPATH/RUNPATH
#     under /opt/swift;
#   - a symbol listed in Sources/GFAPI/gfapi.map is not exported in the node the map puts it in.
# The consumers and GlusterFS's library are installed with apt-get when missing (as root).
# Exit status: 0 all checks passed, 1 ABI problems, 2 setup problems.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
LIB="$GFAPI_DIR/libgfapi.so.0"
REAL=/usr/lib/x86_64-linux-gnu/libgfapi.so.0
MAP="$repo/Sources/GFAPI/gfapi.map"
declare -A CONSUMERS=(
    [fio]=/usr/bin/fio
    [qemu]=/usr/lib/x86_64-linux-gnu/qemu/block-gluster.so
    [tgt]=/usr/lib/tgt/backing-store/bs_glfs.so
    [samba]=/usr/lib/x86_64-linux-gnu/samba/vfs/glusterfs.so
)
CONSUMER_ORDER=(fio qemu tgt samba)
CONSUMER_PACKAGES=(fio qemu-block-extra qemu-utils tgt tgt-glusterfs samba samba-vfs-modules smbclient)

die() { echo "abi-check.sh: $*" >&2; exit 2; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# ------------------------------------------------------------------------------------------------
# Setup
# ------------------------------------------------------------------------------------------------
command -v readelf >/dev/null 2>&1 || die "readelf not found (apt-get install binutils)"
[ -e "$LIB" ] || die "no libgfapi.so.0 in GFAPI_DIR=$GFAPI_DIR"
[ -f "$MAP" ] || die "version script $MAP not found"

need_install=()
for c in "${CONSUMER_ORDER[@]}"; do [ -e "${CONSUMERS[$c]}" ] || need_install=("${CONSUMER_PACKAGES[@]}"); done
[ -e "$REAL" ] || need_install+=(libgfapi0)
if [ ${#need_install[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "abi-check.sh: installing ${need_install[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_install[@]}" >/dev/null \
            || die "apt-get install ${need_install[*]} failed"
    fi
fi
for c in "${CONSUMER_ORDER[@]}"; do
    [ -e "${CONSUMERS[$c]}" ] || die "consumer $c not found at ${CONSUMERS[$c]} (apt-get install ${CONSUMER_PACKAGES[*]})"
done
[ -e "$REAL" ] || die "GlusterFS's $REAL not found (apt-get install libgfapi0)"
[ "$(readlink -f "$LIB")" != "$(readlink -f "$REAL")" ] || echo "note: the library under test IS GlusterFS's own ($REAL)"

tmp=$(mktemp -d /tmp/gfapi-abi-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# "name version kind type" for every defined dynamic symbol that other objects can bind to (binding GLOBAL,
# WEAK or UNIQUE; LOCAL entries that some linkers leave in .dynsym are not exports); kind = default|compat|none.
# Version-node marker symbols (ABS OBJECT named like a node) are listed separately.
exports_of() {  # file -> stdout lines "name<TAB>version<TAB>kind<TAB>type"
    readelf --dyn-syms -W "$1" | awk '
        $1 ~ /^[0-9]+:$/ && $7 != "UND" && NF >= 8 && $5 != "LOCAL" {
            sym = $8; type = $4
            if (index(sym, "@@")) { split(sym, p, "@@"); print p[1] "\t" p[2] "\tdefault\t" type }
            else if (index(sym, "@")) { split(sym, p, "@"); print p[1] "\t" p[2] "\tcompat\t" type }
            else print sym "\t-\tnone\t" type "\t" $7
        }'
}
# version names defined by a library (readelf -V, .gnu.version_d), BASE excluded
verdefs_of() {
    readelf -V -W "$1" | awk '
        /^Version definition section/ { on = 1; next }
        /^Version needs section/ { on = 0 }
        on && /Name:/ && !/BASE/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print $(i + 1) }'
}
# glfs_* imports of a consumer: "name<TAB>version"
imports_of() {
    readelf --dyn-syms -W "$1" | awk '
        $1 ~ /^[0-9]+:$/ && $7 == "UND" && $8 ~ /^glfs_/ {
            sym = $8; n = split(sym, p, "@"); print p[1] "\t" (n > 1 ? p[n] : "-")
        }' | sort -u
}
# version names a consumer requires from libgfapi.so.0 (readelf -V, .gnu.version_r)
required_nodes_of() {
    readelf -V -W "$1" | awk '
        /File: / { file = ""; for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1) }
        /Name: / && file == "libgfapi.so.0" { for (i = 1; i <= NF; i++) if ($i == "Name:") print $(i + 1) }' | sort -u
}
# gfapi.map -> "name<TAB>node" (comments stripped, then a token walk over "NODE { global: a; b; local: *; } PARENT;")
map_symbols() {
    perl -0777 -pe 's{/\*.*?\*/}{}gs; s/([{};:])/ $1 /g' "$MAP" | tr -s ' \t\n' '\n\n\n' | awk '
        NF == 0 { next }
        $0 == "{" { depth++; node = word; inglobal = 0; next }
        $0 == "}" { depth--; inglobal = 0; next }
        $0 == ";" || $0 == ":" { next }
        depth == 1 && $0 == "global" { inglobal = 1; next }
        depth == 1 && $0 == "local" { inglobal = 0; next }
        depth == 1 && inglobal { print $0 "\t" node; next }
        depth == 0 { word = $0 }
    ' | sort -u
}

exports_of "$LIB" >"$tmp/ours.all"
dynlocal=$(readelf --dyn-syms -W "$LIB" | awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $5 == "LOCAL"' | wc -l)
exports_of "$REAL" >"$tmp/real.all"
verdefs_of "$LIB" | sort -u >"$tmp/ours.nodes"
map_symbols >"$tmp/map"
[ -s "$tmp/map" ] || die "could not parse any symbol from $MAP"

# Split our exports into glfs functions, node markers and strays.
awk -F'\t' 'FILENAME == ARGV[1] { node[$1] = 1; next }
    $1 ~ /^glfs_/ { print > "'"$tmp"'/ours.glfs"; next }
    ($1 in node) && $3 == "none" { print > "'"$tmp"'/ours.markers"; next }
    { print > "'"$tmp"'/ours.strays" }' "$tmp/ours.nodes" "$tmp/ours.all"
touch "$tmp/ours.glfs" "$tmp/ours.markers" "$tmp/ours.strays"

echo "# library under test: $(readlink -f "$LIB")"
echo "# reference:          $(readlink -f "$REAL")"
echo "# version script:     $MAP"
[ "$dynlocal" = 0 ] || echo "note: .dynsym also holds $dynlocal LOCAL symbols (not bindable, not exports; ignored)"

# ------------------------------------------------------------------------------------------------
# 1. SONAME
# ------------------------------------------------------------------------------------------------
soname=$(readelf -d -W "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = libgfapi.so.0 ]; then pass "SONAME is libgfapi.so.0"
else fail "SONAME is '${soname:-<none>}', must be exactly 'libgfapi.so.0' (consumers' version checks go by that name)"; fi

# ------------------------------------------------------------------------------------------------
# 2. Swift runtime must be static: no NEEDED on it, no RPATH/RUNPATH into /opt/swift
# ------------------------------------------------------------------------------------------------
readelf -d -W "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' >"$tmp/needed"
bad_needed=$(grep -E '^(libswift|libdispatch|libFoundation|libBlocksRuntime)' "$tmp/needed" || true)
if [ -z "$bad_needed" ]; then pass "no Swift runtime in NEEDED ($(tr '\n' ' ' <"$tmp/needed"))"
else fail "NEEDED names the Swift runtime (link with -static-stdlib): $(echo $bad_needed)"; fi
paths=$(readelf -d -W "$LIB" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\].*/\1=\2/p')
if echo "$paths" | grep -q '/opt/swift'; then fail "RPATH/RUNPATH points into /opt/swift: $paths"
else pass "no RPATH/RUNPATH into /opt/swift${paths:+ ($paths)}"; fi

# ------------------------------------------------------------------------------------------------
# 3. Every export is versioned
# ------------------------------------------------------------------------------------------------
unversioned=$(awk -F'\t' '$3 == "none" && $1 != "__dispatch_tsd"' "$tmp/ours.glfs" "$tmp/ours.strays" | cut -f1 | sort -u)
if [ -z "$unversioned" ]; then pass "every export carries a version"
else fail "exports without a version ($(echo "$unversioned" | wc -l)): $(echo $unversioned | cut -d' ' -f1-20)$([ "$(echo "$unversioned" | wc -l)" -le 20 ] || echo ' …')"; fi
if [ ! -s "$tmp/ours.nodes" ]; then fail "the library defines no symbol versions at all (no version script applied)"; fi

# ------------------------------------------------------------------------------------------------
# 4. Only glfs_* is exported
# ------------------------------------------------------------------------------------------------
strays=$(cut -f1,4 "$tmp/ours.strays" | grep -v -E '^__dispatch_tsd\b' | awk -F'\t' '{print $1 " (" $2 ")"}' | sort -u || true)
if grep -q -E '^__dispatch_tsd\b' "$tmp/ours.strays"; then
    echo "note: __dispatch_tsd is exported ($(awk -F'\t' '$1 == "__dispatch_tsd" { print ($3 == "none" ? "unversioned" : $2) ", " $4 }' "$tmp/ours.strays")) — the static-stdlib libdispatch TLS leak; tolerated"
fi
if [ -z "$strays" ]; then pass "no exports besides glfs_* functions and version-node markers"
else
    fail "$(echo "$strays" | wc -l) exports not named glfs_* (hide them with 'local: *'):"
    echo "$strays" | head -50 | sed 's/^/        /'
    [ "$(echo "$strays" | wc -l)" -le 50 ] || echo "        … ($(echo "$strays" | wc -l) in total)"
fi
nonfunc=$(awk -F'\t' '$4 != "FUNC"' "$tmp/ours.glfs" | cut -f1,4 | tr '\t' ' ')
if [ -z "$nonfunc" ]; then pass "every glfs_* export is a function"
else fail "glfs_* exports that are not functions: $(echo $nonfunc)"; fi

# ------------------------------------------------------------------------------------------------
# 5. Versions agree with GlusterFS's library, name by name
# ------------------------------------------------------------------------------------------------
awk -F'\t' 'FILENAME == ARGV[1] { if ($1 ~ /^glfs_/) v[$1 "\t" $3] = v[$1 "\t" $3] " " $2; known[$1] = 1; next }
    $3 == "none" { next }
    !($1 in known) { print "unknown\t" $1 "\t" $2; next }
    {
        want = v[$1 "\t" $3]
        if (want == "") { print "kind\t" $1 "\t" $2 "\t" $3; next }
        if (index(want " ", " " $2 " ") == 0) print "version\t" $1 "\t" $2 "\t" want "\t" $3
    }' "$tmp/real.all" "$tmp/ours.glfs" >"$tmp/vercmp"
if [ ! -s "$tmp/vercmp" ]; then
    pass "all $(wc -l <"$tmp/ours.glfs") glfs_* exports have GlusterFS's version for that name"
else
    while IFS=$'\t' read -r what name ours want kind; do
        case $what in
            unknown) fail "$name@$ours: GlusterFS's libgfapi.so.0 has no symbol of that name" ;;
            kind)    fail "$name@$ours is a ${want} version, GlusterFS has no ${want} version of it" ;;
            version) fail "$name is exported at $ours ($kind), GlusterFS's $kind version is$want" ;;
        esac
    done <"$tmp/vercmp"
fi

# ------------------------------------------------------------------------------------------------
# 6. Every symbol of gfapi.map is exported, in its node
# ------------------------------------------------------------------------------------------------
map_missing=0
while IFS=$'\t' read -r name node; do
    got=$(awk -F'\t' -v n="$name" '$1 == n && $3 == "default" { print $2 }' "$tmp/ours.glfs")
    if [ -z "$got" ] && awk -F'\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' "$tmp/ours.glfs"; then
        fail "$name is exported, but not as the default version $node (found: $(awk -F'\t' -v n="$name" '$1 == n { printf "%s%s", sep, ($3 == "none" ? "unversioned" : $2 " (" $3 ")"); sep = ", " }' "$tmp/ours.glfs"))"
        map_missing=$((map_missing + 1))
    elif [ -z "$got" ]; then
        fail "$name ($node in gfapi.map) is not exported — its implementation is missing or not @_cdecl'd"
        map_missing=$((map_missing + 1))
    elif [ "$got" != "$node" ]; then
        fail "$name is exported at $got, gfapi.map puts it in $node"
        map_missing=$((map_missing + 1))
    fi
done <"$tmp/map"
[ "$map_missing" = 0 ] && pass "all $(wc -l <"$tmp/map") symbols of gfapi.map are exported in their nodes"
extra=$(cut -f1 "$tmp/ours.glfs" | sort -u | comm -23 - <(cut -f1 "$tmp/map" | sort -u))
[ -z "$extra" ] || echo "note: exported but not in gfapi.map: $(echo $extra)"

# ------------------------------------------------------------------------------------------------
# 7. Consumers: every glfs_* import is exported with the node the consumer requires
# ------------------------------------------------------------------------------------------------
declare -A consumer_summary
for c in "${CONSUMER_ORDER[@]}"; do
    bin=${CONSUMERS[$c]}
    imports_of "$bin" >"$tmp/imp.$c"
    required_nodes_of "$bin" >"$tmp/req.$c"
    n=$(wc -l <"$tmp/imp.$c")
    [ "$n" -gt 0 ] || fail "$c ($bin) imports no glfs_* symbol — wrong file?"
    bad=0
    while IFS=$'\t' read -r name ver; do
        if [ "$ver" = - ]; then
            fail "$c imports $name without a version (unexpected for a Debian build)"; bad=$((bad + 1)); continue
        fi
        if ! grep -qx -- "$ver" "$tmp/req.$c"; then
            fail "$c imports $name@$ver but does not require $ver from libgfapi.so.0 (readelf -V)"; bad=$((bad + 1))
        fi
        have=$(awk -F'\t' -v n="$name" -v v="$ver" '$1 == n && $2 == v { print $3 }' "$tmp/ours.glfs")
        if [ -z "$have" ]; then
            other=$(awk -F'\t' -v n="$name" '$1 == n { printf "%s%s", sep, ($3 == "none" ? $1 " (unversioned)" : $1 "@" $2); sep = ", " }' "$tmp/ours.glfs")
            if [ -z "$other" ]; then other="not exported at all (BIND_NOW: the consumer fails to load)"
            elif [[ $other == *unversioned* ]]; then other="exported only as $other (loads with 'no version information available')"
            else other="exported only as $other (BIND_NOW: the consumer fails to load)"; fi
            fail "$c needs $name@$ver — $other"
            bad=$((bad + 1))
        fi
    done <"$tmp/imp.$c"
    while read -r node; do
        grep -qx -- "$node" "$tmp/ours.nodes" || { fail "$c requires version node $node, which the library does not define"; bad=$((bad + 1)); }
    done <"$tmp/req.$c"
    pernode=$(cut -f2 "$tmp/imp.$c" | sort | uniq -c | awk '{printf "%s%s ×%s", sep, $2, $1; sep = ", "}')
    consumer_summary[$c]="$n imports ($pernode)"
    if [ "$bad" = 0 ]; then pass "$c: all $n glfs_* imports resolve with their versions ($bin)"; fi
done

# Loader view, for the record: what ld.so says when it binds the consumers to this library now.
for c in "${CONSUMER_ORDER[@]}"; do
    out=$(LD_LIBRARY_PATH="$GFAPI_DIR" ldd -r "${CONSUMERS[$c]}" 2>&1 | grep -E 'libgfapi|glfs_|GFAPI' | grep -v '=>' || true)
    resolved=$(LD_LIBRARY_PATH="$GFAPI_DIR" ldd "${CONSUMERS[$c]}" 2>/dev/null | awk '$1 == "libgfapi.so.0" { print $3 }')
    if [ "$(readlink -f "${resolved:-/nonexistent}")" != "$(readlink -f "$LIB")" ]; then
        fail "$c: with LD_LIBRARY_PATH=$GFAPI_DIR the loader picks '${resolved:-nothing}', not $LIB"
    elif [ -n "$out" ]; then
        fail "$c: ldd -r reports problems binding to this library:"
        echo "$out" | head -20 | sed 's/^/        /'
    else
        pass "$c: ldd -r binds cleanly to $LIB"
    fi
done

# ------------------------------------------------------------------------------------------------
# Summary
# ------------------------------------------------------------------------------------------------
echo "# summary"
echo "#   exports: $(wc -l <"$tmp/ours.glfs") glfs_* functions, $(wc -l <"$tmp/ours.markers") node markers, $(wc -l <"$tmp/ours.strays") others"
echo "#   per version node (default @@ exports, + compat @ aliases):"
awk -F'\t' '{ n[$2]++; if ($3 == "compat") c[$2]++ } END { for (k in n) printf "%s %d %d\n", k, n[k] - c[k], c[k] }' \
    "$tmp/ours.glfs" | sort -V | awk '{ printf "#     %-20s %3d%s\n", $1, $2, ($3 > 0 ? " (+" $3 " compat)" : "") }'
echo "#   per consumer:"
for c in "${CONSUMER_ORDER[@]}"; do echo "#     $c: ${consumer_summary[$c]:-?}"; done
if [ "$failures" = 0 ]; then
    echo "# ABI check passed"
    exit 0
fi
echo "# ABI check FAILED: $failures problem(s)"
exit 1
