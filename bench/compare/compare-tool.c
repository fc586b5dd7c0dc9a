// compare-tool: the small-file, tree-walk and client-cost workloads of scripts/bench-compare.sh, written once and
// run either through libgfapi (GlusterFS's library, or Mortar's drop-in chosen by LD_LIBRARY_PATH) or through POSIX
// calls on a mount or a local directory, so every system does exactly the same work.
//
//   compare-tool files  TARGET DIR OP COUNT      OP: create | stat | read | delete
//   compare-tool tree   TARGET DIR OP ENTRIES    OP: make | find | ls-lR | remove
//                                                (ls-lR: attributes of every entry — readdirplus through the library)
//   compare-tool client HOST PORT VOLUME INSTANCES
// TARGET is `gfapi:HOST:PORT:VOLUME` or `posix`. DIR is a path inside the volume (gfapi) or on the file system.
// Each run prints one JSON object (see bench/compare/FORMAT.md); only the operation itself is timed, never the
// connection, so one process per phase lets the driver drop the page cache between phases.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glusterfs/api/glfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { FILE_BYTES = 4096, DIRECTORY_FAN_OUT = 100, TREE_ENTRIES_PER_DIRECTORY = 200 };

static glfs_t *volume;  // NULL: POSIX calls

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void fail(const char *what, const char *path) {
    fprintf(stderr, "compare-tool: %s %s: %s\n", what, path ? path : "", strerror(errno));
    exit(1);
}

static glfs_t *connect_volume(const char *host, int port, const char *name) {
    glfs_t *fs = glfs_new(name);
    if (fs == NULL) fail("glfs_new", name);
    if (glfs_set_volfile_server(fs, "tcp", host, port) != 0) fail("glfs_set_volfile_server", host);
    const char *log = getenv("COMPARE_TOOL_LOG");
    glfs_set_logging(fs, log ? log : "/dev/null", 3);
    if (glfs_init(fs) != 0) fail("glfs_init", name);
    return fs;
}

// ---- one file-system interface over both access paths -------------------------------------------------------------

static int make_directory(const char *path) {
    return volume ? glfs_mkdir(volume, path, 0755) : mkdir(path, 0755);
}

static int remove_directory(const char *path) {
    return volume ? glfs_rmdir(volume, path) : rmdir(path);
}

static int create_file(const char *path, const char *data, size_t length) {
    if (volume) {
        glfs_fd_t *fd = glfs_creat(volume, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd == NULL) return -1;
        ssize_t written = length ? glfs_write(fd, data, length, 0) : 0;
        int closed = glfs_close(fd);
        return written == (ssize_t)length && closed == 0 ? 0 : -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -1;
    ssize_t written = length ? write(fd, data, length) : 0;
    int closed = close(fd);
    return written == (ssize_t)length && closed == 0 ? 0 : -1;
}

static int read_file(const char *path, char *buffer, size_t length) {
    if (volume) {
        glfs_fd_t *fd = glfs_open(volume, path, O_RDONLY);
        if (fd == NULL) return -1;
        ssize_t got = glfs_read(fd, buffer, length, 0);
        int closed = glfs_close(fd);
        return got == FILE_BYTES && closed == 0 ? 0 : -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t got = read(fd, buffer, length);
    int closed = close(fd);
    return got == FILE_BYTES && closed == 0 ? 0 : -1;
}

static int stat_path(const char *path, struct stat *result) {
    return volume ? glfs_lstat(volume, path, result) : lstat(path, result);
}

static int unlink_path(const char *path) {
    return volume ? glfs_unlink(volume, path) : unlink(path);
}

// Directory streams: a callback per entry other than "." and "..", with the entry's attributes when the caller
// asked for them (`glfs_readdirplus` through the library, as a library application lists with attributes; the
// POSIX path leaves them NULL and the caller stats, as `ls -l` does). Returns -1 on error.
typedef int (*entry_visitor)(const char *parent, const char *name, unsigned char type, const struct stat *attributes,
                             void *context);

static int list_directory(const char *path, int with_attributes, entry_visitor visit, void *context) {
    int result = 0;
    if (volume) {
        glfs_fd_t *directory = glfs_opendir(volume, path);
        if (directory == NULL) return -1;
        struct dirent *entry;
        struct stat attributes;
        // errno is set before each call, not once: the visitor recurses and may leave errno set, and a stream's end
        // (NULL with errno unchanged) must not read as an error.
        while ((errno = 0, entry = with_attributes ? glfs_readdirplus(directory, &attributes)
                                                   : glfs_readdir(directory)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
            if (visit(path, entry->d_name, entry->d_type, with_attributes ? &attributes : NULL, context) != 0) {
                result = -1;
                break;
            }
        }
        if (entry == NULL && errno != 0) result = -1;
        glfs_closedir(directory);
        return result;
    }
    DIR *directory = opendir(path);
    if (directory == NULL) return -1;
    struct dirent *entry;
    while ((errno = 0, entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        if (visit(path, entry->d_name, entry->d_type, NULL, context) != 0) { result = -1; break; }
    }
    if (entry == NULL && errno != 0) result = -1;
    closedir(directory);
    return result;
}

// ---- small files: COUNT files of 4 KiB spread over 100 directories -----------------------------------------------

static void file_path(char *out, size_t size, const char *root, long index) {
    snprintf(out, size, "%s/d%02ld/f%ld", root, index % DIRECTORY_FAN_OUT, index);
}

static void run_files(const char *root, const char *operation, long count) {
    char path[4096], subdirectory[4096];
    static char block[FILE_BYTES], buffer[2 * FILE_BYTES];
    memset(block, 'm', sizeof block);
    int creating = strcmp(operation, "create") == 0, deleting = strcmp(operation, "delete") == 0;
    if (!creating && !deleting && strcmp(operation, "stat") != 0 && strcmp(operation, "read") != 0) {
        fprintf(stderr, "compare-tool: unknown files operation '%s' (create, stat, read, delete)\n", operation);
        exit(2);
    }
    if (creating) {  // the directories are set-up, not part of the figure
        if (make_directory(root) != 0 && errno != EEXIST) fail("mkdir", root);
        for (int index = 0; index < DIRECTORY_FAN_OUT; index++) {
            snprintf(subdirectory, sizeof subdirectory, "%s/d%02d", root, index);
            if (make_directory(subdirectory) != 0 && errno != EEXIST) fail("mkdir", subdirectory);
        }
    }
    long errors = 0;
    struct stat attributes;
    double start = seconds_now();
    for (long index = 0; index < count; index++) {
        file_path(path, sizeof path, root, index);
        int rc;
        if (creating) rc = create_file(path, block, FILE_BYTES);
        else if (deleting) rc = unlink_path(path);
        else if (operation[0] == 's') rc = stat_path(path, &attributes) == 0 && attributes.st_size == FILE_BYTES ? 0 : -1;
        else rc = read_file(path, buffer, sizeof buffer);
        if (rc != 0 && errors++ == 0) fprintf(stderr, "compare-tool: %s %s: %s\n", operation, path, strerror(errno));
    }
    double elapsed = seconds_now() - start;
    if (deleting) {
        for (int index = 0; index < DIRECTORY_FAN_OUT; index++) {
            snprintf(subdirectory, sizeof subdirectory, "%s/d%02d", root, index);
            remove_directory(subdirectory);
        }
        remove_directory(root);
    }
    printf("{\"op\": \"%s\", \"count\": %ld, \"seconds\": %.6f, \"errors\": %ld}\n", operation, count, elapsed, errors);
}

// ---- trees: ENTRIES entries in directories of 200: the directory itself, one (empty) subdirectory, 198 files -----

struct walk { long entries; int with_attributes; long errors; };

static int walk_entry(const char *parent, const char *name, unsigned char type, const struct stat *listed,
                      void *context) {
    struct walk *walk = context;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", parent, name);
    walk->entries++;
    struct stat attributes;
    int is_directory = type == DT_DIR;
    if (listed != NULL) {
        is_directory = S_ISDIR(listed->st_mode);
    } else if (walk->with_attributes || type == DT_UNKNOWN) {  // ls -l stats every entry; find only without d_type
        if (stat_path(path, &attributes) != 0) { walk->errors++; return 0; }
        is_directory = S_ISDIR(attributes.st_mode);
    }
    if (is_directory && list_directory(path, walk->with_attributes, walk_entry, walk) != 0) {
        fprintf(stderr, "compare-tool: listing %s: %s\n", path, strerror(errno));
        walk->errors++;
    }
    return 0;
}

static int remove_entry(const char *parent, const char *name, unsigned char type, const struct stat *listed,
                        void *context) {
    (void)listed;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", parent, name);
    struct stat attributes;
    if (type == DT_UNKNOWN && stat_path(path, &attributes) == 0 && S_ISDIR(attributes.st_mode)) type = DT_DIR;
    if (type == DT_DIR) {
        list_directory(path, 0, remove_entry, context);
        return remove_directory(path);
    }
    return unlink_path(path);
}

static void run_tree(const char *root, const char *operation, long entries) {
    char path[4096];
    if (strcmp(operation, "make") == 0) {
        if (make_directory(root) != 0 && errno != EEXIST) fail("mkdir", root);
        long directories = (entries + TREE_ENTRIES_PER_DIRECTORY - 1) / TREE_ENTRIES_PER_DIRECTORY;
        double start = seconds_now();
        for (long directory = 0; directory < directories; directory++) {
            snprintf(path, sizeof path, "%s/dir%ld", root, directory);
            if (make_directory(path) != 0) fail("mkdir", path);
            snprintf(path, sizeof path, "%s/dir%ld/sub", root, directory);
            if (make_directory(path) != 0) fail("mkdir", path);
            for (int file = 2; file < TREE_ENTRIES_PER_DIRECTORY; file++) {
                snprintf(path, sizeof path, "%s/dir%ld/entry%d", root, directory, file);
                if (create_file(path, NULL, 0) != 0) fail("create", path);
            }
        }
        printf("{\"op\": \"make\", \"entries\": %ld, \"seconds\": %.6f}\n", directories * TREE_ENTRIES_PER_DIRECTORY,
               seconds_now() - start);
        return;
    }
    if (strcmp(operation, "remove") == 0) {
        struct walk unused = {0};
        list_directory(root, 0, remove_entry, &unused);
        if (remove_directory(root) != 0) fail("rmdir", root);
        return;
    }
    struct walk walk = {0, 0, 0};
    if (strcmp(operation, "ls-lR") == 0) walk.with_attributes = 1;
    else if (strcmp(operation, "find") != 0) {
        fprintf(stderr, "compare-tool: unknown tree operation '%s' (make, find, ls-lR, remove)\n", operation);
        exit(2);
    }
    double start = seconds_now();
    if (list_directory(root, walk.with_attributes, walk_entry, &walk) != 0) fail("opendir", root);
    double elapsed = seconds_now() - start;
    if (walk.entries != entries) {
        fprintf(stderr, "compare-tool: %s saw %ld entries under %s, expected %ld\n", operation, walk.entries, root, entries);
        walk.errors++;
    }
    printf("{\"op\": \"%s\", \"entries\": %ld, \"seconds\": %.6f, \"errors\": %ld}\n", operation, walk.entries,
           elapsed, walk.errors);
}

// ---- client cost: connect and fini latency, resident memory per instance -----------------------------------------

static long resident_kib(void) {
    long pages = 0, resident = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm == NULL || fscanf(statm, "%ld %ld", &pages, &resident) != 2) fail("read", "/proc/self/statm");
    fclose(statm);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void probe_io(glfs_t *fs) {  // 1 MiB written and read back, so the instance has done real I/O
    static char buffer[1 << 20];
    memset(buffer, 'c', sizeof buffer);
    glfs_fd_t *fd = glfs_creat(fs, "/.compare-client-probe", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd == NULL) fail("glfs_creat", "/.compare-client-probe");
    if (glfs_pwrite(fd, buffer, sizeof buffer, 0, 0, NULL, NULL) != (ssize_t)sizeof buffer) fail("glfs_pwrite", "probe");
    if (glfs_pread(fd, buffer, sizeof buffer, 0, 0, NULL) != (ssize_t)sizeof buffer) fail("glfs_pread", "probe");
    glfs_close(fd);
    glfs_unlink(fs, "/.compare-client-probe");
}

static void print_list(const char *name, const double *values, int count) {
    printf("\"%s\": [", name);
    for (int index = 0; index < count; index++) printf("%s%.3f", index ? ", " : "", values[index]);
    printf("]");
}

static void run_client(const char *host, int port, const char *name, int instances) {
    if (instances < 2 || instances > 64) {
        fprintf(stderr, "compare-tool: INSTANCES must be 2…64, not %d\n", instances);
        exit(2);
    }
    glfs_t *open_instances[64];
    double connect_ms[64], fini_ms[64];
    long base = resident_kib(), first = 0;
    for (int index = 0; index < instances; index++) {
        double start = seconds_now();
        open_instances[index] = connect_volume(host, port, name);
        connect_ms[index] = (seconds_now() - start) * 1000;
        if (index == 0) {
            probe_io(open_instances[0]);
            first = resident_kib();
        }
    }
    long last = resident_kib();
    for (int index = 0; index < instances; index++) {
        double start = seconds_now();
        glfs_fini(open_instances[index]);
        fini_ms[index] = (seconds_now() - start) * 1000;
    }
    printf("{\"instances\": %d, ", instances);
    print_list("connect_ms", connect_ms, instances);
    printf(", ");
    print_list("fini_ms", fini_ms, instances);
    printf(", \"rss_base_kib\": %ld, \"rss_first_kib\": %ld, \"rss_last_kib\": %ld}\n", base, first, last);
}

// ---- arguments ------------------------------------------------------------------------------------------------------

static void usage(void) {
    fprintf(stderr,
            "usage: compare-tool files  TARGET DIR create|stat|read|delete COUNT\n"
            "       compare-tool tree   TARGET DIR make|find|ls-lR|remove ENTRIES\n"
            "       compare-tool client HOST PORT VOLUME INSTANCES\n"
            "TARGET: gfapi:HOST:PORT:VOLUME or posix\n");
    exit(2);
}

static void open_target(const char *target) {
    if (strcmp(target, "posix") == 0) return;
    char host[256], name[256];
    int port;
    if (sscanf(target, "gfapi:%255[^:]:%d:%255s", host, &port, name) != 3) {
        fprintf(stderr, "compare-tool: TARGET '%s' is neither posix nor gfapi:HOST:PORT:VOLUME\n", target);
        exit(2);
    }
    volume = connect_volume(host, port, name);
}

int main(int argc, char **argv) {
    if (argc != 6) usage();
    if (strcmp(argv[1], "client") == 0) {
        run_client(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
        return 0;
    }
    long count = atol(argv[5]);
    if (count <= 0) usage();
    open_target(argv[2]);
    if (strcmp(argv[1], "files") == 0) run_files(argv[3], argv[4], count);
    else if (strcmp(argv[1], "tree") == 0) run_tree(argv[3], argv[4], count);
    else usage();
    // No glfs_fini here: it is not part of any figure (the client command measures it), and GlusterFS's takes
    // seconds, which would only stretch the run. Everything this tool wrote was closed; exiting drops the
    // connections.
    fflush(stdout);
    _exit(0);
}
