#!/usr/bin/env python3
"""A seeded random sequence of file-system calls run on a Mortar mount and on a local directory in lock step
(in the spirit of fsx): every call's result or errno, every read's bytes and every stat's shape must agree, and at
the end both trees must be identical.

Usage: random_operations.py MOUNT_DIR LOCAL_DIR SEED STEPS [writeback]

With "writeback" (a mount with -o writeback_cache), SEEK_DATA is left out: the mount then reports no holes, as
POSIX allows, because the bricks may not yet have data the kernel holds.

A failure prints the seed and the step; rerunning with the same seed replays the same calls.
"""
import errno
import hashlib
import os
import random
import stat
import sys

NAMES = ["a", "b", "c", "dir1", "dir2", "é"]


class Side:
    """One of the two file systems, with the descriptors the sequence holds open on it."""

    def __init__(self, root):
        self.root = root
        self.descriptors = {}

    def path(self, relative):
        return os.path.join(self.root, relative)


def outcome(action):
    try:
        value = action()
    except OSError as error:
        return "errno " + errno.errorcode.get(error.errno, str(error.errno))
    return value


def shape(path):
    status = os.lstat(path)
    size = "dir" if stat.S_ISDIR(status.st_mode) else status.st_size
    return (stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode), status.st_nlink, size)


def choose(generator, writeback=False):
    """One operation, as a name and arguments that are the same for both sides."""
    depth = generator.choice(["", "dir1/", "dir2/", "dir1/dir2/"])
    name = depth + generator.choice(NAMES)
    other = generator.choice(["", "dir1/", "dir2/"]) + generator.choice(NAMES)
    slot = generator.randrange(4)
    kind = generator.choices(
        ["open", "close", "pwrite", "write", "pread", "ftruncate", "truncate", "fstat", "stat", "rename", "link",
         "symlink", "unlink", "mkdir", "rmdir", "setxattr", "getxattr", "listdir", "punch", "fsync", "chmod",
         "seek_data"],
        weights=[8, 4, 12, 6, 10, 3, 2, 4, 6, 5, 3, 2, 4, 3, 2, 2, 2, 3, 2, 1, 2, 2])[0]
    if writeback and kind == "seek_data":
        kind = "fstat"
    offset = generator.choice([0, generator.randrange(70_000), generator.randrange(3 << 20), (4 << 30) + generator.randrange(4096)]) \
        if generator.randrange(20) == 0 else generator.randrange(70_000)
    length = generator.choice([generator.randrange(1, 300), generator.randrange(1, 70_000), 1 << 20])
    seed = generator.getrandbits(32)
    flags = generator.choice([os.O_RDWR | os.O_CREAT, os.O_RDWR | os.O_CREAT | os.O_APPEND, os.O_RDONLY,
                              os.O_RDWR | os.O_CREAT | os.O_EXCL, os.O_RDWR | os.O_TRUNC, os.O_WRONLY])
    return kind, name, other, slot, offset, length, seed, flags


def data(seed, length):
    return random.Random(seed).randbytes(length)


def apply(side, operation):
    kind, name, other, slot, offset, length, seed, flags = operation
    path, target = side.path(name), side.path(other)
    fd = side.descriptors.get(slot)
    if kind == "open":
        if fd is not None:
            os.close(fd)
            del side.descriptors[slot]
        def do_open():
            side.descriptors[slot] = os.open(path, flags, 0o644)
            return "opened"
        return outcome(do_open)
    if kind == "close":
        if fd is None:
            return "none"
        os.close(fd)
        del side.descriptors[slot]
        return "closed"
    if kind in ("pwrite", "write", "pread", "ftruncate", "fstat", "punch", "fsync", "seek_data") and fd is None:
        return "no descriptor"
    if kind == "pwrite":
        return outcome(lambda: os.pwrite(fd, data(seed, length), offset))
    if kind == "write":
        return outcome(lambda: os.write(fd, data(seed, length)))
    if kind == "pread":
        return outcome(lambda: hashlib.sha1(os.pread(fd, length, offset)).hexdigest())
    if kind == "ftruncate":
        return outcome(lambda: os.ftruncate(fd, offset))
    if kind == "truncate":
        return outcome(lambda: os.truncate(path, offset))
    if kind == "fstat":
        return outcome(lambda: (os.fstat(fd).st_size, os.fstat(fd).st_nlink))
    if kind == "stat":
        return outcome(lambda: shape(path))
    if kind == "rename":
        return outcome(lambda: os.rename(path, target))
    if kind == "link":
        return outcome(lambda: os.link(path, target))
    if kind == "symlink":
        return outcome(lambda: os.symlink(other, path))
    if kind == "unlink":
        return outcome(lambda: os.unlink(path))
    if kind == "mkdir":
        return outcome(lambda: os.mkdir(path, 0o755))
    if kind == "rmdir":
        return outcome(lambda: os.rmdir(path))
    if kind == "setxattr":
        return outcome(lambda: os.setxattr(path, "user.k%d" % (seed % 3), data(seed, seed % 50), follow_symlinks=False))
    if kind == "getxattr":
        return outcome(lambda: sorted((attribute, os.getxattr(path, attribute, follow_symlinks=False))
                                      for attribute in os.listxattr(path, follow_symlinks=False)))
    if kind == "listdir":
        return outcome(lambda: sorted(os.listdir(path)))
    if kind == "punch":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        def punch():
            if libc.fallocate(fd, 3, offset, length) != 0:
                raise OSError(ctypes.get_errno(), "fallocate")
            return os.fstat(fd).st_size
        return outcome(punch)
    if kind == "fsync":
        return outcome(lambda: os.fsync(fd))
    if kind == "chmod":
        return outcome(lambda: os.chmod(path, 0o600 + seed % 0o100))
    if kind == "seek_data":
        # SEEK_DATA on a directory is each file system's own business (ext4 hands back the offset).
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return "directory"
        return outcome(lambda: os.lseek(fd, offset, os.SEEK_DATA) // 4096)
    raise AssertionError(kind)


def snapshot(root):
    """Every object under root: relative path, shape, contents digest or link target, extended attributes."""
    entries = []
    for directory, subdirectories, files in os.walk(root):
        for name in sorted(subdirectories + files):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            status = os.lstat(path)
            if stat.S_ISREG(status.st_mode):
                with open(path, "rb") as handle:
                    content = hashlib.sha1(handle.read()).hexdigest()
            elif stat.S_ISLNK(status.st_mode):
                content = os.readlink(path)
            else:
                content = None
            attributes = sorted(os.listxattr(path, follow_symlinks=False))
            entries.append((relative, shape(path), content, attributes))
    return sorted(entries)


def main():
    mount, local, seed, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    writeback = len(sys.argv) > 5 and sys.argv[5] == "writeback"
    os.umask(0o022)
    sides = []
    for root in (local, mount):
        base = os.path.join(root, f"random-{seed}")
        os.mkdir(base)
        os.mkdir(os.path.join(base, "dir1"))
        os.mkdir(os.path.join(base, "dir2"))
        sides.append(Side(base))
    generator = random.Random(seed)
    counts = {"ok": 0, "failed": 0}
    for step in range(steps):
        operation = choose(generator, writeback)
        expected = apply(sides[0], operation)
        got = apply(sides[1], operation)
        if expected != got:
            print(f"seed={seed} step={step} operation={operation[:5]}: local gave {expected!r}, mount gave {got!r}")
            sys.exit(1)
        counts["failed" if isinstance(expected, str) and expected.startswith("errno") else "ok"] += 1
    for side in sides:
        for fd in side.descriptors.values():
            os.close(fd)
    expected, got = snapshot(sides[0].root), snapshot(sides[1].root)
    if expected != got:
        print(f"seed={seed}: the trees differ after {steps} steps")
        for entry in sorted(set(expected) ^ set(got)):
            print("  local" if entry in expected else "  mount", entry)
        sys.exit(1)
    if counts["ok"] < steps // 3:
        print(f"seed={seed}: only {counts['ok']} of {steps} steps succeeded; the sequence proves little")
        sys.exit(1)
    print(f"seed={seed}: {steps} steps agree ({counts['ok']} succeeded, {counts['failed']} failed alike), "
          f"{len(expected)} objects identical")


if __name__ == "__main__":
    main()
