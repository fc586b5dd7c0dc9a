/* init-loop.c — glfs_new / glfs_init / glfs_fini in a loop against one volume, counting every failure.
 *
 *   init-loop VOLUME HOST PORT CYCLES
 *
 * Each cycle connects, stats the volume's root through the new instance (so a connect that only half worked
 * fails here too) and finishes. Every tenth cycle runs in a forked child, as fio runs its jobs: the library is
 * loaded and started in the parent and connects again after the fork. A failed cycle prints its errno and the
 * reason; the last line is "init-loop: N cycles, M failed", and the exit status is 1 if any cycle failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One cycle; returns 0 or the errno of the step that failed (printed with the step's name). */
static int cycle(const char *volume, const char *host, int port, long index) {
    glfs_t *fs = glfs_new(volume);
    if (fs == NULL) {
        int saved = errno;
        fprintf(stderr, "init-loop: cycle %ld: glfs_new failed: %s\n", index, strerror(saved));
        return saved ? saved : EIO;
    }
    int failed = 0;
    const char *step = NULL;
    if (glfs_set_volfile_server(fs, "tcp", host, port) != 0) {
        step = "glfs_set_volfile_server";
    } else if (glfs_set_logging(fs, "/dev/null", 7) != 0) {
        step = "glfs_set_logging";
    } else if (glfs_init(fs) != 0) {
        step = "glfs_init";
    } else {
        struct stat root;
        if (glfs_stat(fs, "/", &root) != 0) step = "glfs_stat /";
        else if (!S_ISDIR(root.st_mode)) {
            errno = ENOTDIR;
            step = "glfs_stat / (not a directory)";
        }
    }
    if (step != NULL) {
        failed = errno ? errno : EIO;
        fprintf(stderr, "init-loop: cycle %ld: %s failed: %s\n", index, step, strerror(failed));
    }
    if (glfs_fini(fs) != 0 && !failed) {
        failed = errno ? errno : EIO;
        fprintf(stderr, "init-loop: cycle %ld: glfs_fini failed: %s\n", index, strerror(failed));
    }
    return failed;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: init-loop VOLUME HOST PORT CYCLES\n");
        return 2;
    }
    const char *volume = argv[1], *host = argv[2];
    int port = atoi(argv[3]);
    long cycles = atol(argv[4]);
    long failures = 0;
    double started = now_ms();
    for (long index = 1; index <= cycles; index++) {
        if (index % 10 == 0) {
            fflush(stderr);
            pid_t child = fork();
            if (child < 0) {
                perror("init-loop: fork");
                return 2;
            }
            if (child == 0) _exit(cycle(volume, host, port, index) ? 1 : 0);
            int status = 0;
            if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (!WIFEXITED(status)) fprintf(stderr, "init-loop: cycle %ld: forked child died\n", index);
                failures++;
            }
        } else if (cycle(volume, host, port, index) != 0) {
            failures++;
        }
    }
    double elapsed = now_ms() - started;
    printf("init-loop: %ld cycles in %.1f s (%.2f ms each), %ld failed\n", cycles, elapsed / 1e3,
           elapsed / (cycles ? cycles : 1), failures);
    return failures ? 1 : 0;
}
