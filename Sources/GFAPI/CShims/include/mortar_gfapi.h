// C declarations the Swift implementation of libgfapi.so.0 needs and Swift cannot express: the layout of
// `struct glfs_stat` and the completion callback type (both part of GlusterFS's public ABI, GFAPI_6.0 forms),
// and thread-local state (per-thread identity, and which descriptor's callback the thread is running).
#ifndef MORTAR_GFAPI_H
#define MORTAR_GFAPI_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/// The statx-like structure of the GFAPI_6.0 calls: 160 bytes on x86_64, laid out as GlusterFS 10.3 lays it out.
struct mortar_glfs_stat {
    uint64_t mask;
    uint64_t attributes;
    uint64_t attributes_mask;
    struct timespec atime;
    struct timespec btime;
    struct timespec ctime;
    struct timespec mtime;
    uint64_t ino;
    off_t size;
    int64_t blocks;
    uint32_t rdev_major;
    uint32_t rdev_minor;
    uint32_t dev_major;
    uint32_t dev_minor;
    int64_t blksize;
    uint64_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint32_t mode;
};

_Static_assert(sizeof(struct mortar_glfs_stat) == 160, "struct glfs_stat must keep GlusterFS's layout");

/// Which fields of a `struct glfs_stat` are valid (glfs_setattr reads only the ones set).
enum {
    MORTAR_GLFS_STAT_TYPE = 0x1,
    MORTAR_GLFS_STAT_MODE = 0x2,
    MORTAR_GLFS_STAT_NLINK = 0x4,
    MORTAR_GLFS_STAT_UID = 0x8,
    MORTAR_GLFS_STAT_GID = 0x10,
    MORTAR_GLFS_STAT_ATIME = 0x20,
    MORTAR_GLFS_STAT_MTIME = 0x40,
    MORTAR_GLFS_STAT_CTIME = 0x80,
    MORTAR_GLFS_STAT_INO = 0x100,
    MORTAR_GLFS_STAT_SIZE = 0x200,
    MORTAR_GLFS_STAT_BLOCKS = 0x400,
};

/// Constants glibc defines only under _GNU_SOURCE or as macros Swift does not import.
enum {
    MORTAR_SEEK_DATA = 3,
    MORTAR_SEEK_HOLE = 4,
};
static const long MORTAR_UTIME_NOW = (1l << 30) - 1l;
static const long MORTAR_UTIME_OMIT = (1l << 30) - 2l;

/// `glfs_io_cbk`, the GFAPI_6.0 completion callback: (fd, result, prestat, poststat, caller's data).
typedef void (*mortar_glfs_io_callback)(void *fd, ssize_t result, struct mortar_glfs_stat *prestat,
                                        struct mortar_glfs_stat *poststat, void *data);

/// The identity the calling thread acts as (`glfs_setfsuid`, `glfs_setfsgid`, `glfs_setfsgroups`).
/// `has_*` is 0 until the thread sets one; then the volume's own identity is replaced for that field.
struct mortar_thread_identity {
    int has_user;
    int has_group;
    int has_groups;
    uid_t user;
    gid_t group;
    int group_count;
    gid_t groups[64];
};

/// The calling thread's identity record (never NULL; zeroed on a new thread).
struct mortar_thread_identity *mortar_thread_identity(void);

/// The descriptor whose completion callback the calling thread is running, or NULL. `glfs_close` from inside a
/// callback must not wait for that callback to return.
void *mortar_current_callback_descriptor(void);
void mortar_set_current_callback_descriptor(void *descriptor);

/// Sets `errno` for the calling thread (Swift's `errno` setter is not available in every build mode).
void mortar_set_errno(int value);

#endif
