#!/usr/bin/env python3
"""POSIX semantics of a Mortar mount, compared with the same steps on a local directory.

Usage: posix_semantics.py MOUNT_DIR LOCAL_DIR

Every scenario runs in a fresh subdirectory of both roots and records what each step gave: a value (sizes, modes,
link counts, data, names, explicitly set times) or an errno name. The two records must be equal; a difference
prints both and fails. Values that legitimately differ between file systems (inode numbers, device numbers,
block counts, times the system chose) are never recorded. Some scenarios run as an unprivileged user (uid/gid
65534) in a forked child, for permission checks.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import stat
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
NOBODY = 65534
STAFF = 4321  # a group nobody is given as a supplementary group


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def fallocate(fd, mode, offset, length):
    if libc.fallocate(fd, mode, offset, length) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


class Record:
    def __init__(self):
        self.steps = []

    def step(self, label, action):
        """Runs action(); records its value, or the errno name it failed with."""
        try:
            value = action()
        except OSError as error:
            value = "errno " + errno.errorcode.get(error.errno, str(error.errno))
        self.steps.append((label, value))
        return value

    def note(self, label, value):
        self.steps.append((label, value))


def shape(path, follow=False):
    """What is compared of a stat: type, permission bits, links, owner, size."""
    status = os.stat(path) if follow else os.lstat(path)
    kind = stat.S_IFMT(status.st_mode)
    size = status.st_size if not stat.S_ISDIR(status.st_mode) else "dir"
    return (oct(kind), oct(stat.S_IMODE(status.st_mode)), status.st_nlink, status.st_uid, status.st_gid, size)


def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data)
    os.close(fd)


def read_file(path):
    with open(path, "rb") as handle:
        return handle.read()


def as_nobody(record, label, action, groups=()):
    """Runs action() as uid/gid 65534 (with the given supplementary groups) in a child process and records its
    value or errno."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            os.setgroups(list(groups))
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = repr(action())
        except OSError as error:
            result = "errno " + errno.errorcode.get(error.errno, str(error.errno))
        except BaseException as error:  # anything else is a bug in the scenario: report it
            result = "exception " + repr(error)
        os.write(writer, result.encode())
        os._exit(0)
    os.close(writer)
    chunks = []
    while True:
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    record.note(label, b"".join(chunks).decode())


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: each takes (directory, record).

def errno_cases(d, r):
    write_file(f"{d}/file", b"data")
    os.mkdir(f"{d}/dir")
    write_file(f"{d}/dir/inner", b"x")
    os.mkdir(f"{d}/empty")
    r.step("open missing", lambda: os.open(f"{d}/missing", os.O_RDONLY))
    r.step("create excl existing", lambda: os.open(f"{d}/file", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    r.step("mkdir existing", lambda: os.mkdir(f"{d}/dir"))
    r.step("rmdir not empty", lambda: os.rmdir(f"{d}/dir"))
    r.step("rmdir file", lambda: os.rmdir(f"{d}/file"))
    r.step("unlink dir", lambda: os.unlink(f"{d}/dir"))
    r.step("open dir for writing", lambda: os.open(f"{d}/dir", os.O_WRONLY))
    r.step("path through a file", lambda: os.stat(f"{d}/file/x"))
    r.step("create under a file", lambda: os.open(f"{d}/file/x", os.O_CREAT | os.O_WRONLY, 0o644))
    r.step("link to a dir", lambda: os.link(f"{d}/dir", f"{d}/dirlink"))
    r.step("rename dir into itself", lambda: os.rename(f"{d}/dir", f"{d}/dir/sub"))
    r.step("rename dir over file", lambda: os.rename(f"{d}/empty", f"{d}/file"))
    r.step("rename file over dir", lambda: os.rename(f"{d}/file", f"{d}/empty"))
    r.step("rename dir over non-empty dir", lambda: os.rename(f"{d}/empty", f"{d}/dir"))
    r.step("readlink of a file", lambda: os.readlink(f"{d}/file"))
    r.step("name too long", lambda: os.open(f"{d}/" + "n" * 256, os.O_CREAT | os.O_WRONLY, 0o644))
    r.step("O_DIRECTORY on a file", lambda: os.open(f"{d}/file", os.O_RDONLY | os.O_DIRECTORY))
    os.symlink("loop2", f"{d}/loop1")
    os.symlink("loop1", f"{d}/loop2")
    r.step("symlink loop", lambda: os.open(f"{d}/loop1", os.O_RDONLY))
    r.step("O_NOFOLLOW on a symlink", lambda: os.open(f"{d}/loop1", os.O_RDONLY | os.O_NOFOLLOW))
    r.step("getxattr missing", lambda: os.getxattr(f"{d}/file", "user.none"))
    os.setxattr(f"{d}/file", "user.a", b"1")
    r.step("setxattr create existing", lambda: os.setxattr(f"{d}/file", "user.a", b"2", os.XATTR_CREATE))
    r.step("setxattr replace missing", lambda: os.setxattr(f"{d}/file", "user.b", b"2", os.XATTR_REPLACE))
    r.step("removexattr missing", lambda: os.removexattr(f"{d}/file", "user.b"))
    fd = os.open(f"{d}/file", os.O_WRONLY)
    r.step("read on write-only fd", lambda: os.read(fd, 1))
    os.close(fd)
    fd = os.open(f"{d}/file", os.O_RDONLY)
    r.step("write on read-only fd", lambda: os.write(fd, b"x"))
    r.step("SEEK_DATA past the end", lambda: os.lseek(fd, 100, os.SEEK_DATA))
    r.step("ftruncate read-only fd", lambda: os.ftruncate(fd, 0))
    os.close(fd)
    r.step("truncate a dir", lambda: os.truncate(f"{d}/dir", 0))
    r.step("truncate negative", lambda: os.truncate(f"{d}/file", -1))
    r.step("rmdir dot", lambda: os.rmdir(f"{d}/dir/."))
    r.step("mkdir under missing parent", lambda: os.mkdir(f"{d}/missing/sub"))


def permissions(d, r):
    os.chmod(d, 0o755)
    write_file(f"{d}/secret", b"s", 0o600)
    write_file(f"{d}/readable", b"r", 0o644)
    os.mkdir(f"{d}/closed", 0o700)
    write_file(f"{d}/closed/inside", b"i")
    os.mkdir(f"{d}/open", 0o777)
    os.mkdir(f"{d}/sticky", 0o1777)
    write_file(f"{d}/sticky/roots", b"r", 0o666)
    os.mkdir(f"{d}/readonly", 0o555)
    write_file(f"{d}/readonly/file", b"x", 0o666)
    os.chmod(f"{d}/readonly", 0o555)
    write_file(f"{d}/script", b"#!/bin/sh\n", 0o744)
    as_nobody(r, "read 0600 root file", lambda: read_file(f"{d}/secret"))
    as_nobody(r, "read 0644 root file", lambda: read_file(f"{d}/readable"))
    as_nobody(r, "write 0644 root file", lambda: os.open(f"{d}/readable", os.O_WRONLY))
    as_nobody(r, "create in 0755 root dir", lambda: os.open(f"{d}/mine", os.O_CREAT | os.O_WRONLY, 0o644))
    as_nobody(r, "stat through 0700 dir", lambda: os.stat(f"{d}/closed/inside").st_size)
    as_nobody(r, "list 0700 dir", lambda: os.listdir(f"{d}/closed"))
    def create_own():
        fd = os.open(f"{d}/open/mine", os.O_CREAT | os.O_WRONLY, 0o640)
        os.write(fd, b"mine")
        os.close(fd)
        return shape(f"{d}/open/mine")
    as_nobody(r, "create in 0777 dir", create_own)
    as_nobody(r, "chmod own file", lambda: (os.chmod(f"{d}/open/mine", 0o600), shape(f"{d}/open/mine"))[1])
    as_nobody(r, "chmod root file", lambda: os.chmod(f"{d}/readable", 0o666))
    as_nobody(r, "chown own file to root", lambda: os.chown(f"{d}/open/mine", 0, 0))
    as_nobody(r, "utime root file explicit", lambda: os.utime(f"{d}/readable", ns=(1, 1)))
    as_nobody(r, "utime root file now", lambda: os.utime(f"{d}/readable"))
    as_nobody(r, "unlink root file in sticky dir", lambda: os.unlink(f"{d}/sticky/roots"))
    def sticky_own():
        write_file(f"{d}/sticky/own", b"o")
        os.unlink(f"{d}/sticky/own")
        return "removed"
    as_nobody(r, "unlink own file in sticky dir", sticky_own)
    as_nobody(r, "unlink in 0555 dir", lambda: os.unlink(f"{d}/readonly/file"))
    as_nobody(r, "rename out of 0555 dir", lambda: os.rename(f"{d}/readonly/file", f"{d}/open/moved"))
    as_nobody(r, "execute 0744 root file", lambda: os.access(f"{d}/script", os.X_OK))
    as_nobody(r, "access R_OK 0600", lambda: os.access(f"{d}/secret", os.R_OK))
    r.step("root reads 0600", lambda: read_file(f"{d}/secret"))
    r.step("chown by root", lambda: (os.chown(f"{d}/readable", 123, 456), shape(f"{d}/readable"))[1])
    os.chown(f"{d}/open/mine", NOBODY, NOBODY)
    os.chmod(f"{d}/open/mine", 0o6755)
    def write_setuid():
        fd = os.open(f"{d}/open/mine", os.O_WRONLY)
        os.write(fd, b"changed")
        os.close(fd)
        return shape(f"{d}/open/mine")
    as_nobody(r, "writing clears set-user-id", write_setuid)
    # Access through a supplementary group: the mount must pass the caller's groups on, bricks check them too.
    os.mkdir(f"{d}/shared", 0o770)
    os.chown(f"{d}/shared", 0, STAFF)
    write_file(f"{d}/shared/notes", b"group", 0o640)
    os.chown(f"{d}/shared/notes", 0, STAFF)
    as_nobody(r, "read through supplementary group", lambda: read_file(f"{d}/shared/notes"), groups=[STAFF])
    as_nobody(r, "read without the group", lambda: read_file(f"{d}/shared/notes"))
    def create_as_member():
        write_file(f"{d}/shared/added", b"m", 0o644)
        os.unlink(f"{d}/shared/added")
        return "created and removed"
    as_nobody(r, "create in group-writable dir", create_as_member, groups=[STAFF])


def timestamps(d, r):
    write_file(f"{d}/f", b"12345")
    r.step("utime explicit", lambda: (os.utime(f"{d}/f", ns=(1_000_000_123, 2_000_000_456)),
                                      os.stat(f"{d}/f").st_atime_ns, os.stat(f"{d}/f").st_mtime_ns)[1:])
    r.step("utime far future", lambda: (os.utime(f"{d}/f", ns=(4_102_444_800_000_000_001, 4_102_444_800_000_000_002)),
                                        os.stat(f"{d}/f").st_mtime_ns)[1])
    os.utime(f"{d}/f", ns=(1_000_000_000, 1_000_000_000))
    before = os.stat(f"{d}/f")
    with open(f"{d}/f", "r+b") as handle:
        handle.write(b"x")
    after = os.stat(f"{d}/f")
    r.note("write moves mtime forward", after.st_mtime_ns > before.st_mtime_ns)
    r.note("write moves ctime forward", after.st_ctime_ns > before.st_ctime_ns)
    os.utime(f"{d}/f", ns=(1_000_000_000, 1_000_000_000))
    before = os.stat(f"{d}/f")
    time.sleep(0.01)
    os.chmod(f"{d}/f", 0o600)
    after = os.stat(f"{d}/f")
    r.note("chmod keeps mtime", after.st_mtime_ns == before.st_mtime_ns)
    r.note("chmod moves ctime", after.st_ctime_ns > before.st_ctime_ns)
    os.mkdir(f"{d}/sub")
    os.utime(f"{d}/sub", ns=(1_000_000_000, 1_000_000_000))
    write_file(f"{d}/sub/new", b"n")
    r.note("create moves the directory's mtime", os.stat(f"{d}/sub").st_mtime_ns > 1_000_000_000)
    os.utime(f"{d}/f", ns=(5_000_000_000, 5_000_000_000))
    os.truncate(f"{d}/f", 2)
    r.note("truncate moves mtime", os.stat(f"{d}/f").st_mtime_ns > 5_000_000_000)


def link_counts(d, r):
    write_file(f"{d}/f", b"f")
    r.step("new file", lambda: shape(f"{d}/f"))
    os.link(f"{d}/f", f"{d}/g")
    r.step("after link", lambda: (shape(f"{d}/f"), shape(f"{d}/g")))
    r.note("both names one inode", os.stat(f"{d}/f").st_ino == os.stat(f"{d}/g").st_ino)
    os.unlink(f"{d}/f")
    r.step("after unlink", lambda: shape(f"{d}/g"))
    os.mkdir(f"{d}/dir")
    r.step("new dir links", lambda: os.stat(f"{d}/dir").st_nlink)
    os.mkdir(f"{d}/dir/a")
    os.mkdir(f"{d}/dir/b")
    r.step("dir with two subdirs", lambda: os.stat(f"{d}/dir").st_nlink)
    os.rmdir(f"{d}/dir/a")
    r.step("after rmdir", lambda: os.stat(f"{d}/dir").st_nlink)
    os.link(f"{d}/g", f"{d}/dir/b/h")
    os.rename(f"{d}/dir/b", f"{d}/moved")
    r.step("hard link survives a rename of its dir", lambda: (shape(f"{d}/moved/h"), read_file(f"{d}/moved/h")))


def renames(d, r):
    write_file(f"{d}/a", b"aaa")
    write_file(f"{d}/b", b"bb")
    inode = os.stat(f"{d}/a").st_ino
    os.rename(f"{d}/a", f"{d}/b")
    r.step("over a file", lambda: (os.path.exists(f"{d}/a"), read_file(f"{d}/b")))
    r.note("keeps the inode", os.stat(f"{d}/b").st_ino == inode)
    os.mkdir(f"{d}/d1")
    write_file(f"{d}/d1/x", b"x")
    os.mkdir(f"{d}/d2")
    os.rename(f"{d}/d1", f"{d}/d2")
    r.step("dir over empty dir", lambda: (sorted(os.listdir(d)), read_file(f"{d}/d2/x")))
    os.link(f"{d}/b", f"{d}/b2")
    r.step("onto another name of itself", lambda: (os.rename(f"{d}/b", f"{d}/b2"), sorted(os.listdir(d)))[1])
    write_file(f"{d}/c", b"c")
    r.step("noreplace onto existing", lambda: renameat2(f"{d}/c", f"{d}/b", RENAME_NOREPLACE))
    r.step("noreplace onto new", lambda: (renameat2(f"{d}/c", f"{d}/c2", RENAME_NOREPLACE), sorted(os.listdir(d)))[1])
    r.step("exchange file and dir", lambda: (renameat2(f"{d}/c2", f"{d}/d2", RENAME_EXCHANGE),
                                             shape(f"{d}/c2")[0], shape(f"{d}/d2")[0], read_file(f"{d}/d2"))[1:])
    r.step("exchange with missing", lambda: renameat2(f"{d}/c2", f"{d}/none", RENAME_EXCHANGE))
    os.mkdir(f"{d}/deep")
    os.mkdir(f"{d}/deep/er")
    write_file(f"{d}/deep/er/file", b"deep")
    os.rename(f"{d}/deep", f"{d}/c2/deep")
    r.step("dir with contents into another dir", lambda: read_file(f"{d}/c2/deep/er/file"))
    fd = os.open(f"{d}/c2/deep/er/file", os.O_RDWR)
    os.rename(f"{d}/c2/deep/er/file", f"{d}/renamed-open")
    os.write(fd, b"DE")
    os.close(fd)
    r.step("open file renamed, then written", lambda: read_file(f"{d}/renamed-open"))


def unlinked_open_file(d, r):
    fd = os.open(f"{d}/f", os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"before")
    os.unlink(f"{d}/f")
    r.step("name gone", lambda: os.path.exists(f"{d}/f"))
    r.step("fstat after unlink", lambda: (os.fstat(fd).st_nlink, os.fstat(fd).st_size))
    os.write(fd, b" after")
    r.step("read back", lambda: os.pread(fd, 100, 0))
    r.step("ftruncate", lambda: (os.ftruncate(fd, 3), os.fstat(fd).st_size)[1])
    os.close(fd)
    r.step("listing", lambda: os.listdir(d))


def appends_and_exclusive(d, r):
    first = os.open(f"{d}/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    second = os.open(f"{d}/log", os.O_WRONLY | os.O_APPEND)
    for index in range(5):
        os.write(first, b"A%d " % index)
        os.write(second, b"B%d " % index)
    os.pwrite(first, b"P", 0)  # Linux: pwrite on an O_APPEND descriptor appends
    os.close(first)
    os.close(second)
    r.step("interleaved appends", lambda: read_file(f"{d}/log"))
    r.step("create exclusive new", lambda: (os.close(os.open(f"{d}/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)),
                                            shape(f"{d}/x"))[1])
    r.step("create exclusive again", lambda: os.open(f"{d}/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    os.symlink("x", f"{d}/link")
    r.step("create exclusive on a symlink", lambda: os.open(f"{d}/link", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    write_file(f"{d}/t", b"long content")
    r.step("O_TRUNC", lambda: (os.close(os.open(f"{d}/t", os.O_WRONLY | os.O_TRUNC)), shape(f"{d}/t"))[1])
    r.step("create without excl opens existing", lambda: (
        os.close(os.open(f"{d}/log", os.O_CREAT | os.O_RDONLY, 0o600)), len(read_file(f"{d}/log")))[1])


def sparse_and_large(d, r):
    fd = os.open(f"{d}/sparse", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"x" * 4096, 1 << 20)
    r.step("size", lambda: os.fstat(fd).st_size)
    r.step("SEEK_DATA from 0", lambda: os.lseek(fd, 0, os.SEEK_DATA))
    r.step("SEEK_HOLE from 1 MiB", lambda: os.lseek(fd, 1 << 20, os.SEEK_HOLE))
    r.step("hole reads zeros", lambda: os.pread(fd, 8, 4096) == bytes(8))
    os.pwrite(fd, b"y" * (1 << 16), 2 << 20)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 << 20, 1 << 16)
    r.step("punched hole reads zeros", lambda: (os.pread(fd, 16, 2 << 20) == bytes(16), os.fstat(fd).st_size))
    r.step("SEEK_DATA after the punch", lambda: os.lseek(fd, (1 << 20) + 4096, os.SEEK_DATA))
    fallocate(fd, FALLOC_FL_KEEP_SIZE, 8 << 20, 1 << 20)
    r.step("fallocate keep size", lambda: os.fstat(fd).st_size)
    os.posix_fallocate(fd, 0, 9 << 20)
    r.step("posix_fallocate grows", lambda: os.fstat(fd).st_size)
    os.close(fd)
    fd = os.open(f"{d}/large", os.O_RDWR | os.O_CREAT, 0o644)
    offset = (5 << 30) + 123
    os.pwrite(fd, b"beyond four GiB", offset)
    r.step("large size", lambda: os.fstat(fd).st_size)
    r.step("large read back", lambda: os.pread(fd, 15, offset))
    r.step("large SEEK_DATA", lambda: os.lseek(fd, 0, os.SEEK_DATA) >= (5 << 30) - (1 << 20))
    r.step("large truncate", lambda: (os.ftruncate(fd, (4 << 30) + 1), os.fstat(fd).st_size)[1])
    r.step("read across the end", lambda: len(os.pread(fd, 100, 4 << 30)))
    os.close(fd)
    fd = os.open(f"{d}/big-io", os.O_RDWR | os.O_CREAT, 0o644)
    block = bytes(range(256)) * (3 << 12)  # 3 MiB: more than one FUSE request
    os.write(fd, block)
    r.step("3 MiB round trip", lambda: os.pread(fd, len(block), 0) == block)
    os.close(fd)


def locks(d, r):
    write_file(f"{d}/f", b"0123456789")
    fd = os.open(f"{d}/f", os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 0)
    def other_process(action):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                action()
            except OSError as error:
                code = 100 + error.errno
            os._exit(code)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    def try_lock(start, length, kind):
        other = os.open(f"{d}/f", os.O_RDWR)
        fcntl.lockf(other, kind | fcntl.LOCK_NB, length, start)
    r.step("conflicting write lock", lambda: other_process(lambda: try_lock(2, 2, fcntl.LOCK_EX)))
    r.step("disjoint write lock", lambda: other_process(lambda: try_lock(6, 2, fcntl.LOCK_EX)))
    r.step("conflicting read lock", lambda: other_process(lambda: try_lock(0, 1, fcntl.LOCK_SH)))
    def test_lock():
        other = os.open(f"{d}/f", os.O_RDWR)
        query = fcntl.fcntl(other, fcntl.F_GETLK, bytes(32))
        return query
    probe = os.open(f"{d}/f", os.O_RDONLY)
    other_fd = os.dup(probe)
    os.close(other_fd)  # closing any descriptor of the file drops this process's locks
    r.step("lock gone after closing another descriptor", lambda: other_process(lambda: try_lock(2, 2, fcntl.LOCK_EX)))
    os.close(probe)
    fcntl.flock(fd, fcntl.LOCK_EX)
    def flock_other():
        other = os.open(f"{d}/f", os.O_RDONLY)
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
    r.step("flock conflict", lambda: other_process(flock_other))
    fcntl.flock(fd, fcntl.LOCK_UN)
    r.step("flock after unlock", lambda: other_process(flock_other))
    reader = os.open(f"{d}/f", os.O_RDONLY)
    r.step("write lock on read-only fd", lambda: fcntl.lockf(reader, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0))
    os.close(reader)
    os.close(fd)


def special_files(d, r):
    os.mkfifo(f"{d}/fifo", 0o640)
    r.step("fifo", lambda: shape(f"{d}/fifo"))
    import socket
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.step("socket bind", lambda: (server.bind(f"{d}/sock"), shape(f"{d}/sock")[0])[1])
    server.close()
    os.symlink("../somewhere/else", f"{d}/link")
    r.step("symlink", lambda: (os.readlink(f"{d}/link"), shape(f"{d}/link")))
    r.step("stat through dangling symlink", lambda: os.stat(f"{d}/link"))
    r.step("lchown symlink", lambda: (os.lchown(f"{d}/link", 7, 8), shape(f"{d}/link")[3:5])[1])


def directories_and_attributes(d, r):
    names = [f"entry-{index:03}" for index in range(300)] + ["é space", "a\nnewline", "-dash"]
    for name in names:
        write_file(f"{d}/{name}", name.encode())
    os.mkdir(f"{d}/sub")
    r.step("listing", lambda: sorted(os.listdir(d)))
    r.step("scandir types", lambda: sorted((e.name, e.is_dir(), e.is_file()) for e in os.scandir(d))[:5])
    r.step("contents", lambda: all(read_file(f"{d}/{name}") == name.encode() for name in names))
    for name in names[:150]:
        os.unlink(f"{d}/{name}")
    r.step("listing after removals", lambda: sorted(os.listdir(d)))
    os.setxattr(f"{d}/sub", "user.one", b"1")
    os.setxattr(f"{d}/sub", "user.two", b"x" * 3000)
    r.step("xattr list", lambda: sorted(os.listxattr(f"{d}/sub")))
    r.step("xattr value", lambda: os.getxattr(f"{d}/sub", "user.two") == b"x" * 3000)
    os.removexattr(f"{d}/sub", "user.one")
    r.step("xattr after remove", lambda: sorted(os.listxattr(f"{d}/sub")))
    r.step("statvfs name max", lambda: os.statvfs(d).f_namemax)
    fd = os.open(f"{d}/synced", os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"sync me")
    r.step("fsync", lambda: os.fsync(fd))
    r.step("fdatasync", lambda: os.fdatasync(fd))
    os.close(fd)
    dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    r.step("fsync a directory", lambda: os.fsync(dirfd))
    os.close(dirfd)


def truncation_and_mmap(d, r):
    write_file(f"{d}/t", b"0123456789")
    os.truncate(f"{d}/t", 4)
    r.step("shrink", lambda: read_file(f"{d}/t"))
    os.truncate(f"{d}/t", 8)
    r.step("grow with zeros", lambda: read_file(f"{d}/t"))
    write_file(f"{d}/m", bytes(8192))
    fd = os.open(f"{d}/m", os.O_RDWR)
    mapping = mmap.mmap(fd, 8192)
    mapping[100:105] = b"hello"
    mapping[5000:5003] = b"abc"
    mapping.flush()
    mapping.close()
    r.step("mmap write seen by read", lambda: (os.pread(fd, 5, 100), os.pread(fd, 3, 5000)))
    os.pwrite(fd, b"WXYZ", 200)
    mapping = mmap.mmap(fd, 8192, prot=mmap.PROT_READ)
    r.step("write seen by mmap", lambda: bytes(mapping[200:204]))
    mapping.close()
    os.close(fd)


SCENARIOS = [errno_cases, permissions, timestamps, link_counts, renames, unlinked_open_file, appends_and_exclusive,
             sparse_and_large, locks, special_files, directories_and_attributes, truncation_and_mmap]


def run(root, scenario):
    directory = os.path.join(root, "posix-" + scenario.__name__)
    os.mkdir(directory)
    record = Record()
    try:
        scenario(directory, record)
    except Exception as error:  # a step outside record.step failed: that is a result too
        record.note("scenario raised", repr(error) if not isinstance(error, OSError)
                    else "errno " + errno.errorcode.get(error.errno, str(error.errno)))
    return record.steps


def reachable_by_nobody(directory):
    """Whether uid 65534 can search `directory` and every directory above it. If not, every permission check
    as nobody is EACCES on both sides and proves nothing."""
    record = Record()
    as_nobody(record, "reach", lambda: os.stat(directory).st_ino > 0)
    return record.steps == [("reach", "True")]


def main():
    mount, local = sys.argv[1], sys.argv[2]
    os.umask(0)  # modes are the scenarios' own, not the caller's umask
    for root in (mount, local):
        if not reachable_by_nobody(root):
            print(f"{root} cannot be reached by uid {NOBODY}: the permission checks would prove nothing")
            sys.exit(1)
    failures = 0
    total = 0
    for scenario in SCENARIOS:
        expected = run(local, scenario)
        got = run(mount, scenario)
        total += len(expected)
        if expected != got:
            failures += 1
            print(f"FAIL {scenario.__name__}")
            for index in range(max(len(expected), len(got))):
                want = expected[index] if index < len(expected) else None
                have = got[index] if index < len(got) else None
                if want != have:
                    print(f"  local: {want!r}\n  mount: {have!r}")
        else:
            print(f"ok   {scenario.__name__} ({len(expected)} steps)")
    if total < 130:
        print(f"only {total} steps ran: the suite is not doing its job")
        failures += 1
    print(f"{len(SCENARIOS) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
