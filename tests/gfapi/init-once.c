/* init-once.c — glfs_init that is expected to fail, COUNT times in one process.
 *
 *   init-once VOLUME HOST PORT COUNT
 *
 * Prints "errno=NAME" for each attempt on one line (space-separated) and exits 0 when every attempt failed,
 * 1 when one succeeded. The library's own log goes to /dev/null, so whatever reaches standard error is what the
 * library says to the program's user. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glusterfs/api/glfs.h>

static const char *errno_name(int value) {
    switch (value) {
    case ENOENT: return "ENOENT";
    case ENOTCONN: return "ENOTCONN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case ETIMEDOUT: return "ETIMEDOUT";
    case 0: return "0";
    default: return "other";
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: init-once VOLUME HOST PORT COUNT\n");
        return 2;
    }
    int count = atoi(argv[4]);
    int succeeded = 0;
    for (int attempt = 0; attempt < count; attempt++) {
        glfs_t *fs = glfs_new(argv[1]);
        if (fs == NULL) return 2;
        glfs_set_volfile_server(fs, "tcp", argv[2], atoi(argv[3]));
        glfs_set_logging(fs, "/dev/null", 7);
        errno = 0;
        int result = glfs_init(fs);
        int saved = errno;
        if (result == 0) succeeded = 1;
        printf("%serrno=%s", attempt ? " " : "", result == 0 ? "none (glfs_init succeeded)" : errno_name(saved));
        glfs_fini(fs);
    }
    printf("\n");
    return succeeded;
}
