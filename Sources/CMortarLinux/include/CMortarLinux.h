#ifndef CMORTAR_LINUX_H
#define CMORTAR_LINUX_H
#include <sys/types.h>
#include <stdint.h>

/// Linux calls that Glibc's Swift overlay does not expose directly (variadic, or behind _GNU_SOURCE).
int cmortar_fallocate(int fd, int mode, int64_t offset, int64_t length);
int cmortar_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int cmortar_openat(int dirfd, const char *path, int flags, unsigned int mode);
int cmortar_open_by_path(const char *path, int flags, unsigned int mode);

extern const int cmortar_falloc_keep_size;
extern const int cmortar_falloc_punch_hole;
extern const int cmortar_falloc_zero_range;
extern const int cmortar_rename_noreplace;
extern const int cmortar_rename_exchange;
extern const int cmortar_at_empty_path;
extern const int cmortar_o_path;
/// Asks the kernel to send SIGTERM to this process when its parent exits (prctl PR_SET_PDEATHSIG), so a brick
/// never outlives the daemon that supervises it. Returns -1 if the parent is already gone.
int cmortar_exit_with_parent(int expected_parent_pid);
#endif
