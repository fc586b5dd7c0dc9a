#define _GNU_SOURCE
#include "CMortarLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <linux/falloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

int cmortar_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

int cmortar_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int cmortar_openat(int dirfd, const char *path, int flags, unsigned int mode) {
    return openat(dirfd, path, flags, (mode_t)mode);
}

int cmortar_open_by_path(const char *path, int flags, unsigned int mode) {
    return open(path, flags, (mode_t)mode);
}

const int cmortar_falloc_keep_size = FALLOC_FL_KEEP_SIZE;
const int cmortar_falloc_punch_hole = FALLOC_FL_PUNCH_HOLE;
const int cmortar_falloc_zero_range = FALLOC_FL_ZERO_RANGE;
const int cmortar_rename_noreplace = 1; /* RENAME_NOREPLACE */
const int cmortar_rename_exchange = 2;  /* RENAME_EXCHANGE */
const int cmortar_at_empty_path = AT_EMPTY_PATH;
const int cmortar_o_path = O_PATH;

int cmortar_exit_with_parent(int expected_parent_pid) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return -1;
    /* The parent may have exited before prctl took effect: then we were re-parented already. */
    if (expected_parent_pid > 0 && getppid() != expected_parent_pid) return -1;
    return 0;
}
int cmortar_timestamp(char *buffer, int capacity) {
    struct timespec now;
    struct tm parts;
    char date[32], zone[8];
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || localtime_r(&now.tv_sec, &parts) == NULL) return 0;
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &parts) == 0) return 0;
    if (strftime(zone, sizeof zone, "%z", &parts) == 0) return 0;
    int length = snprintf(buffer, (size_t)capacity, "%s.%03ld%s", date, now.tv_nsec / 1000000L, zone);
    return length > 0 && length < capacity ? length : 0;
}
long cmortar_pread_nowait(int fd, void *buffer, long count, int64_t offset) {
    struct iovec vector = { .iov_base = buffer, .iov_len = (size_t)count };
    return (long)preadv2(fd, &vector, 1, (off_t)offset, RWF_NOWAIT);
}
int cmortar_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cmortar_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

const short cmortar_posix_spawn_setsid = POSIX_SPAWN_SETSID;

int cmortar_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

ssize_t cmortar_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

int cmortar_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}

ssize_t cmortar_llistxattr(const char *path, char *list, size_t size) {
    return llistxattr(path, list, size);
}

int cmortar_lremovexattr(const char *path, const char *name) {
    return lremovexattr(path, name);
}

ssize_t cmortar_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}

int cmortar_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}

const int cmortar_xattr_create = XATTR_CREATE;
const int cmortar_xattr_replace = XATTR_REPLACE;
const long cmortar_utime_now = UTIME_NOW;
const long cmortar_utime_omit = UTIME_OMIT;
const int cmortar_seek_data = SEEK_DATA;
const int cmortar_seek_hole = SEEK_HOLE;

int cmortar_mknodat(int dirfd, const char *path, unsigned int mode, uint64_t device) {
    return mknodat(dirfd, path, (mode_t)mode, (dev_t)device);
}

/* Sets times relative to a directory descriptor without following a final symlink; with a NULL path, on the
   descriptor itself (futimens). A nanosecond field may be UTIME_NOW or UTIME_OMIT. */
int cmortar_utimensat(int dirfd, const char *path, int64_t access_seconds, long access_nanoseconds,
                      int64_t modification_seconds, long modification_nanoseconds) {
    struct timespec times[2];
    times[0].tv_sec = (time_t)access_seconds;
    times[0].tv_nsec = access_nanoseconds;
    times[1].tv_sec = (time_t)modification_seconds;
    times[1].tv_nsec = modification_nanoseconds;
    if (path == NULL) return futimens(dirfd, times);
    return utimensat(dirfd, path, times, AT_SYMLINK_NOFOLLOW);
}

ssize_t cmortar_flistxattr(int fd, char *list, size_t size) {
    return flistxattr(fd, list, size);
}

int cmortar_fremovexattr(int fd, const char *name) {
    return fremovexattr(fd, name);
}

/* openat2(2) confined to `dirfd`: no symbolic link and no ".." may lead out of it (RESOLVE_BENEATH |
   RESOLVE_NO_SYMLINKS). Declared here rather than from <linux/openat2.h>, which older headers lack. */
int cmortar_openat2_beneath(int dirfd, const char *path, int flags) {
#ifdef SYS_openat2
    struct {
        uint64_t flags;
        uint64_t mode;
        uint64_t resolve;
    } how = {(uint64_t)flags, 0, 0x08 /* RESOLVE_BENEATH */ | 0x04 /* RESOLVE_NO_SYMLINKS */};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int64_t cmortar_raise_descriptor_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = { limit.rlim_max, limit.rlim_max };
        // Refused (a hard limit above the kernel's nr_open): the old soft limit stays in force.
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit.rlim_cur = limit.rlim_max;
    }
    return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (rlim_t)INT64_MAX ? INT64_MAX : (int64_t)limit.rlim_cur;
}

void cmortar_release_free_memory(void) {
    malloc_trim(0);
}
