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
#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>

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

int cmortar_spawnattr_default_signals(posix_spawnattr_t *attributes, short flags) {
    sigset_t every, none;
    sigfillset(&every);
    sigemptyset(&none);
    int result = posix_spawnattr_setsigdefault(attributes, &every);
    if (result == 0) result = posix_spawnattr_setsigmask(attributes, &none);
    if (result == 0) result = posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | flags);
    return result;
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

static int cmortar_unix_address(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof address->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address->sun_path, path, length);
    return 0;
}

int cmortar_unix_listen(const char *path, unsigned int mode, int backlog) {
    struct sockaddr_un address;
    if (cmortar_unix_address(path, &address) != 0) return -1;
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return -1;
    struct stat existing;
    if (lstat(path, &existing) == 0 && S_ISSOCK(existing.st_mode)) unlink(path);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || chmod(path, (mode_t)mode) != 0
        || listen(listener, backlog) != 0) {
        int saved = errno;
        close(listener);
        errno = saved;
        return -1;
    }
    return listener;
}

uint64_t cmortar_atomic_load_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_SEQ_CST);
}

void cmortar_atomic_store_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_SEQ_CST);
}

int cmortar_accept_cloexec(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

int cmortar_socket_timeouts(int socket, int timeout_ms) {
    struct timeval limit = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    if (setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0) return -1;
    return setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

int cmortar_unix_connect(const char *path, int timeout_ms) {
    struct sockaddr_un address;
    if (cmortar_unix_address(path, &address) != 0) return -1;
    int connection = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connection < 0) return -1;
    if (cmortar_socket_timeouts(connection, timeout_ms) != 0
        || connect(connection, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(connection);
        errno = saved;
        return -1;
    }
    return connection;
}

int cmortar_send_descriptor(int socket, unsigned char status, int fd) {
    struct iovec vector = { .iov_base = &status, .iov_len = 1 };
    union { char bytes[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1 };
    if (fd >= 0) {
        message.msg_control = control.bytes;
        message.msg_controllen = sizeof control.bytes;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    ssize_t sent;
    do { sent = sendmsg(socket, &message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent == 1 ? 0 : -1;
}

int cmortar_receive_descriptor(int socket, unsigned char *status, int *fd) {
    *fd = -1;
    struct iovec vector = { .iov_base = status, .iov_len = 1 };
    // Room for a few descriptors, so that a peer sending more than one is seen (and refused), not truncated.
    union { char bytes[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.bytes,
                              .msg_controllen = sizeof control.bytes };
    ssize_t received;
    do { received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (received < 0 && errno == EINTR);
    if (received < 0) return -1;
    int count = 0;
    int first = -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int received_fd;
            memcpy(&received_fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
            if (count == 0) first = received_fd; else close(received_fd);
            count++;
        }
    }
    if (count > 1 || (message.msg_flags & MSG_CTRUNC)) {
        if (first >= 0) close(first);
        errno = EPROTO;
        return -1;
    }
    if (received == 0) {
        if (first >= 0) close(first);
        errno = ECONNRESET;
        return -1;
    }
    *fd = first;
    return 0;
}
