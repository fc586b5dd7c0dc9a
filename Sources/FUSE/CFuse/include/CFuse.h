#ifndef CFUSE_H
#define CFUSE_H

// libfuse 3.12+ low-level API. The version is fixed here, before the include, so that Swift and the C helpers see
// the same declarations (Debian 12 ships libfuse 3.14).
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>

/// Runs the multi-threaded session loop on the calling thread until the session exits. (The function-like macro
/// `fuse_session_loop_mt` does not import into Swift.) Returns 0, -errno, or the number of the signal that stopped
/// the loop.
int cfuse_session_loop(struct fuse_session *session, int clone_fd, unsigned int max_threads,
                       unsigned int max_idle_threads);

/// Makes SIGTERM, SIGINT and SIGHUP end the session loop running on `loop_thread`, and ignores SIGPIPE. The loop's
/// main thread sleeps in sem_wait, which only a signal aimed at that thread interrupts, so the handler forwards a
/// wake-up signal to it whichever thread the original signal landed on. Call it on the loop thread, which it makes
/// able to take that signal.
int cfuse_install_signal_handlers(struct fuse_session *session, pthread_t loop_thread);

/// Ends the session loop from any thread, as the signal handlers do.
void cfuse_request_exit(void);

/// Restores the default handlers installed before `cfuse_install_signal_handlers`.
void cfuse_remove_signal_handlers(void);

/// The signal that ended the loop, or 0.
int cfuse_exit_signal(void);

/// Bit flags of `struct fuse_conn_info`, `fuse_file_info` and setattr's `to_set`, as plain constants (some of
/// them are expressions Swift does not import).
extern const unsigned int cfuse_cap_async_read;
extern const unsigned int cfuse_cap_posix_locks;
extern const unsigned int cfuse_cap_atomic_o_trunc;
extern const unsigned int cfuse_cap_flock_locks;
extern const unsigned int cfuse_cap_readdirplus;
extern const unsigned int cfuse_cap_readdirplus_auto;
extern const unsigned int cfuse_cap_async_dio;
extern const unsigned int cfuse_cap_writeback_cache;
extern const unsigned int cfuse_cap_parallel_dirops;
extern const unsigned int cfuse_cap_handle_killpriv;
extern const unsigned int cfuse_cap_auto_inval_data;
extern const unsigned int cfuse_cap_cache_symlinks;
extern const int cfuse_set_attr_mode;
extern const int cfuse_set_attr_uid;
extern const int cfuse_set_attr_gid;
extern const int cfuse_set_attr_size;
extern const int cfuse_set_attr_atime;
extern const int cfuse_set_attr_mtime;
extern const int cfuse_set_attr_atime_now;
extern const int cfuse_set_attr_mtime_now;
extern const int cfuse_set_attr_ctime;

/// Linux constants behind _GNU_SOURCE or in headers Swift's Glibc module does not include.
extern const int cfuse_falloc_keep_size;
extern const int cfuse_falloc_punch_hole;
extern const int cfuse_falloc_zero_range;
extern const int cfuse_xattr_create;
extern const int cfuse_xattr_replace;
extern const int cfuse_seek_data;
extern const int cfuse_seek_hole;
extern const int cfuse_rename_noreplace;
extern const int cfuse_rename_exchange;
extern const int cfuse_o_direct;

/// Sets the `fuse_file_info` bit fields (bit fields are awkward to reach from Swift).
void cfuse_file_info_set(struct fuse_file_info *info, int direct_io, int keep_cache, int nonseekable);
int cfuse_file_info_flock_release(const struct fuse_file_info *info);

#endif
