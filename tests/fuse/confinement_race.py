#!/usr/bin/env python3
"""The confinement race through the FUSE mount: nothing reaches outside a brick's directory.

    confinement_race.py MOUNT OUTSIDE SECONDS

MOUNT is a mounted volume whose bricks are directories next to OUTSIDE (OUTSIDE = BRICKS/outside, bricks =
BRICKS/b0, BRICKS/b1), holding a file `victim` that reads "original". One thread swaps a directory `d` with a
symbolic link `s -> ../outside` (renameat2 RENAME_EXCHANGE) as fast as it can; on a brick that link points at
OUTSIDE. Another thread keeps a descriptor of `d` open — so the kernel sends its requests for the directory's
inode, and the brick resolves it by FileID — and creates, truncates, writes, mkdirs, symlinks, mknods, chmods,
renames and unlinks through it. On the mount the same link points at MOUNT's parent/outside, which the client may
follow: that is the client's own file system, not the brick's. Exits 0 when OUTSIDE still holds only the
untouched victim (and something succeeded), 1 otherwise, printing what it found.

The race runs for at least SECONDS and on until ENOUGH_ROUNDS rounds went through, bounded by LONGEST seconds: on a
loaded machine a fixed time may hold only a round or two, and a race with nothing in it proves nothing.
"""
import ctypes
import os
import stat
import sys
import threading
import time

RENAME_EXCHANGE = 2
AT_FDCWD = -100
ENOUGH_ROUNDS = 10
LONGEST = 120.0


def swap_forever(mount, stop, counts):
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    first, second = os.fsencode(os.path.join(mount, "d")), os.fsencode(os.path.join(mount, "s"))
    while not stop.is_set():
        if renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) == 0:
            counts["swaps"] += 1
        else:
            counts["swap_errors"] += 1


def change_everything(directory, index):
    """One round of changes through the open directory; any step may fail while a link is swapped in."""
    name = "f%d" % index
    descriptor = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644, dir_fd=directory)
    os.close(descriptor)
    descriptor = os.open("victim", os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644, dir_fd=directory)
    os.write(descriptor, b"overwritten")
    os.close(descriptor)
    os.mkdir("m%d" % index, 0o777, dir_fd=directory)
    os.symlink("/", "l%d" % index, dir_fd=directory)
    os.mknod("p%d" % index, 0o666 | stat.S_IFIFO, dir_fd=directory)
    os.chmod(".", 0o777, dir_fd=directory)
    os.rename(name, "g%d" % index, src_dir_fd=directory, dst_dir_fd=directory)
    os.unlink("victim", dir_fd=directory)


def should_go_on(elapsed, seconds, rounds):
    """Whether the race goes on after `elapsed` seconds with `rounds` rounds through."""
    if elapsed >= LONGEST:
        return False
    return elapsed < seconds or rounds < ENOUGH_ROUNDS


def main():
    mount, outside, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    os.mkdir(os.path.join(mount, "d"))
    os.symlink("../outside", os.path.join(mount, "s"))
    directory = os.open(os.path.join(mount, "d"), os.O_RDONLY | os.O_DIRECTORY)
    mode_before = os.stat(outside).st_mode
    stop = threading.Event()
    counts = {"swaps": 0, "swap_errors": 0, "rounds": 0, "refused": 0}
    swapper = threading.Thread(target=swap_forever, args=(mount, stop, counts))
    swapper.start()
    started = time.monotonic()
    index = 0
    try:
        while should_go_on(time.monotonic() - started, seconds, counts["rounds"]):
            index += 1
            try:
                change_everything(directory, index)
                counts["rounds"] += 1
            except OSError:
                counts["refused"] += 1
    finally:
        stop.set()
        swapper.join()
        os.close(directory)
    found = sorted(os.listdir(outside))
    with open(os.path.join(outside, "victim"), "rb") as victim:
        content = victim.read()
    counts["elapsed"] = time.monotonic() - started
    print("confinement race through the mount: %(swaps)d swaps, %(rounds)d rounds succeeded, %(refused)d refused"
          " in %(elapsed).1f s" % counts)
    problems = []
    if found != ["victim"]:
        problems.append("files appeared outside the brick: %s" % found)
    if content != b"original":
        problems.append("the victim outside the brick was changed: %r" % content)
    if os.stat(outside).st_mode != mode_before:
        problems.append("the outside directory's mode changed")
    if counts["rounds"] == 0 or counts["swaps"] == 0:
        problems.append("the race did not run (no round or no swap succeeded): %s" % counts)
    for problem in problems:
        print("FAIL: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
