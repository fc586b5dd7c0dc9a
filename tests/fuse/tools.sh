#!/usr/bin/env bash
# Real tools on a Mortar mount: each case round-trips data through the mount and compares it with the original.
# Usage: tools.sh CASE MOUNT_DIR SCRATCH_DIR   (CASE: copy-tar | rsync | git | sqlite | fio)
# SCRATCH_DIR is a local directory for sources and copies back. Exits non-zero with a reason on any difference.
set -euo pipefail
case_name=$1
mount=$2
scratch=$3
here=$(cd "$(dirname "$0")" && pwd)
repository=$(cd "$here/../.." && pwd)

fail() { echo "tools.sh $case_name: $*" >&2; exit 1; }

# A source tree with what trips copies up: nested directories, symlinks (relative, absolute, dangling), hard
# links, modes including setgid directories and executables, odd names, an empty file, a sparse file, timestamps.
make_source() {
    local source=$1
    mkdir -p "$source"
    cp -r "$repository/Sources" "$source/Sources"
    mkdir -p "$source/odd names/with space" "$source/setgid" "$source/empty-dir"
    chmod 2775 "$source/setgid"
    printf 'x' > "$source/odd names/with space/é – ü"
    : > "$source/empty"
    printf '#!/bin/sh\necho hi\n' > "$source/script" && chmod 755 "$source/script"
    printf 'secret' > "$source/private" && chmod 600 "$source/private"
    ln -s Sources "$source/link-to-dir"
    ln -s /nonexistent/target "$source/dangling"
    ln "$source/script" "$source/hardlink-to-script"
    truncate -s 3M "$source/sparse" && printf 'tail' >> "$source/sparse"
    head -c 2500000 /dev/urandom > "$source/random.bin"
    touch -h -d '2001-02-03 04:05:06.123456789' "$source/dangling" "$source/random.bin"
    chown 1234:2345 "$source/private"
    # Directories and symbolic links get a time far from now, so every copy has to carry it over (rsync leaves alone a directory
    # whose time already agrees to the second, which one made a moment ago may do by chance).
    find "$source" -type l -exec touch -h -d '2002-03-04 05:06:07.25' {} +
    find "$source" -type d -exec touch -d '2002-03-04 05:06:07.5' {} +
}

# Names, types, modes, owners, sizes, link targets, link counts and modification times: what cp -a, tar and rsync
# promise to keep, in a form diff can compare.
listing() {
    (cd "$1" && find . -printf '%p %y %m %U %G %s %l %n %T@\n' | LC_ALL=C sort)
}

same_tree() {
    diff -r --no-dereference "$1" "$2" || fail "contents of $1 and $2 differ"
    diff <(listing "$1") <(listing "$2") || fail "metadata of $1 and $2 differ"
}

case "$case_name" in
copy-tar)
    make_source "$scratch/source"
    cp -a "$scratch/source" "$mount/cp-a"
    same_tree "$scratch/source" "$mount/cp-a"
    mkdir "$mount/untarred"
    tar -C "$scratch/source" --format=posix -cf - . | tar -C "$mount/untarred" -xpf -
    same_tree "$scratch/source" "$mount/untarred"
    mkdir "$scratch/back"
    tar -C "$mount/untarred" --format=posix -cSf - . | tar -C "$scratch/back" -xpf -
    same_tree "$scratch/source" "$scratch/back"
    tar -C "$mount" -czf "$mount/archive.tgz" cp-a
    tar -tzf "$mount/archive.tgz" > /dev/null || fail "the archive written to the mount does not list"
    ;;
rsync)
    make_source "$scratch/source"
    rsync -aH "$scratch/source/" "$mount/rsync/"
    same_tree "$scratch/source" "$mount/rsync"
    changes=$(rsync -aHi "$scratch/source/" "$mount/rsync/")
    [ -z "$changes" ] || fail "a second rsync still found changes: $changes"
    echo "changed" >> "$scratch/source/Sources/mortar/main.swift"
    changes=$(rsync -aHi "$scratch/source/" "$mount/rsync/")
    [ "$(echo "$changes" | grep -c main.swift)" = 1 ] || fail "rsync did not see exactly the changed file: $changes"
    rsync -aH "$mount/rsync/" "$scratch/back/"
    same_tree "$scratch/source" "$scratch/back"
    ;;
git)
    export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
    repo="$mount/repo"
    git init -q "$repo"
    mkdir -p "$repo/Sources"
    cp -r "$repository/Sources/MortarCore" "$repository/Sources/Mortar" "$repository/Sources/FUSE" \
        "$repository/Sources/mortar" "$repo/Sources/"
    git -C "$repo" add -A
    git -C "$repo" commit -qm first
    echo "// change" >> "$repo/Sources/mortar/main.swift"
    git -C "$repo" mv Sources/mortar Sources/renamed
    git -C "$repo" commit -qam second
    git -C "$repo" gc -q
    [ "$(git -C "$repo" log --oneline | wc -l)" = 2 ] || fail "git log does not show two commits"
    git -C "$repo" fsck --full --strict || fail "git fsck found problems"
    git -C "$repo" status --porcelain | grep -q . && fail "the work tree is not clean after committing"
    git clone -q "$repo" "$scratch/clone"
    diff -r --exclude=.git "$repo" "$scratch/clone" || fail "a clone differs from the repository on the mount"
    ;;
sqlite)
    database="$mount/test.db"
    sqlite3 "$database" <<'SQL'
PRAGMA journal_mode=DELETE;
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, payload BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO items(name, payload) SELECT 'item-' || i, randomblob(200) FROM n;
COMMIT;
CREATE INDEX items_name ON items(name);
UPDATE items SET name = name || '-updated' WHERE id % 3 = 0;
DELETE FROM items WHERE id % 7 = 0;
VACUUM;
SQL
    sqlite3 "$database" 'PRAGMA journal_mode=WAL;' > /dev/null
    sqlite3 "$database" "BEGIN; INSERT INTO items(name) VALUES ('wal'); COMMIT;"
    result=$(sqlite3 "$database" 'PRAGMA integrity_check;')
    [ "$result" = ok ] || fail "integrity_check says: $result"
    count=$(sqlite3 "$database" 'SELECT count(*) FROM items;')
    [ "$count" = 5144 ] || fail "expected 5144 rows, found $count"
    ;;
fio)
    # Write then read back and verify, through the page cache (psync) and around it (libaio, O_DIRECT).
    # No verify state files: fio would leave them in the current directory.
    common=(--size=32m --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 --directory="$mount" --group_reporting)
    fio --name=psync-random --ioengine=psync --rw=randwrite --bs=4k "${common[@]}" --output="$scratch/psync.txt" \
        || fail "fio psync: $(cat "$scratch/psync.txt")"
    fio --name=psync-sequential --ioengine=psync --rw=write --bs=1m "${common[@]}" --output="$scratch/seq.txt" \
        || fail "fio sequential: $(cat "$scratch/seq.txt")"
    fio --name=libaio-direct --ioengine=libaio --direct=1 --iodepth=16 --rw=randwrite --bs=64k --iomem_align=4096 \
        "${common[@]}" --output="$scratch/libaio.txt" || fail "fio libaio: $(cat "$scratch/libaio.txt")"
    for report in psync seq libaio; do
        grep -q "err= 0" "$scratch/$report.txt" || fail "fio $report reported errors: $(cat "$scratch/$report.txt")"
    done
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "tools.sh $case_name: ok"
