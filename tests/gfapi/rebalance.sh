#!/usr/bin/env bash
# tests/gfapi/rebalance.sh — a volume grows from 2 bricks to 4 and rebalances under load.
#
#   MORTAR_BINARY=/path/mortar GFAPI_DIR=/dir/with/libgfapi.so.0 tests/gfapi/rebalance.sh   (KEEP_WORK=1 keeps logs)
#
# A 2-brick volume holds 10,240 files in 20 directories (checksums recorded). fio writes and verifies through the
# drop-in (ioengine=gfapi, crc32c) and the FUSE mount reads every file back against its checksum, both throughout;
# two bricks are added, 200 files copied through the mount right away (before any file moves) must reach the new
# bricks too, and the rebalance runs to completion. Then: no I/O error anywhere (fio and the readers exit 0),
# every file's checksum unchanged through the mount and through a new client, files and bytes within 15 % of even
# over the four bricks, and no link file left. Runs on 127.0.0.1:24007; tests/gfapi/run.sh calls it inside a
# network namespace of its own.
set -euo pipefail
: "${GFAPI_DIR:?set GFAPI_DIR to the directory holding the libgfapi.so.0 under test}"
: "${MORTAR_BINARY:?set MORTAR_BINARY to the mortar executable}"

fail() { echo "rebalance.sh: FAILED: $*" >&2; exit 1; }
mortar() { "$MORTAR_BINARY" "$@"; }

work=$(mktemp -d /tmp/mortar-gfapi-rebalance.XXXXXX)
cluster=$work/cluster
mnt=$work/mnt
pids=()
cleanup() {
    touch "$work/done"
    for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if mountpoint -q "$mnt"; then umount "$mnt" 2>/dev/null || umount -l "$mnt" || true; fi
    mortar down --dir "$cluster" >/dev/null 2>&1 || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "rebalance.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# files_in DIR: the regular files under a brick directory, its .mortar left out, one per line.
files_in() { (cd "$1" && find . -path ./.mortar -prune -o -type f -print); }
# bytes_in DIR: their bytes.
bytes_in() { (cd "$1" && find . -path ./.mortar -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'); }

mortar up --dir "$cluster" --bricks 1 >/dev/null
mkdir -p "$work/b0" "$work/b1" "$work/b2" "$work/b3" "$work/src" "$work/late" "$mnt"
mortar volume create grow "127.0.0.1:$work/b0" "127.0.0.1:$work/b1" --force >/dev/null
mortar volume start grow >/dev/null

# 20 directories of 512 files each, 1 to 5 KiB.
for d in $(seq 0 19); do
    mkdir "$work/src/d$d"
    head -c $(( 512 * 1024 * (1 + d % 5) )) /dev/urandom | (cd "$work/src/d$d" && split -b $(( 1024 * (1 + d % 5) )) -a 3 - f)
done
for n in $(seq 1 200); do head -c $(( 100 + n * 13 )) /dev/urandom >"$work/late/l$n"; done
(cd "$work/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work/sums"
total=$(wc -l <"$work/sums")
[ "$total" = 10240 ] || fail "made $total files, not 10240"
started=$SECONDS
mortar mkdir mortar://127.0.0.1/grow/data
# Four copies at once: one `mortar cp` creates its files one after another.
for part in 0 1 2 3; do
    (for d in $(seq "$part" 4 19); do mortar cp -r "$work/src/d$d" "mortar://127.0.0.1/grow/data/d$d" >/dev/null; done) &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "copying the files in failed"; done
pids=()
echo "rebalance.sh: $total files stored on 2 bricks in $((SECONDS - started)) s"

mortar mount mortar://127.0.0.1/grow "$mnt"
# fio through the drop-in: passes of 16 KiB random writes with crc32c headers, each verified, until the rebalance
# ends; between passes the file is closed, so the rebalance may move it while the next pass opens it.
(passes=0; until [ -e "$work/done" ]; do
    (cd "$work" && LD_LIBRARY_PATH="$GFAPI_DIR" timeout 300 fio --name=load --ioengine=gfapi --volume=grow \
        --brick=127.0.0.1 --filename=fio.dat --size=8m --bs=16k --rw=randwrite --verify=crc32c --verify_fatal=1 \
        >>"$work/fio.log" 2>&1) || { echo failed >"$work/fio.status"; exit 1; }
    passes=$((passes + 1)); echo "$passes" >"$work/fio.passes"
done; echo ok >"$work/fio.status") &
pids+=($!)
# The mount reads every file back against its checksum, over and over, until the rebalance ends.
(rounds=0; until [ -e "$work/done" ]; do
    (cd "$mnt/data" && sha256sum --quiet -c "$work/sums") >>"$work/reads.log" 2>&1 || { echo failed >"$work/reads.status"; exit 1; }
    rounds=$((rounds + 1)); echo "$rounds" >"$work/reads.rounds"
done; echo ok >"$work/reads.status") &
pids+=($!)

mortar volume add-brick grow "127.0.0.1:$work/b2" "127.0.0.1:$work/b3" >/dev/null
for _ in $(seq 1 300); do
    mortar volume status grow --json | grep -q '"online" *: *false' || break
    sleep 0.1
done
# New files right after add-brick, before any file moves: the mount places them over all four bricks.
sleep 1.5
cp -r "$work/late" "$mnt/late"
late_on_new=$(( $(files_in "$work/b2" | grep -c '^./late/' || true) + $(files_in "$work/b3" | grep -c '^./late/' || true) ))
[ "$late_on_new" -gt 50 ] || fail "only $late_on_new of 200 files copied right after add-brick are on the new bricks"
echo "rebalance.sh: $late_on_new of 200 files copied right after add-brick are on the new bricks"

started=$SECONDS
mortar volume set grow cluster.rebal-throttle aggressive >/dev/null
mortar volume rebalance grow start >/dev/null
timeout 900 "$MORTAR_BINARY" volume rebalance grow status --watch >"$work/status.txt" 2>"$work/watch.txt" \
    || { cat "$work/status.txt" "$work/watch.txt"; fail "the rebalance did not complete"; }
elapsed=$((SECONDS - started))
touch "$work/done"
cat "$work/status.txt"
moved=$(awk 'NR == 3 { print $2 }' "$work/status.txt")
echo "rebalance.sh: $moved files moved in $elapsed s ($(( moved / (elapsed > 0 ? elapsed : 1) )) files/s) under load"

for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
[ "$(cat "$work/fio.status" 2>/dev/null)" = ok ] || { tail -20 "$work/fio.log"; fail "fio through the drop-in failed during the rebalance"; }
[ "$(cat "$work/reads.status" 2>/dev/null)" = ok ] || { tail -5 "$work/reads.log"; fail "reading back through the mount failed during the rebalance"; }
echo "rebalance.sh: $(cat "$work/fio.passes" 2>/dev/null || echo 0) fio passes verified their writes, the mount read all files back $(cat "$work/reads.rounds" 2>/dev/null || echo 0) times: no error"

(cd "$mnt/data" && sha256sum --quiet -c "$work/sums") || fail "a checksum changed (through the mount)"
mkdir "$work/back"
mortar cp -r mortar://127.0.0.1/grow/data "$work/back/data" >/dev/null
(cd "$work/back/data" && sha256sum --quiet -c "$work/sums") || fail "a checksum changed (through a new client)"
umount "$mnt"

counts=()
bytes=()
for b in 0 1 2 3; do
    counts+=("$(files_in "$work/b$b" | grep -c '^./data/' || true)")
    bytes+=("$( (cd "$work/b$b" && find ./data -type f -printf '%s\n' 2>/dev/null) | awk '{ s += $1 } END { print s + 0 }')")
done
echo "rebalance.sh: files per brick ${counts[*]}, bytes per brick ${bytes[*]}"
sum_files=$(( counts[0] + counts[1] + counts[2] + counts[3] ))
[ "$sum_files" = "$total" ] || fail "$sum_files files on the bricks, not $total"
sum_bytes=$(( bytes[0] + bytes[1] + bytes[2] + bytes[3] ))
for b in 0 1 2 3; do
    [ $(( counts[b] * 400 )) -ge $(( sum_files * 85 )) ] && [ $(( counts[b] * 400 )) -le $(( sum_files * 115 )) ] \
        || fail "brick $b holds ${counts[b]} of $sum_files files, more than 15 % off even"
    [ $(( bytes[b] * 400 )) -ge $(( sum_bytes * 85 )) ] && [ $(( bytes[b] * 400 )) -le $(( sum_bytes * 115 )) ] \
        || fail "brick $b holds ${bytes[b]} of $sum_bytes bytes, more than 15 % off even"
done
left=$(find "$work"/b[0-3] -path "*/.mortar" -prune -o -type f -perm 1000 -print | wc -l)
[ "$left" = 0 ] || fail "$left link files left after the rebalance"
echo "rebalance.sh: ok: checksums unchanged, files and bytes within 15 % of even, no link file left"
