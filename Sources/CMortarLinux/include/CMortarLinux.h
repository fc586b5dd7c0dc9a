#ifndef CMORTAR_LINUX_H
#define CMORTAR_LINUX_H
#include <sys/types.h>
#include <stdint.h>
#include <spawn.h>

/// Linux calls that Glibc's Swift overlay does not expose directly (variadic, or behind _GNU_SOURCE).
int cmortar_fallocate(int fd, int mode, int64_t offset, int64_t length);
int cmortar_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int cmortar_openat(int dirfd, const char *path, int flags, unsigned int mode);
int cmortar_open_by_path(const char *path, int flags, unsigned int mode);

// Extended attributes on the link itself (never following symlinks) and on open descriptors.
ssize_t cmortar_lgetxattr(const char *path, const char *name, void *value, size_t size);
int cmortar_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t cmortar_llistxattr(const char *path, char *list, size_t size);
int cmortar_lremovexattr(const char *path, const char *name);
ssize_t cmortar_fgetxattr(int fd, const char *name, void *value, size_t size);
int cmortar_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int cmortar_mknodat(int dirfd, const char *path, unsigned int mode, uint64_t device);
int cmortar_utimensat(int dirfd, const char *path, int64_t access_seconds, long access_nanoseconds,
                      int64_t modification_seconds, long modification_nanoseconds);
ssize_t cmortar_flistxattr(int fd, char *list, size_t size);
int cmortar_fremovexattr(int fd, const char *name);
/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: ENOSYS where the kernel lacks it.
int cmortar_openat2_beneath(int dirfd, const char *path, int flags);

/// Descriptor hand-off over a Unix-domain stream socket (short-circuit local reads).
/// A listening socket at `path` (a stale socket file there is replaced) with permissions `mode`, close-on-exec;
/// -1 with errno set (ENAMETOOLONG for a path sockaddr_un cannot hold).
int cmortar_unix_listen(const char *path, unsigned int mode, int backlog);
/// Sequentially consistent 64-bit loads and stores on shared memory (a replica member's state word, which the
/// member writes and local clients read in their own mappings).
uint64_t cmortar_atomic_load_u64(const void *address);
void cmortar_atomic_store_u64(void *address, uint64_t value);
/// accept4(2) with SOCK_CLOEXEC (a GNU call Swift's Glibc does not show).
int cmortar_accept_cloexec(int listener);
/// A connected socket to `path` whose sends and receives give up after `timeout_ms` (EAGAIN); -1 with errno set.
int cmortar_unix_connect(const char *path, int timeout_ms);
/// Sets both send and receive timeouts of `socket`.
int cmortar_socket_timeouts(int socket, int timeout_ms);
/// Sends the one byte `status`, with descriptor `fd` attached (SCM_RIGHTS) unless `fd` is -1. 0, or -1 with errno.
int cmortar_send_descriptor(int socket, unsigned char status, int fd);
/// Receives one status byte and the descriptor attached to it, close-on-exec; `*fd` is -1 when none came. More
/// than one descriptor, or a truncated control message, closes what came and fails with EPROTO; end of stream
/// fails with ECONNRESET. 0, or -1 with errno.
int cmortar_receive_descriptor(int socket, unsigned char *status, int *fd);

extern const int cmortar_falloc_keep_size;
extern const int cmortar_falloc_punch_hole;
extern const int cmortar_falloc_zero_range;
extern const int cmortar_rename_noreplace;
extern const int cmortar_rename_exchange;
extern const int cmortar_at_empty_path;
extern const int cmortar_o_path;
/// Asks the kernel to send SIGTERM to this process when its parent exits (prctl PR_SET_PDEATHSIG): `mortar brick
/// --exit-with-parent`, for a supervisor that wants it (mortar daemon does not: its bricks outlive it). Returns -1
/// if the parent is already gone.
int cmortar_exit_with_parent(int expected_parent_pid);
/// Formats the wall-clock time now as local time with milliseconds and the zone offset
/// (`2026-12-06T05:20:35.412+0000`) into `buffer` (at least 40 bytes); returns its length, 0 on failure. In C
/// because Swift's member-import visibility hides `struct timespec`'s fields in some build configurations.
int cmortar_timestamp(char *buffer, int capacity);
/// pread that never waits for the disk (preadv2 with RWF_NOWAIT, Linux 4.14): the bytes the page cache holds
/// now, or -1 with errno EAGAIN when it would have to read; EOPNOTSUPP where the file system cannot say.
long cmortar_pread_nowait(int fd, void *buffer, long count, int64_t offset);
/// A descriptor that refers to process `pid` for as long as it is open, whatever happens to the number: it polls
/// readable once the process has exited, and signals sent through it never reach a later process that reuses the
/// number (pidfd_open(2), Linux 5.3). -1 with errno set on failure.
int cmortar_pidfd_open(int pid);
/// Sends `signal` to the process behind `pidfd` (pidfd_send_signal(2)).
int cmortar_pidfd_send_signal(int pidfd, int signal);
/// posix_spawn's flag that starts the child in a session of its own (setsid), away from the parent's terminal.
extern const short cmortar_posix_spawn_setsid;
/// Has a spawned child close every descriptor from `lowest` up before it runs (glibc's closefrom file action), so
/// a child inherits none of the parent's sockets, listeners or files beyond the ones its actions set up.
int cmortar_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);
/// Has a spawned child start with every signal at its default disposition and none blocked, plus `flags`
/// (POSIX_SPAWN_SETPGROUP, cmortar_posix_spawn_setsid, or 0): not with what the spawning thread has — ignored
/// signals survive exec, and Swift's concurrency threads block nearly every signal. Returns posix_spawn's error.
int cmortar_spawnattr_default_signals(posix_spawnattr_t *attributes, short flags);
/// Raises this process's soft RLIMIT_NOFILE to its hard limit and returns the soft limit now in force (capped at
/// INT64_MAX for "unlimited"), or -1 with errno set when the limit cannot be read.
int64_t cmortar_raise_descriptor_limit(void);
/// Hands memory the allocator holds free (in every arena) back to the system: glibc's malloc_trim(0).
void cmortar_release_free_memory(void);
extern const int cmortar_xattr_create;
extern const int cmortar_xattr_replace;
extern const long cmortar_utime_now;
extern const long cmortar_utime_omit;
extern const int cmortar_seek_data;
extern const int cmortar_seek_hole;
#endif
