/* write-behind.c — a write that fails after the drop-in acknowledged it reaches the program.
 *
 *   write-behind VOLUME HOST PORT BYTES
 *
 * Writes BYTES in 4 KiB glfs_pwrite calls to a new file, then glfs_fsync and glfs_close, on a volume whose brick is
 * smaller than BYTES. With write-behind a write is acknowledged before the brick has it, so the brick's ENOSPC may
 * come back on a later write, on fsync or on close — but it must come back on one of them: a program that checks
 * them all must learn that its data did not land. Prints which call reported it; exits 1 if none did, or if any call
 * failed with another error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glusterfs/api/glfs.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: write-behind VOLUME HOST PORT BYTES\n");
        return 2;
    }
    long long total = atoll(argv[4]);
    glfs_t *fs = glfs_new(argv[1]);
    if (fs == NULL || glfs_set_volfile_server(fs, "tcp", argv[2], atoi(argv[3])) != 0
        || glfs_set_logging(fs, "/dev/null", 7) != 0 || glfs_init(fs) != 0) {
        fprintf(stderr, "write-behind: cannot connect to %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    glfs_fd_t *fd = glfs_creat(fs, "/filling", O_RDWR | O_TRUNC, 0644);
    if (fd == NULL) {
        fprintf(stderr, "write-behind: glfs_creat failed: %s\n", strerror(errno));
        return 1;
    }
    char block[4096];
    memset(block, 0x5a, sizeof block);
    int reported = 0, unexpected = 0;
    long long written = 0;
    for (; written < total; written += sizeof block) {
        if (glfs_pwrite(fd, block, sizeof block, written, 0, NULL, NULL) != (ssize_t)sizeof block) {
            int saved = errno;
            printf("glfs_pwrite at %lld: %s\n", written, strerror(saved));
            if (saved == ENOSPC) reported = 1; else unexpected = 1;
            break;
        }
    }
    if (glfs_fsync(fd, NULL, NULL) != 0) {
        int saved = errno;
        printf("glfs_fsync: %s\n", strerror(saved));
        if (saved == ENOSPC) reported = 1; else unexpected = 1;
    } else {
        printf("glfs_fsync: ok\n");
    }
    if (glfs_close(fd) != 0) {
        int saved = errno;
        printf("glfs_close: %s\n", strerror(saved));
        if (saved == ENOSPC) reported = 1; else unexpected = 1;
    } else {
        printf("glfs_close: ok\n");
    }
    glfs_fini(fs);
    printf("write-behind: %lld bytes acknowledged by glfs_pwrite before the first error, of %lld tried\n", written,
           total);
    if (!reported) {
        fprintf(stderr, "write-behind: FAILED: %lld bytes on a smaller brick, and no call reported ENOSPC\n", total);
        return 1;
    }
    if (unexpected) {
        fprintf(stderr, "write-behind: FAILED: a call failed with an error other than ENOSPC\n");
        return 1;
    }
    return 0;
}
