#define _GNU_SOURCE
#include "CMortarLinux.h"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/prctl.h>

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
