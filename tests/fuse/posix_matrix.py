#!/usr/bin/env python3
"""Every namespace and attribute operation on every file type, as root and as an unprivileged user, on a Mortar
mount compared with the same steps on a local directory (the oracle: whatever the local file system does in this
run is what the mount must do; nothing here hard-codes an expected errno or mode).

Usage: posix_matrix.py MOUNT_DIR LOCAL_DIR
       posix_matrix.py --self-test LOCAL_DIR     (the matrix against itself on two local directories: every step
                                                 must agree, and the steps that must differ by type do)

Types: regular file, directory, FIFO, socket, symbolic link, block device, character device. Operations: make,
stat (type, mode, owner, links, device number), rename (same directory, across directories, over a target of the
same type, onto a directory, noreplace), hard link, unlink, rmdir, chmod, chown/lchown, the sticky-bit rule, the
set-user-ID/set-group-ID rules (write, truncate, O_TRUNC, chown, chmod, creation in a set-group-ID directory),
255/256-byte names and a 4065-byte path. Non-root steps run as uid/gid 65534 in a forked child
(posix_semantics.as_nobody).
"""
import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from posix_semantics import NOBODY, STAFF, Record, as_nobody, renameat2, RENAME_NOREPLACE  # noqa: E402

TYPES = ["regular", "directory", "fifo", "socket", "symlink", "block", "char"]
BLOCK_DEVICE = os.makedev(7, 200)   # a loop device number; nothing ever opens the node
CHAR_DEVICE = os.makedev(1, 3)      # /dev/null's number, so that opening it through the mount is harmless


def make(path, kind, mode=0o644):
    """Makes an object of `kind` at `path` with the caller's identity."""
    if kind == "regular":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.write(fd, b"data")
        os.close(fd)
    elif kind == "directory":
        os.mkdir(path, mode | 0o111)
    elif kind == "fifo":
        os.mkfifo(path, mode)
    elif kind == "socket":
        # mknod rather than bind: a socket path is limited to 108 bytes, the mount's paths may be longer.
        os.mknod(path, stat.S_IFSOCK | mode)
    elif kind == "symlink":
        os.symlink("target-" + os.path.basename(path), path)
    elif kind == "block":
        os.mknod(path, stat.S_IFBLK | mode, BLOCK_DEVICE)
    elif kind == "char":
        os.mknod(path, stat.S_IFCHR | mode, CHAR_DEVICE)
    else:
        raise ValueError(kind)
    return "made"


def shape(path):
    """Type, permission bits, link count (not for directories: ext4 and tmpfs count differently), owner, and the
    device number of a device node."""
    status = os.lstat(path)
    kind = stat.S_IFMT(status.st_mode)
    links = "dir" if stat.S_ISDIR(status.st_mode) else status.st_nlink
    device = (os.major(status.st_rdev), os.minor(status.st_rdev)) if kind in (stat.S_IFBLK, stat.S_IFCHR) else None
    return (oct(kind), oct(stat.S_IMODE(status.st_mode)), links, status.st_uid, status.st_gid, device)


def mode_of(path):
    return oct(stat.S_IMODE(os.lstat(path).st_mode))


def then(action, result):
    """Runs action(), then returns result() (for a step whose value is the state it leaves)."""
    action()
    return result()


def write_some(path, flags=os.O_WRONLY):
    fd = os.open(path, flags)
    try:
        os.write(fd, b"more")
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: each takes (directory, record) and runs the same steps on both roots.

def types_as_root(d, r):
    """Each type made, stat'ed, renamed every way, linked, chmod'ed, chown'ed and removed by root."""
    os.mkdir(f"{d}/other")
    os.mkdir(f"{d}/full")
    make(f"{d}/full/inside", "regular")
    for kind in TYPES:
        p = f"{d}/{kind}"
        r.step(f"{kind}: make", lambda: make(p, kind))
        r.step(f"{kind}: stat", lambda: shape(p))
        r.step(f"{kind}: make again", lambda: make(p, kind))
        r.step(f"{kind}: rename", lambda: then(lambda: os.rename(p, p + "-renamed"), lambda: shape(p + "-renamed")))
        r.step(f"{kind}: rename across", lambda: then(
            lambda: os.rename(p + "-renamed", f"{d}/other/{kind}"), lambda: shape(f"{d}/other/{kind}")))
        r.step(f"{kind}: rename back", lambda: os.rename(f"{d}/other/{kind}", p))
        r.step(f"{kind}: rename noreplace onto itself-kind", lambda: (
            make(p + "-second", kind), renameat2(p + "-second", p, RENAME_NOREPLACE)))
        r.step(f"{kind}: rename over same kind", lambda: then(
            lambda: os.rename(p + "-second", p), lambda: (shape(p), os.path.lexists(p + "-second"))))
        r.step(f"{kind}: rename onto non-empty directory", lambda: os.rename(p, f"{d}/full"))
        r.step(f"{kind}: rename onto regular file", lambda: (make(f"{d}/victim", "regular"),
                                                             os.rename(p, f"{d}/victim")))
        if os.path.lexists(f"{d}/victim"):
            r.step(f"{kind}: after rename onto regular file", lambda: shape(f"{d}/victim"))
            if not os.path.lexists(p):
                os.rename(f"{d}/victim", p)
            else:
                os.unlink(f"{d}/victim")
        r.step(f"{kind}: hard link", lambda: then(lambda: os.link(p, p + "-link", follow_symlinks=False),
                                                  lambda: (shape(p), shape(p + "-link"))))
        r.step(f"{kind}: unlink the link", lambda: os.unlink(p + "-link"))
        r.step(f"{kind}: chmod", lambda: then(lambda: os.chmod(p, 0o4751), lambda: shape(p)))
        r.step(f"{kind}: lchown", lambda: then(lambda: os.lchown(p, 123, 456), lambda: shape(p)))
        r.step(f"{kind}: chown -1 -1", lambda: then(lambda: os.lchown(p, -1, -1), lambda: shape(p)))
        r.step(f"{kind}: rmdir", lambda: os.rmdir(p))
        r.step(f"{kind}: unlink", lambda: os.unlink(p))
        r.step(f"{kind}: remove", lambda: (os.rmdir if os.path.isdir(p) and not os.path.islink(p) else os.unlink)(p))
        r.step(f"{kind}: gone", lambda: os.path.lexists(p))


def devices_open(d, r):
    """A device node on the volume is the client's device, as on any file system (the kernel opens it)."""
    make(f"{d}/null", "char", 0o666)
    r.step("read the char device", lambda: os.read(os.open(f"{d}/null", os.O_RDONLY), 10))
    make(f"{d}/loop", "block", 0o666)
    r.step("open the block device", lambda: os.close(os.open(f"{d}/loop", os.O_RDONLY)))


def types_as_nobody(d, r):
    """Each type made and handled by an unprivileged user in a directory it may write; devices are root's."""
    os.chmod(d, 0o777)
    for kind in TYPES:
        p = f"{d}/{kind}"

        def own_life(p=p, kind=kind):
            steps = [make(p, kind, 0o640), shape(p)]
            for action in (lambda: os.rename(p, p + "-r"), lambda: os.rename(p + "-r", p),
                           lambda: os.link(p, p + "-l", follow_symlinks=False), lambda: os.unlink(p + "-l"),
                           lambda: os.chmod(p, 0o600), lambda: os.lchown(p, NOBODY, NOBODY),
                           lambda: os.lchown(p, 0, 0)):
                try:
                    action()
                    steps.append(shape(p) if os.path.lexists(p) else "gone")
                except OSError as error:
                    steps.append("errno " + errno.errorcode[error.errno])
            return steps
        as_nobody(r, f"{kind}: nobody's own", own_life)
        r.step(f"{kind}: root sees nobody's", lambda: shape(p) if os.path.lexists(p) else "absent")
        if not os.path.lexists(p):
            make(p, kind)
        root_owned = f"{d}/{kind}-roots"
        make(root_owned, kind)
        as_nobody(r, f"{kind}: nobody chmods root's", lambda: os.chmod(root_owned, 0o777))
        as_nobody(r, f"{kind}: nobody chowns root's", lambda: os.lchown(root_owned, NOBODY, NOBODY))
        as_nobody(r, f"{kind}: nobody links root's", lambda: os.link(root_owned, root_owned + "-l",
                                                                     follow_symlinks=False))
        as_nobody(r, f"{kind}: nobody renames root's", lambda: os.rename(root_owned, root_owned + "-r"))
        as_nobody(r, f"{kind}: nobody unlinks root's", lambda: (os.rmdir if kind == "directory" else os.unlink)(
            root_owned + "-r" if os.path.lexists(root_owned + "-r") else root_owned))


def sticky(d, r):
    """In a sticky directory only the owner of an entry, of the directory, or root may remove or rename it."""
    os.chmod(d, 0o777)
    os.mkdir(f"{d}/sticky", 0o1777)
    for kind in TYPES:
        roots = f"{d}/sticky/{kind}-roots"
        make(roots, kind)
        as_nobody(r, f"{kind}: unlink root's in sticky", lambda: (os.rmdir if kind == "directory" else os.unlink)(
            roots))
        as_nobody(r, f"{kind}: rename root's in sticky", lambda: os.rename(roots, roots + "-r"))
        as_nobody(r, f"{kind}: rename over root's in sticky", lambda: (
            make(f"{d}/sticky/{kind}-mine", "regular" if kind != "directory" else "directory"),
            os.rename(f"{d}/sticky/{kind}-mine", roots)))
        r.step(f"{kind}: root's still there", lambda: shape(roots))
        if kind in ("block", "char"):
            continue   # nobody may not make these

        def own(kind=kind):
            p = f"{d}/sticky/{kind}-own"
            make(p, kind)
            os.rename(p, p + "-r")
            (os.rmdir if kind == "directory" else os.unlink)(p + "-r")
            return "made, renamed, removed"
        as_nobody(r, f"{kind}: own in sticky", own)
        r.step(f"{kind}: root removes in sticky", lambda: (os.rmdir if kind == "directory" else os.unlink)(roots))


def set_id_bits(d, r):
    """Set-user-ID and set-group-ID: what writes, truncates, opens with O_TRUNC, chown and chmod leave."""
    os.chmod(d, 0o777)
    modes = [0o4777, 0o2777, 0o2767, 0o6777, 0o6767, 0o4666]
    for mode in modes:
        name = f"{d}/f{mode:o}"

        def fresh(owner=0, group=0, mode=mode, name=name):
            if os.path.lexists(name):
                os.unlink(name)
            make(name, "regular", 0o600)
            os.chown(name, owner, group)
            os.chmod(name, mode)
        fresh()
        as_nobody(r, f"{mode:o}: nobody writes root's", lambda: (write_some(name), mode_of(name))[1])
        fresh()
        as_nobody(r, f"{mode:o}: nobody truncates root's", lambda: (os.truncate(name, 1), mode_of(name))[1])
        fresh()
        as_nobody(r, f"{mode:o}: nobody opens root's O_TRUNC", lambda: (
            os.close(os.open(name, os.O_WRONLY | os.O_TRUNC)), mode_of(name))[1])
        fresh()
        as_nobody(r, f"{mode:o}: nobody writes root's, in its group", lambda: (write_some(name), mode_of(name))[1],
                  groups=[0])
        fresh()
        r.step(f"{mode:o}: root writes", lambda: then(lambda: write_some(name), lambda: mode_of(name)))
        fresh()
        r.step(f"{mode:o}: root truncates", lambda: then(lambda: os.truncate(name, 0), lambda: mode_of(name)))
        fresh()
        r.step(f"{mode:o}: root chowns to another", lambda: then(lambda: os.chown(name, 123, 456),
                                                                 lambda: shape(name)))
        fresh()
        r.step(f"{mode:o}: root chowns to the same", lambda: then(lambda: os.chown(name, 0, 0), lambda: shape(name)))
        fresh()
        r.step(f"{mode:o}: root chowns -1 -1", lambda: then(lambda: os.chown(name, -1, -1), lambda: shape(name)))
        fresh(NOBODY, NOBODY)
        as_nobody(r, f"{mode:o}: owner chowns to itself", lambda: (os.chown(name, NOBODY, NOBODY), shape(name))[1])
        fresh(NOBODY, 0)
        as_nobody(r, f"{mode:o}: owner outside the group chgrps", lambda: (os.chown(name, -1, NOBODY),
                                                                           shape(name))[1])
        fresh(NOBODY, 0)
        as_nobody(r, f"{mode:o}: owner outside the group chmods", lambda: (os.chmod(name, mode), mode_of(name))[1])
        fresh(NOBODY, NOBODY)
        as_nobody(r, f"{mode:o}: owner writes", lambda: (write_some(name), mode_of(name))[1])
    os.mkdir(f"{d}/dir-sgid", 0o777)
    os.chmod(f"{d}/dir-sgid", 0o2775)
    r.step("chown of a set-group-ID directory", lambda: then(lambda: os.chown(f"{d}/dir-sgid", 123, 456),
                                                             lambda: shape(f"{d}/dir-sgid")))


def set_group_id_directory(d, r):
    """Objects made in a set-group-ID directory take its group; directories take the bit too."""
    os.chmod(d, 0o777)
    os.mkdir(f"{d}/shared")
    os.chown(f"{d}/shared", 0, STAFF)
    os.chmod(f"{d}/shared", 0o2777)
    for kind in TYPES:
        p = f"{d}/shared/root-{kind}"
        r.step(f"{kind}: root makes in set-group-ID dir", lambda: then(lambda: make(p, kind, 0o2755),
                                                                       lambda: shape(p)))
        if kind in ("block", "char"):
            continue
        q = f"{d}/shared/nobody-{kind}"
        as_nobody(r, f"{kind}: nobody makes in set-group-ID dir", lambda: (make(q, kind, 0o2755), shape(q))[1])
        q2 = f"{d}/shared/member-{kind}"
        as_nobody(r, f"{kind}: member makes in set-group-ID dir", lambda: (make(q2, kind, 0o2755), shape(q2))[1],
                  groups=[STAFF])
    r.step("nested directory", lambda: then(lambda: os.makedirs(f"{d}/shared/root-directory/a/b"),
                                            lambda: shape(f"{d}/shared/root-directory/a/b")))
    r.step("file created with open", lambda: then(
        lambda: os.close(os.open(f"{d}/shared/opened", os.O_CREAT | os.O_WRONLY, 0o640)),
        lambda: shape(f"{d}/shared/opened")))
    r.step("renamed in keeps its group", lambda: then(
        lambda: (make(f"{d}/outside", "regular"), os.rename(f"{d}/outside", f"{d}/shared/moved-in")),
        lambda: shape(f"{d}/shared/moved-in")))


def long_names(d, r):
    """255-byte names work for every type and every operation; 256 bytes are ENAMETOOLONG."""
    for kind in TYPES:
        longest = f"{d}/" + (kind[0] * 255)
        too_long = f"{d}/" + (kind[0] * 256)
        r.step(f"{kind}: make 255", lambda: then(lambda: make(longest, kind), lambda: shape(longest)))
        r.step(f"{kind}: make 256", lambda: make(too_long, kind))
        r.step(f"{kind}: stat 256", lambda: os.lstat(too_long))
        renamed = f"{d}/" + ("r" + kind[0] * 254)
        r.step(f"{kind}: rename to 255", lambda: then(lambda: os.rename(longest, renamed), lambda: shape(renamed)))
        r.step(f"{kind}: rename to 256", lambda: os.rename(renamed, too_long))
        linked = f"{d}/" + ("l" + kind[0] * 254)
        r.step(f"{kind}: link as 255", lambda: then(lambda: os.link(renamed, linked, follow_symlinks=False),
                                                    lambda: shape(linked)))
        r.step(f"{kind}: link as 256", lambda: os.link(renamed, too_long, follow_symlinks=False))
        r.step(f"{kind}: listed", lambda: sorted(n for n in os.listdir(d) if len(n) >= 255))
        r.step(f"{kind}: remove", lambda: (os.rmdir if kind == "directory" else os.unlink)(renamed))
        if os.path.lexists(linked):
            os.unlink(linked)
    r.step("symlink to a 255-byte name", lambda: then(
        lambda: os.symlink("x" * 255, f"{d}/" + "s" * 255), lambda: os.readlink(f"{d}/" + "s" * 255)))
    os.mkdir(f"{d}/" + "D" * 255)
    r.step("file inside a 255-byte directory", lambda: then(
        lambda: make(f"{d}/{'D' * 255}/{'F' * 255}", "regular"), lambda: shape(f"{d}/{'D' * 255}/{'F' * 255}")))
    r.step("xattr on a 255-byte name", lambda: then(
        lambda: os.setxattr(f"{d}/{'D' * 255}/{'F' * 255}", "user.k", b"v"),
        lambda: os.getxattr(f"{d}/{'D' * 255}/{'F' * 255}", "user.k")))


def long_path(d, r):
    """A path of 4065 bytes below the mount (15 directories of 255-byte names, then a 225-byte name): every
    call is made relative to a descriptor of `d`, so the kernel sees only the long relative path. On the bricks
    it is longer still by their own directories' paths, which must not matter."""
    top = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        parts = [chr(ord("a") + index) * 255 for index in range(15)]
        deep = "/".join(parts)
        name = deep + "/" + "f" * 225
        r.step("long path: make directories", lambda: [
            os.mkdir("/".join(parts[:count]), 0o755, dir_fd=top) for count in range(1, 16)] and len(deep))

        def write_read():
            descriptor = os.open(name, os.O_CREAT | os.O_RDWR, 0o644, dir_fd=top)
            try:
                os.write(descriptor, b"deep")
                return os.pread(descriptor, 16, 0)
            finally:
                os.close(descriptor)
        r.step("long path: create, write, read", write_read)
        r.step("long path: stat", lambda: (len(name), shape_at(top, name)))
        renamed = deep + "/" + "g" * 225
        r.step("long path: rename", lambda: then(
            lambda: os.rename(name, renamed, src_dir_fd=top, dst_dir_fd=top), lambda: shape_at(top, renamed)))
        r.step("long path: link", lambda: then(
            lambda: os.link(renamed, name, src_dir_fd=top, dst_dir_fd=top), lambda: shape_at(top, name)))
        symbolic = deep + "/" + "s" * 225
        r.step("long path: symlink", lambda: then(
            lambda: os.symlink("t" * 255, symbolic, dir_fd=top), lambda: os.readlink(symbolic, dir_fd=top)))

        def listed():
            descriptor = os.open(deep, os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
            try:
                return sorted(os.listdir(descriptor))
            finally:
                os.close(descriptor)
        r.step("long path: readdir", listed)
        r.step("long path: unlink", lambda: [os.unlink(path, dir_fd=top) for path in (name, renamed, symbolic)])
        r.step("long path: rmdir", lambda: [
            os.rmdir("/".join(parts[:count]), dir_fd=top) for count in range(15, 0, -1)])
    finally:
        os.close(top)


def shape_at(directory, path):
    """`shape` of a path relative to an open directory."""
    status = os.lstat(path, dir_fd=directory)
    return (stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode), status.st_nlink, status.st_size)


SCENARIOS = [types_as_root, devices_open, types_as_nobody, sticky, set_id_bits, set_group_id_directory, long_names,
             long_path]


def run(root, scenario):
    directory = os.path.join(root, "matrix-" + scenario.__name__)
    os.mkdir(directory)
    record = Record()
    try:
        scenario(directory, record)
    except Exception as error:  # a step outside record.step failed: that is a result too
        record.note("scenario raised", repr(error) if not isinstance(error, OSError)
                    else "errno " + errno.errorcode.get(error.errno, str(error.errno)))
    return record.steps


def compare(mount, local):
    """Runs every scenario on both roots; returns (failed scenarios, steps)."""
    failures = 0
    total = 0
    for scenario in SCENARIOS:
        expected = run(local, scenario)
        got = run(mount, scenario)
        total += len(expected)
        if any(label == "scenario raised" for label, _ in expected):
            print(f"FAIL {scenario.__name__}: the scenario itself broke on the local directory: {expected[-1]}")
            failures += 1
        elif expected != got:
            failures += 1
            print(f"FAIL {scenario.__name__}")
            for index in range(max(len(expected), len(got))):
                want = expected[index] if index < len(expected) else None
                have = got[index] if index < len(got) else None
                if want != have:
                    print(f"  {(want or have)[0]}\n    local: {want!r}\n    mount: {have!r}")
        else:
            print(f"ok   {scenario.__name__} ({len(expected)} steps)")
    return failures, total


def self_test(local):
    """The harness on two local directories: they must agree, and the matrix must see what distinguishes the
    types (else it compares nothing)."""
    for side in "abc":
        os.makedirs(f"{local}/{side}", exist_ok=True)
        os.chmod(f"{local}/{side}", 0o777)
    failures, total = compare(f"{local}/a", f"{local}/b")
    steps = dict(run(f"{local}/c", types_as_root))
    distinct = {steps.get(f"{kind}: stat") for kind in TYPES}
    if len(distinct) != len(TYPES) or steps.get("directory: unlink") == steps.get("regular: unlink"):
        print(f"the matrix does not tell the types apart: {distinct}")
        failures += 1
    return failures, total


def main():
    os.umask(0)  # modes are the scenarios' own, not the caller's umask
    if sys.argv[1] == "--self-test":
        failures, total = self_test(sys.argv[2])
    else:
        failures, total = compare(sys.argv[1], sys.argv[2])
    if total < 380:
        print(f"only {total} steps ran: the matrix is not doing its job")
        failures += 1
    print(f"{len(SCENARIOS) - failures} passed, {failures} failed ({total} steps)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
