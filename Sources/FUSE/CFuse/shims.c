#define _GNU_SOURCE
#include "CFuse.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

int cfuse_session_loop(struct fuse_session *session, int clone_fd, unsigned int max_threads,
                       unsigned int max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(config, clone_fd ? 1 : 0);
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
    int result = fuse_session_loop_mt(session, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

// Written by the handlers, read by the functions below; a session per process, as libfuse's own handlers assume.
static struct fuse_session *volatile exit_session;
static volatile pthread_t exit_loop_thread;
static volatile sig_atomic_t exit_signal;
static const int wake_signal = SIGUSR1;
static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

static void wake(int signal_number) {
    (void)signal_number;  // Its only job is to interrupt sem_wait in the loop's main thread.
}

void cfuse_request_exit(void) {
    struct fuse_session *session = exit_session;
    if (session == NULL) return;
    fuse_session_exit(session);
    pthread_kill(exit_loop_thread, wake_signal);
}

static void stop(int signal_number) {
    exit_signal = signal_number;
    cfuse_request_exit();
}

static int set_handler(int signal_number, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the wake-up must interrupt sem_wait
    return sigaction(signal_number, &action, NULL);
}

int cfuse_install_signal_handlers(struct fuse_session *session, pthread_t loop_thread) {
    exit_loop_thread = loop_thread;
    exit_session = session;
    if (set_handler(wake_signal, wake) != 0) return -errno;
    for (unsigned index = 0; index < sizeof(stop_signals) / sizeof(stop_signals[0]); index++) {
        if (set_handler(stop_signals[index], stop) != 0) return -errno;
    }
    if (set_handler(SIGPIPE, SIG_IGN) != 0) return -errno;
    // Threads of Swift's runtime block most signals and pass that mask to threads they create; the loop thread
    // must take the wake-up signal (workers it starts inherit this mask and do not need it).
    if (pthread_equal(pthread_self(), loop_thread)) {
        sigset_t wake_set;
        sigemptyset(&wake_set);
        sigaddset(&wake_set, wake_signal);
        int result = pthread_sigmask(SIG_UNBLOCK, &wake_set, NULL);
        if (result != 0) return -result;
    }
    return 0;
}

void cfuse_remove_signal_handlers(void) {
    for (unsigned index = 0; index < sizeof(stop_signals) / sizeof(stop_signals[0]); index++) {
        set_handler(stop_signals[index], SIG_DFL);
    }
    exit_session = NULL;
}

int cfuse_exit_signal(void) { return exit_signal; }

const unsigned int cfuse_cap_async_read = FUSE_CAP_ASYNC_READ;
const unsigned int cfuse_cap_posix_locks = FUSE_CAP_POSIX_LOCKS;
const unsigned int cfuse_cap_atomic_o_trunc = FUSE_CAP_ATOMIC_O_TRUNC;
const unsigned int cfuse_cap_flock_locks = FUSE_CAP_FLOCK_LOCKS;
const unsigned int cfuse_cap_readdirplus = FUSE_CAP_READDIRPLUS;
const unsigned int cfuse_cap_readdirplus_auto = FUSE_CAP_READDIRPLUS_AUTO;
const unsigned int cfuse_cap_async_dio = FUSE_CAP_ASYNC_DIO;
const unsigned int cfuse_cap_writeback_cache = FUSE_CAP_WRITEBACK_CACHE;
const unsigned int cfuse_cap_parallel_dirops = FUSE_CAP_PARALLEL_DIROPS;
const unsigned int cfuse_cap_handle_killpriv = FUSE_CAP_HANDLE_KILLPRIV;
const unsigned int cfuse_cap_auto_inval_data = FUSE_CAP_AUTO_INVAL_DATA;
const unsigned int cfuse_cap_cache_symlinks = FUSE_CAP_CACHE_SYMLINKS;
const int cfuse_set_attr_mode = FUSE_SET_ATTR_MODE;
const int cfuse_set_attr_uid = FUSE_SET_ATTR_UID;
const int cfuse_set_attr_gid = FUSE_SET_ATTR_GID;
const int cfuse_set_attr_size = FUSE_SET_ATTR_SIZE;
const int cfuse_set_attr_atime = FUSE_SET_ATTR_ATIME;
const int cfuse_set_attr_mtime = FUSE_SET_ATTR_MTIME;
const int cfuse_set_attr_atime_now = FUSE_SET_ATTR_ATIME_NOW;
const int cfuse_set_attr_mtime_now = FUSE_SET_ATTR_MTIME_NOW;
const int cfuse_set_attr_ctime = FUSE_SET_ATTR_CTIME;

void cfuse_file_info_set(struct fuse_file_info *info, int direct_io, int keep_cache, int nonseekable) {
    info->direct_io = direct_io ? 1 : 0;
    info->keep_cache = keep_cache ? 1 : 0;
    info->nonseekable = nonseekable ? 1 : 0;
}

int cfuse_file_info_flock_release(const struct fuse_file_info *info) { return info->flock_release; }

const int cfuse_falloc_keep_size = FALLOC_FL_KEEP_SIZE;
const int cfuse_falloc_punch_hole = FALLOC_FL_PUNCH_HOLE;
const int cfuse_falloc_zero_range = FALLOC_FL_ZERO_RANGE;
const int cfuse_xattr_create = XATTR_CREATE;
const int cfuse_xattr_replace = XATTR_REPLACE;
const int cfuse_seek_data = SEEK_DATA;
const int cfuse_seek_hole = SEEK_HOLE;
const int cfuse_rename_noreplace = RENAME_NOREPLACE;
const int cfuse_rename_exchange = RENAME_EXCHANGE;
const int cfuse_o_direct = O_DIRECT;
