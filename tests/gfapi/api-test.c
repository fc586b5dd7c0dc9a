/*
 * api-test.c — behavioural test of a libgfapi.so.0 (Mortar's drop-in or GlusterFS's own).
 *
 * Compiled against GlusterFS's real public header and linked with -lgfapi, so it sees exactly the ABI
 * that fio, qemu, tgt and friends see. Every function in Sources/GFAPI/gfapi.map is called on its
 * success path and, where it has one, on its error paths.
 *
 *   usage: api-test VOLUME HOST PORT
 *
 * Environment:
 *   GFAPI_TEST_REFERENCE=glusterfs  the library under test is GlusterFS's own: a check that GlusterFS is known
 *                                   to fail (Mortar documents different behaviour, or GlusterFS has a quirk)
 *                                   is reported, when it fails, as "skip - … (GlusterFS differs: …)".
 *   GFAPI_TEST_TIMEOUT=SECONDS      global watchdog (default 300).
 *   GFAPI_TEST_LOGDIR=DIR           where the library's log file goes (default /tmp).
 *
 * Output: one line per check ("ok - name" / "not ok - name: details" / "skip - name (why)"), then a
 * summary. Exit status 0 only if no check failed.
 *
 * Everything the test creates lives under /gfapi-apitest-<pid> on the volume and is removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <glusterfs/api/glfs.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------------ */
/* Configuration                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

#define ASYNC_TIMEOUT_MS 30000 /* how long one async callback may take */
#define CHILD_TIMEOUT_S 120    /* how long an isolated section (forked child) may take */
#define KiB 1024
#define MiB (1024 * 1024)

static const char *g_volume;
static const char *g_host;
static int g_port;
static bool g_reference;       /* GFAPI_TEST_REFERENCE=glusterfs */
static char g_logfile[PATH_MAX];
static char g_root[128];       /* test directory on the volume, e.g. /gfapi-apitest-1234 */
static pthread_t g_main_thread;

/* ------------------------------------------------------------------------------------------------ */
/* Reporting                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

static int n_pass, n_fail, n_skip;
static const char *volatile g_step = "startup"; /* what is running now; the watchdog prints it */

static void step(const char *name) { g_step = name; }

static const char *errname(int e)
{
    static char bufs[8][32];
    static int next;
    if (e == 0)
        return "0";
    const char *n = strerrorname_np(e);
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s", n ? n : "E?");
    if (!n)
        snprintf(b, sizeof bufs[0], "errno %d", e);
    return b;
}

/* A formatted check name (rotating static buffers; main thread only). */
static const char *nm(const char *fmt, ...)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

static bool check(bool cond, const char *name, const char *fmt, ...)
{
    if (cond) {
        printf("ok - %s\n", name);
        n_pass++;
    } else {
        printf("not ok - %s: ", name);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        n_fail++;
    }
    fflush(stdout);
    return cond;
}
#define CHECK(cond, name, ...) check((cond), (name), __VA_ARGS__)

static void skip(const char *name, const char *why)
{
    printf("skip - %s (%s)\n", name, why);
    n_skip++;
    fflush(stdout);
}

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* A check that GlusterFS's library is known to fail: with GFAPI_TEST_REFERENCE=glusterfs a failure is reported
   as a loud skip naming the difference (a pass is still a pass); otherwise it is an ordinary check. */
static bool check_or_differs(bool cond, const char *name, const char *why, const char *fmt, ...)
{
    if (cond || !g_reference) {
        va_list ap;
        va_start(ap, fmt);
        char details[512];
        vsnprintf(details, sizeof details, fmt, ap);
        va_end(ap);
        return CHECK(cond, name, "%s", details);
    }
    va_list ap;
    va_start(ap, fmt);
    printf("skip - %s (GlusterFS differs: %s; observed: ", name, why);
    vprintf(fmt, ap);
    printf(")\n");
    va_end(ap);
    n_skip++;
    fflush(stdout);
    return false;
}

static void section(const char *title)
{
    printf("# --- %s ---\n", title);
    fflush(stdout);
}

/* Expect CALL (returning an integer) to fail with -1 and errno ERR. */
#define EXPECT_FAIL(name, err, call)                                                                \
    do {                                                                                            \
        const char *n_ = (name);                                                                    \
        step(n_);                                                                                   \
        errno = 0;                                                                                  \
        long long r_ = (long long)(call);                                                           \
        int e_ = errno;                                                                             \
        CHECK(r_ == -1 && e_ == (err), n_, "expected -1/%s, got %lld/%s", errname(err), r_,         \
              errname(e_));                                                                         \
    } while (0)

/* Expect CALL (returning an integer) to fail with -1 and errno ERR1 or ERR2. */
#define EXPECT_FAIL2(name, err1, err2, call)                                                        \
    do {                                                                                            \
        const char *n_ = (name);                                                                    \
        step(n_);                                                                                   \
        errno = 0;                                                                                  \
        long long r_ = (long long)(call);                                                           \
        int e_ = errno;                                                                             \
        CHECK(r_ == -1 && (e_ == (err1) || e_ == (err2)), n_, "expected -1/%s or %s, got %lld/%s",  \
              errname(err1), errname(err2), r_, errname(e_));                                       \
    } while (0)

/* Expect CALL (returning a pointer) to fail with NULL and errno ERR. */
#define EXPECT_NULL(name, err, call)                                                                \
    do {                                                                                            \
        const char *n_ = (name);                                                                    \
        step(n_);                                                                                   \
        errno = 0;                                                                                  \
        void *p_ = (void *)(call);                                                                  \
        int e_ = errno;                                                                             \
        CHECK(p_ == NULL && e_ == (err), n_, "expected NULL/%s, got %p/%s", errname(err), p_,       \
              errname(e_));                                                                         \
    } while (0)

/* Expect CALL (returning an integer) to return 0. */
#define EXPECT_ZERO(name, call)                                                                     \
    do {                                                                                            \
        const char *n_ = (name);                                                                    \
        step(n_);                                                                                   \
        errno = 0;                                                                                  \
        long long r_ = (long long)(call);                                                           \
        int e_ = errno;                                                                             \
        CHECK(r_ == 0, n_, "returned %lld, errno %s", r_, errname(e_));                             \
    } while (0)

/* Expect CALL (returning an integer) to return exactly VAL. */
#define EXPECT_VALUE(name, val, call)                                                               \
    do {                                                                                            \
        const char *n_ = (name);                                                                    \
        step(n_);                                                                                   \
        errno = 0;                                                                                  \
        long long r_ = (long long)(call);                                                           \
        int e_ = errno;                                                                             \
        long long v_ = (long long)(val);                                                            \
        CHECK(r_ == v_, n_, "returned %lld (errno %s), expected %lld", r_, errname(e_), v_);        \
    } while (0)

/* ------------------------------------------------------------------------------------------------ */
/* Watchdog                                                                                         */
/* ------------------------------------------------------------------------------------------------ */

static void write_str(int fd, const char *s)
{
    ssize_t ignored = write(fd, s, strlen(s));
    (void)ignored;
}

static void on_watchdog(int sig)
{
    (void)sig;
    write_str(1, "not ok - watchdog: test timed out while running: ");
    write_str(1, (const char *)g_step);
    write_str(1, "\n# summary: ABORTED by watchdog\n");
    _exit(1);
}

/* A crash inside the library: say where, then die of the same signal. */
static void on_crash(int sig)
{
    write_str(1, "not ok - crash: ");
    write_str(1, strsignal(sig));
    write_str(1, " while running: ");
    write_str(1, (const char *)g_step);
    write_str(1, "\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

static void arm_crash_reporter(void)
{
    const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_crash);
}

static void arm_watchdog(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_watchdog;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

/* ------------------------------------------------------------------------------------------------ */
/* Small helpers                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

/* A path inside the test directory (rotating static buffers; main thread only). */
static const char *P(const char *rel)
{
    static char bufs[16][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 16];
    if (rel == NULL || rel[0] == 0)
        snprintf(b, PATH_MAX, "%s", g_root);
    else
        snprintf(b, PATH_MAX, "%s/%s", g_root, rel);
    return b;
}

static void fill_pattern(void *buf, size_t len, unsigned seed)
{
    unsigned char *p = buf;
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

static bool is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Index of the first differing byte, or -1. */
static long first_diff(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < len; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound and released again). */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

/* Writes a whole file (created or truncated). */
static bool put_file(glfs_t *fs, const char *path, const void *data, size_t len)
{
    glfs_fd_t *fd = glfs_creat(fs, path, O_WRONLY | O_TRUNC, 0644);
    if (!fd)
        return false;
    ssize_t w = len ? glfs_pwrite(fd, data, len, 0, 0, NULL, NULL) : 0;
    int c = glfs_close(fd);
    return w == (ssize_t)len && c == 0;
}

/* Reads up to cap bytes of a file from offset 0; -1 on error. */
static ssize_t get_file(glfs_t *fs, const char *path, void *buf, size_t cap)
{
    glfs_fd_t *fd = glfs_open(fs, path, O_RDONLY);
    if (!fd)
        return -1;
    ssize_t r = glfs_pread(fd, buf, cap, 0, 0, NULL);
    glfs_close(fd);
    return r;
}

static off_t size_of(glfs_t *fs, const char *path)
{
    struct stat st;
    if (glfs_stat(fs, path, &st) != 0)
        return -1;
    return st.st_size;
}

/* A fresh glfs_t for VOLUME on HOST:PORT, initialised; NULL (and a failed check) if that fails. */
static glfs_t *connect_fs(const char *label)
{
    step(label);
    glfs_t *fs = glfs_new(g_volume);
    if (!fs) {
        CHECK(false, label, "glfs_new(%s) failed: %s", g_volume, errname(errno));
        return NULL;
    }
    glfs_set_logging(fs, g_logfile, 7);
    if (glfs_set_volfile_server(fs, "tcp", g_host, g_port) != 0) {
        CHECK(false, label, "glfs_set_volfile_server failed: %s", errname(errno));
        glfs_fini(fs);
        return NULL;
    }
    errno = 0;
    int r = glfs_init(fs);
    int e = errno;
    if (!CHECK(r == 0, label, "glfs_init returned %d, errno %s", r, errname(e))) {
        glfs_fini(fs);
        return NULL;
    }
    return fs;
}

/* glfs_fini must return 0; GlusterFS's own often returns -1 (its teardown counts leftovers as failure). */
static void expect_fini(glfs_t *fs, const char *name)
{
    step(name);
    errno = 0;
    int r = glfs_fini(fs);
    int e = errno;
    check_or_differs(r == 0, name, "glfs_fini returns -1 for never-initialised or failed instances and when its "
                     "teardown finds leftover frames", "returned %d, errno %s", r, errname(e));
}

/* Removes a tree through the API (used for cleanup). Returns 0 on success. */
static int remove_tree(glfs_t *fs, const char *path)
{
    struct stat st;
    if (glfs_lstat(fs, path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return glfs_unlink(fs, path);
    glfs_fd_t *d = glfs_opendir(fs, path);
    if (!d)
        return -1;
    int rc = 0;
    /* collect names first, then remove (not modifying the directory while reading it) */
    size_t cap = 64, n = 0;
    char **names = malloc(cap * sizeof *names);
    union {
        struct dirent d;
        char pad[512];
    } ent;
    struct dirent *res = NULL;
    while (glfs_readdir_r(d, &ent.d, &res) == 0 && res) {
        if (!strcmp(res->d_name, ".") || !strcmp(res->d_name, ".."))
            continue;
        if (n == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        names[n++] = strdup(res->d_name);
    }
    glfs_closedir(d);
    for (size_t i = 0; i < n; i++) {
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        if (remove_tree(fs, child) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    if (glfs_rmdir(fs, path) != 0)
        rc = -1;
    return rc;
}

/* ------------------------------------------------------------------------------------------------ */
/* Async completion bookkeeping                                                                     */
/* ------------------------------------------------------------------------------------------------ */

/* One submitted async call. Instances are static (callbacks may, in a broken library, arrive late). */
struct op {
    atomic_int calls;     /* how many times the callback ran */
    ssize_t ret;          /* callback's ret */
    int err;              /* errno in the callback's thread */
    pthread_t thread;     /* thread that ran the callback */
    glfs_fd_t *fd;        /* fd passed to the callback */
    bool must_not_run;    /* the submit returned -1: a callback is a contract violation */
    atomic_int *counter;  /* optional shared completion counter (batches) */
};

static pthread_mutex_t g_cb_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cb_cv = PTHREAD_COND_INITIALIZER;
static atomic_int g_forbidden_calls; /* callbacks of submissions that returned -1 */

static void on_done(glfs_fd_t *fd, ssize_t ret, struct glfs_stat *prestat, struct glfs_stat *poststat,
                    void *data)
{
    (void)prestat;
    (void)poststat;
    int err = errno;
    struct op *op = data;
    pthread_mutex_lock(&g_cb_mu);
    op->ret = ret;
    op->err = err;
    op->thread = pthread_self();
    op->fd = fd;
    if (op->must_not_run)
        atomic_fetch_add(&g_forbidden_calls, 1);
    atomic_fetch_add(&op->calls, 1);
    if (op->counter)
        atomic_fetch_add(op->counter, 1);
    pthread_cond_broadcast(&g_cb_cv);
    pthread_mutex_unlock(&g_cb_mu);
}

static void op_reset(struct op *op)
{
    atomic_store(&op->calls, 0);
    op->ret = -12345;
    op->err = 0;
    op->fd = NULL;
    op->must_not_run = false;
    op->counter = NULL;
}

/* Waits until *counter >= target or timeout; true if reached. */
static bool wait_count(atomic_int *counter, int target, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_cb_mu);
    while (atomic_load(counter) < target) {
        if (pthread_cond_timedwait(&g_cb_cv, &g_cb_mu, &deadline) == ETIMEDOUT)
            break;
    }
    bool ok = atomic_load(counter) >= target;
    pthread_mutex_unlock(&g_cb_mu);
    return ok;
}

/* The usual success-path assertions for one async call: submit returned 0, exactly one callback (so far)
   with the expected ret, from a thread other than the submitter, carrying the fd. */
static bool async_completed(const char *fn, struct op *op, int sret, int serr, glfs_fd_t *fd,
                            ssize_t expect)
{
    if (!CHECK(sret == 0, nm("%s: submit returns 0", fn), "returned %d, errno %s", sret, errname(serr)))
        return false;
    step(nm("%s: waiting for callback", fn));
    bool done = wait_count(&op->calls, 1, ASYNC_TIMEOUT_MS);
    if (!CHECK(done, nm("%s: callback runs", fn), "no callback within %d s", ASYNC_TIMEOUT_MS / 1000))
        return false;
    CHECK(op->ret == expect, nm("%s: callback ret is %zd", fn, expect), "ret %zd, errno %s", op->ret,
          errname(op->err));
    CHECK(!pthread_equal(op->thread, g_main_thread) && op->fd == fd,
          nm("%s: callback from a library thread with the submitted fd", fn),
          "%s, fd %p (submitted %p)",
          pthread_equal(op->thread, g_main_thread) ? "ran on the submitting thread" : "other thread",
          (void *)op->fd, (void *)fd);
    return op->ret == expect;
}

/* An async call that must fail with EBADF: either immediately (-1, no callback) or through its callback
   (ret -1, errno EBADF in the callback's thread). */
static void async_fails_ebadf(const char *name, struct op *op, int sret, int serr, const char *glusterfs_why)
{
    if (sret == -1) {
        op->must_not_run = true;
        CHECK(serr == EBADF, name, "submit returned -1 with errno %s, expected EBADF", errname(serr));
        return;
    }
    if (!CHECK(sret == 0, name, "submit returned %d", sret))
        return;
    bool done = wait_count(&op->calls, 1, ASYNC_TIMEOUT_MS);
    if (!CHECK(done, name, "submit returned 0 but no callback within %d s", ASYNC_TIMEOUT_MS / 1000))
        return;
    if (glusterfs_why)
        check_or_differs(op->ret == -1 && op->err == EBADF, name, glusterfs_why,
                         "callback ret %zd errno %s, expected -1/EBADF", op->ret, errname(op->err));
    else
        CHECK(op->ret == -1 && op->err == EBADF, name, "callback ret %zd errno %s, expected -1/EBADF", op->ret,
              errname(op->err));
}

/* A submission with a NULL fd: -1/EBADF and the callback must never run. */
static void async_null_fd(const char *name, struct op *op, int sret, int serr)
{
    if (sret == -1)
        op->must_not_run = true;
    CHECK(sret == -1 && serr == EBADF, name, "expected -1/EBADF, got %d/%s", sret, errname(serr));
}

/* ------------------------------------------------------------------------------------------------ */
/* Isolated sections: run in a forked child (before the parent touches the library), so a crash or a */
/* hang there is reported as a failure instead of taking the whole run down.                        */
/* ------------------------------------------------------------------------------------------------ */

static void run_isolated(const char *name, void (*body)(void))
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        CHECK(false, name, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK(false, name, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        close(pfd[0]);
        n_pass = n_fail = n_skip = 0;
        alarm(0);
        arm_watchdog(CHILD_TIMEOUT_S);
        body();
        char msg[64];
        int len = snprintf(msg, sizeof msg, "%d %d %d\n", n_pass, n_fail, n_skip);
        ssize_t ignored = write(pfd[1], msg, (size_t)len);
        (void)ignored;
        fflush(stdout);
        _exit(0);
    }
    close(pfd[1]);
    step(name);
    int status = 0;
    int64_t deadline = now_ms() + (CHILD_TIMEOUT_S + 15) * 1000;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK(false, name, "isolated section did not finish within %d s; killed", CHILD_TIMEOUT_S + 15);
        close(pfd[0]);
        return;
    }
    char buf[64] = {0};
    ssize_t got = read(pfd[0], buf, sizeof buf - 1);
    close(pfd[0]);
    int p = 0, f = 0, s = 0;
    if (got > 0 && sscanf(buf, "%d %d %d", &p, &f, &s) == 3) {
        n_pass += p;
        n_fail += f;
        n_skip += s;
    }
    if (WIFSIGNALED(status))
        CHECK(false, name, "isolated section died with signal %d (%s)", WTERMSIG(status),
              strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        CHECK(false, name, "isolated section exited with status %d", WEXITSTATUS(status));
    else if (got <= 0)
        CHECK(false, name, "isolated section reported no results");
}

/* ================================================================================================ */
/* Sections                                                                                         */
/* ================================================================================================ */

/* --- in-flight async writes at glfs_close ----------------------------------------------------- */

#define DRAIN_OPS 64
#define DRAIN_BLOCK (64 * KiB)
static struct op drain_ops[DRAIN_OPS];
static unsigned char drain_bufs[DRAIN_OPS][DRAIN_BLOCK];
static atomic_int drain_count;

static void body_close_drain(void)
{
    section("isolated: 64 async writes in flight at glfs_close");
    glfs_t *fs = connect_fs("close-drain: glfs_init");
    if (!fs)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/gfapi-apitest-%d-close-drain.dat", (int)getppid());
    /* O_SYNC keeps GlusterFS's write-behind from acknowledging the writes before they reach the brick */
    glfs_fd_t *fd = glfs_creat(fs, path, O_RDWR | O_TRUNC | O_SYNC, 0644);
    if (!CHECK(fd != NULL, "close-drain: glfs_creat", "errno %s", errname(errno))) {
        glfs_fini(fs);
        return;
    }
    atomic_store(&drain_count, 0);
    int submitted = 0;
    for (int i = 0; i < DRAIN_OPS; i++) {
        op_reset(&drain_ops[i]);
        drain_ops[i].counter = &drain_count;
        fill_pattern(drain_bufs[i], DRAIN_BLOCK, 1000 + i);
        if (glfs_pwrite_async(fd, drain_bufs[i], DRAIN_BLOCK, (off_t)i * DRAIN_BLOCK, 0, on_done,
                              &drain_ops[i]) == 0)
            submitted++;
        else
            drain_ops[i].must_not_run = true;
    }
    int before_close = atomic_load(&drain_count);
    CHECK(submitted == DRAIN_OPS, "close-drain: 64 glfs_pwrite_async submitted", "only %d accepted",
          submitted);
    note("close-drain: %d of %d callbacks had run before glfs_close was called", before_close, submitted);
    step("close-drain: glfs_close with writes in flight");
    errno = 0;
    int r = glfs_close(fd);
    int e = errno;
    int seen = atomic_load(&drain_count);
    CHECK(r == 0, "close-drain: glfs_close returns 0", "returned %d, errno %s", r, errname(e));
    check_or_differs(seen == submitted, "close-drain: every callback ran before glfs_close returned",
                     "callbacks of writes still in flight at close are dropped, never called",
                     "%d of %d callbacks had run when glfs_close returned", seen, submitted);
    int bad = 0, on_submitter = 0;
    for (int i = 0; i < DRAIN_OPS; i++) {
        if (atomic_load(&drain_ops[i].calls) != 1 || drain_ops[i].ret != DRAIN_BLOCK)
            bad++;
        else if (pthread_equal(drain_ops[i].thread, g_main_thread))
            on_submitter++;
    }
    check_or_differs(bad == 0, "close-drain: each write called back once with ret 65536",
                     "writes in flight at close get no callback", "%d writes without a successful callback",
                     bad);
    CHECK(on_submitter == 0, "close-drain: no callback ran on the submitting thread",
          "%d callbacks ran on the submitting thread", on_submitter);
    /* acknowledged writes must be readable */
    static unsigned char back[DRAIN_OPS * DRAIN_BLOCK];
    ssize_t got = get_file(fs, path, back, sizeof back);
    int wrong = 0;
    for (int i = 0; got == (ssize_t)sizeof back && i < DRAIN_OPS; i++)
        if (memcmp(back + (size_t)i * DRAIN_BLOCK, drain_bufs[i], DRAIN_BLOCK) != 0)
            wrong++;
    check_or_differs(got == (ssize_t)sizeof back && wrong == 0, "close-drain: all 64 blocks read back intact after close",
                     "glfs_close does not wait for writes in flight; a read right after it can miss them",
                     "read %zd bytes, %d blocks differ", got, wrong);
    glfs_unlink(fs, path);
    step("close-drain: glfs_fini");
    errno = 0;
    r = glfs_fini(fs);
    check_or_differs(r == 0, "close-drain: glfs_fini returns 0", "glfs_fini often reports -1 after its teardown",
                     "returned %d, errno %s", r, errname(errno));
    int twice = 0;
    for (int i = 0; i < DRAIN_OPS; i++)
        if (atomic_load(&drain_ops[i].calls) > 1)
            twice++;
    CHECK(twice == 0, "close-drain: no callback ran more than once", "%d ran more than once", twice);
}

/* --- in-flight async ops at glfs_fini --------------------------------------------------------- */

static void body_fini_drain(void)
{
    section("isolated: 64 async ops in flight at glfs_fini");
    glfs_t *fs = connect_fs("fini-drain: glfs_init");
    if (!fs)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/gfapi-apitest-%d-fini-drain.dat", (int)getppid());
    glfs_fd_t *fd = glfs_creat(fs, path, O_RDWR | O_TRUNC | O_SYNC, 0644);
    if (!CHECK(fd != NULL, "fini-drain: glfs_creat", "errno %s", errname(errno))) {
        glfs_fini(fs);
        return;
    }
    /* make the read half of the file exist, so the reads have full length */
    CHECK(glfs_ftruncate(fd, (off_t)DRAIN_OPS * DRAIN_BLOCK, NULL, NULL) == 0,
          "fini-drain: glfs_ftruncate to 4 MiB", "errno %s", errname(errno));
    atomic_store(&drain_count, 0);
    int submitted = 0;
    ssize_t expect[DRAIN_OPS];
    for (int i = 0; i < DRAIN_OPS; i++) {
        struct op *op = &drain_ops[i];
        op_reset(op);
        op->counter = &drain_count;
        int r;
        if (i < 32) { /* writes to blocks 0..31 */
            fill_pattern(drain_bufs[i], DRAIN_BLOCK, 2000 + i);
            r = glfs_pwrite_async(fd, drain_bufs[i], DRAIN_BLOCK, (off_t)i * DRAIN_BLOCK, 0, on_done, op);
            expect[i] = DRAIN_BLOCK;
        } else if (i < 48) { /* reads of blocks 32..47 */
            r = glfs_pread_async(fd, drain_bufs[i], DRAIN_BLOCK, (off_t)i * DRAIN_BLOCK, 0, on_done, op);
            expect[i] = DRAIN_BLOCK;
        } else if (i < 56) {
            r = glfs_fsync_async(fd, on_done, op);
            expect[i] = 0;
        } else {
            r = glfs_fdatasync_async(fd, on_done, op);
            expect[i] = 0;
        }
        if (r == 0)
            submitted++;
        else
            op->must_not_run = true;
    }
    int before_fini = atomic_load(&drain_count);
    CHECK(submitted == DRAIN_OPS, "fini-drain: 64 async ops submitted", "only %d accepted", submitted);
    note("fini-drain: %d of %d callbacks had run before glfs_fini was called", before_fini, submitted);
    step("fini-drain: glfs_fini with ops in flight and the fd still open");
    errno = 0;
    int r = glfs_fini(fs);
    int e = errno;
    int seen = atomic_load(&drain_count);
    check_or_differs(r == 0, "fini-drain: glfs_fini returns 0", "glfs_fini often reports -1 after its teardown",
                     "returned %d, errno %s", r, errname(e));
    check_or_differs(seen == submitted, "fini-drain: every callback ran before glfs_fini returned",
                     "ops in flight at fini are not drained; their callbacks are dropped",
                     "%d of %d callbacks had run when glfs_fini returned", seen, submitted);
    int bad = 0;
    for (int i = 0; i < DRAIN_OPS; i++)
        if (atomic_load(&drain_ops[i].calls) != 1 || drain_ops[i].ret != expect[i])
            bad++;
    check_or_differs(bad == 0, "fini-drain: each op called back once with its full result",
                     "ops in flight at fini get no callback", "%d ops without a callback or with a wrong ret",
                     bad);
    /* the acknowledged writes must be readable from a new instance; then clean up */
    glfs_t *fs2 = connect_fs("fini-drain: a new glfs_init after fini");
    if (!fs2)
        return;
    int acked = 0, wrong = 0;
    static unsigned char back[32 * DRAIN_BLOCK];
    ssize_t got = get_file(fs2, path, back, sizeof back);
    for (int i = 0; i < 32; i++) {
        if (atomic_load(&drain_ops[i].calls) != 1 || drain_ops[i].ret != DRAIN_BLOCK)
            continue;
        acked++;
        if (got != (ssize_t)sizeof back || memcmp(back + (size_t)i * DRAIN_BLOCK, drain_bufs[i], DRAIN_BLOCK) != 0)
            wrong++;
    }
    CHECK(wrong == 0, "fini-drain: every acknowledged write is readable afterwards",
          "%d of %d acknowledged blocks differ (read %zd bytes)", wrong, acked, got);
    glfs_unlink(fs2, path);
    glfs_fini(fs2);
}

/* --- instance lifecycle ------------------------------------------------------------------------ */

static void test_new(void)
{
    section("glfs_new");
    EXPECT_NULL("glfs_new(NULL) -> NULL/EINVAL", EINVAL, glfs_new(NULL));
    EXPECT_NULL("glfs_new(\"bad/name\") -> NULL/EINVAL", EINVAL, glfs_new("bad/name"));
    EXPECT_NULL("glfs_new(\"-dash\") -> NULL/EINVAL", EINVAL, glfs_new("-dash"));
    EXPECT_NULL("glfs_new(\"/abs\") -> NULL/EINVAL", EINVAL, glfs_new("/abs"));
    EXPECT_NULL("glfs_new(\"has space\") -> NULL/EINVAL", EINVAL, glfs_new("has space"));
}

static void test_uninitialised_instance(void)
{
    section("never-initialised glfs_t: configuration calls and glfs_fini");
    step("glfs_new on the real volume");
    glfs_t *fs = glfs_new(g_volume);
    if (!CHECK(fs != NULL, "glfs_new(VOLUME) returns an instance", "errno %s", errname(errno)))
        return;
    EXPECT_ZERO("glfs_set_logging(fs, \"-\", 7) -> 0", glfs_set_logging(fs, "-", 7));
    EXPECT_ZERO("glfs_set_logging(fs, file, 7) -> 0", glfs_set_logging(fs, g_logfile, 7));
    EXPECT_ZERO("glfs_set_xlator_option(unknown xlator/key) -> 0",
                glfs_set_xlator_option(fs, "no-such-xlator", "no.such.key", "42"));
    EXPECT_ZERO("glfs_set_xlator_option(qemu's write-behind option) -> 0",
                glfs_set_xlator_option(fs, "*-write-behind", "resync-failed-syncs-after-fsync", "on"));
    EXPECT_FAIL("glfs_set_volfile_server(host NULL) -> -1/EINVAL", EINVAL,
                glfs_set_volfile_server(fs, "tcp", NULL, g_port));
    step("glfs_set_volfile_server(transport \"carrier-pigeon\")");
    errno = 0;
    int r = glfs_set_volfile_server(fs, "carrier-pigeon", g_host, g_port);
    CHECK(r == -1, "glfs_set_volfile_server(unknown transport) -> -1", "returned %d", r);
    EXPECT_ZERO("glfs_set_volfile_server(tcp, HOST, PORT) -> 0", glfs_set_volfile_server(fs, "tcp", g_host, g_port));
    EXPECT_ZERO("glfs_set_volfile_server(NULL transport = tcp, second server) -> 0",
                glfs_set_volfile_server(fs, NULL, "192.0.2.7", 24011));
    EXPECT_ZERO("glfs_set_volfile_server(rdma = tcp, third server) -> 0",
                glfs_set_volfile_server(fs, "rdma", "192.0.2.8", 24012));
    EXPECT_ZERO("glfs_unset_volfile_server(the second server) -> 0",
                glfs_unset_volfile_server(fs, "tcp", "192.0.2.7", 24011));
    EXPECT_VALUE("glfs_unset_volfile_server(the second server again: gone) -> -1", -1,
                 glfs_unset_volfile_server(fs, "tcp", "192.0.2.7", 24011));
    EXPECT_VALUE("glfs_unset_volfile_server(never-added server) -> -1", -1,
                 glfs_unset_volfile_server(fs, "tcp", "192.0.2.1", 4242));
    step("glfs_unset_volfile_server(the first server)");
    errno = 0;
    r = glfs_unset_volfile_server(fs, "tcp", g_host, g_port);
    check_or_differs(r == 0, "glfs_unset_volfile_server(the first server) -> 0",
                     "the first server of the list can never be unset (the list walk starts after it)",
                     "returned %d", r);
    expect_fini(fs, "glfs_fini on a never-initialised glfs_t -> 0");

    step("glfs_new + glfs_fini with nothing in between");
    fs = glfs_new(g_volume);
    if (CHECK(fs != NULL, "glfs_new(VOLUME) again", "errno %s", errname(errno)))
        expect_fini(fs, "glfs_fini right after glfs_new -> 0");
}

static void test_init_missing_volume(void)
{
    section("glfs_init on a volume that does not exist");
    char name[64];
    snprintf(name, sizeof name, "no_such_volume_%d", (int)getpid());
    step("glfs_new(missing volume)");
    glfs_t *fs = glfs_new(name);
    if (!CHECK(fs != NULL, "glfs_new(missing volume) returns an instance (no I/O yet)", "errno %s",
               errname(errno)))
        return;
    glfs_set_logging(fs, g_logfile, 7);
    glfs_set_volfile_server(fs, "tcp", g_host, g_port);
    step("glfs_init(missing volume)");
    int64_t t0 = now_ms();
    errno = 0;
    int r = glfs_init(fs);
    int e = errno;
    CHECK(r == -1 && e == ENOENT, "glfs_init(missing volume) -> -1/ENOENT", "returned %d, errno %s", r, errname(e));
    note("glfs_init(missing volume) failed with errno %s after %lld ms", errname(e),
         (long long)(now_ms() - t0));
    expect_fini(fs, "glfs_fini after a failed glfs_init -> 0");
}

static void test_volfile_servers(void)
{
    section("glfs_set_volfile_server: server lists");
    int bogus = closed_port();
    step("glfs_new for the two-server test");
    glfs_t *fs = glfs_new(g_volume);
    if (!CHECK(fs != NULL, "glfs_new(VOLUME) for the two-server test", "errno %s", errname(errno)))
        return;
    glfs_set_logging(fs, g_logfile, 7);
    EXPECT_ZERO(nm("glfs_set_volfile_server(127.0.0.1:%d, nothing listens) -> 0", bogus),
                glfs_set_volfile_server(fs, "tcp", "127.0.0.1", bogus));
    EXPECT_ZERO("glfs_set_volfile_server(real server, second in list) -> 0",
                glfs_set_volfile_server(fs, "tcp", g_host, g_port));
    step("glfs_init with a dead first server");
    int64_t t0 = now_ms();
    errno = 0;
    int r = glfs_init(fs);
    int e = errno;
    CHECK(r == 0, "glfs_init falls over from a dead first server to the second", "returned %d, errno %s",
          r, errname(e));
    note("init with a dead first server took %lld ms", (long long)(now_ms() - t0));
    if (r == 0) {
        struct stat st;
        EXPECT_ZERO("glfs_lstat(\".\") through the failed-over instance", glfs_lstat(fs, ".", &st));
    }
    expect_fini(fs, "glfs_fini of the two-server instance -> 0");

    if (g_port != 24007) {
        skip("glfs_set_volfile_server port 0 means 24007", "PORT is not 24007");
        return;
    }
    step("glfs_new for the port-0 test");
    fs = glfs_new(g_volume);
    if (!CHECK(fs != NULL, "glfs_new(VOLUME) for the port-0 test", "errno %s", errname(errno)))
        return;
    glfs_set_logging(fs, g_logfile, 7);
    EXPECT_ZERO("glfs_set_volfile_server(port 0) -> 0", glfs_set_volfile_server(fs, "tcp", g_host, 0));
    EXPECT_ZERO("glfs_init with port 0 (= 24007)", glfs_init(fs));
    expect_fini(fs, "glfs_fini of the port-0 instance -> 0");
}

/* --- open / creat / close / dup ---------------------------------------------------------------- */

static void test_open_creat(glfs_t *fs)
{
    section("glfs_open / glfs_creat / glfs_close / glfs_dup");
    char data[100];
    fill_pattern(data, sizeof data, 1);
    glfs_mkdir(fs, P("odir"), 0755);

    step("glfs_creat without O_CREAT");
    glfs_fd_t *fd = glfs_creat(fs, P("created"), O_RDWR, 0640);
    CHECK(fd != NULL, "glfs_creat without O_CREAT creates the file", "errno %s", errname(errno));
    if (fd) {
        CHECK(glfs_write(fd, data, sizeof data, 0) == (ssize_t)sizeof data, "glfs_write on the new fd",
              "errno %s", errname(errno));
        EXPECT_ZERO("glfs_close -> 0", glfs_close(fd));
    }
    struct stat st;
    int sr = glfs_stat(fs, P("created"), &st);
    CHECK(sr == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_size == 100,
          "glfs_creat: regular file, mode 0640, size 100", "stat %d, mode %o, size %lld", sr,
          (unsigned)st.st_mode, (long long)st.st_size);

    EXPECT_NULL("glfs_creat(O_EXCL) on an existing file -> EEXIST", EEXIST,
                glfs_creat(fs, P("created"), O_RDWR | O_EXCL, 0644));
    EXPECT_NULL("glfs_creat on a directory for writing -> EISDIR", EISDIR,
                glfs_creat(fs, P("odir"), O_RDWR, 0644));
    EXPECT_NULL("glfs_open(O_RDWR) on a directory -> EISDIR", EISDIR, glfs_open(fs, P("odir"), O_RDWR));
    EXPECT_NULL("glfs_open(O_WRONLY) on a directory -> EISDIR", EISDIR,
                glfs_open(fs, P("odir"), O_WRONLY));
    EXPECT_NULL("glfs_open(O_RDONLY|O_TRUNC) on a directory -> EISDIR", EISDIR,
                glfs_open(fs, P("odir"), O_RDONLY | O_TRUNC));

    /* A directory opens read-only, as on GlusterFS 10 (Samba opens every path it resolves with
     * O_RDONLY|O_NONBLOCK): the descriptor answers the attribute calls and lists the directory. */
    step("glfs_open of a directory");
    glfs_fd_t *dfd = glfs_open(fs, P("odir"), O_RDONLY | O_NONBLOCK);
    if (CHECK(dfd != NULL, "glfs_open(O_RDONLY|O_NONBLOCK) on a directory -> fd", "errno %s", errname(errno))) {
        struct stat dst;
        int r = glfs_fstat(dfd, &dst);
        CHECK(r == 0 && S_ISDIR(dst.st_mode), "glfs_fstat on it: a directory", "ret %d errno %s mode %o", r,
              errname(errno), (unsigned)dst.st_mode);
        EXPECT_ZERO("glfs_fchmod(0750) on it", glfs_fchmod(dfd, 0750));
        r = glfs_stat(fs, P("odir"), &dst);
        CHECK(r == 0 && (dst.st_mode & 07777) == 0750, "the directory's mode is now 0750", "ret %d mode %o", r,
              (unsigned)dst.st_mode);
        EXPECT_ZERO("glfs_fsetxattr(user.dosattrib) on it", glfs_fsetxattr(dfd, "user.dosattrib", "dx", 2, 0));
        char xv[8] = { 0 };
        ssize_t xn = glfs_fgetxattr(dfd, "user.dosattrib", xv, sizeof xv);
        CHECK(xn == 2 && memcmp(xv, "dx", 2) == 0, "glfs_fgetxattr on it reads the value back", "ret %zd errno %s",
              xn, errname(errno));
        struct timespec times[2] = { { 1000000000, 0 }, { 1200000000, 0 } };
        EXPECT_ZERO("glfs_futimens on it", glfs_futimens(dfd, times));
        r = glfs_stat(fs, P("odir"), &dst);
        CHECK(r == 0 && dst.st_mtime == 1200000000, "the directory's mtime is set", "ret %d mtime %lld", r,
              (long long)dst.st_mtime);
        struct dirent *de = glfs_readdir(dfd);
        CHECK(de != NULL && strcmp(de->d_name, ".") == 0, "glfs_readdir on it: '.' first", "%s",
              de ? de->d_name : "NULL");
        char rb[4];
        EXPECT_FAIL("glfs_read on it -> EISDIR", EISDIR, glfs_read(dfd, rb, sizeof rb, 0));
        EXPECT_ZERO("glfs_close on it -> 0", glfs_close(dfd));
    }
    struct stat rootst, upst;
    int r1 = glfs_stat(fs, "/", &rootst), r2 = glfs_stat(fs, "/..", &upst);
    CHECK(r1 == 0 && r2 == 0 && upst.st_ino == rootst.st_ino, "glfs_stat(\"/..\") is the root, as in POSIX",
          "ret %d/%d errno %s", r1, r2, errname(errno));
    EXPECT_NULL("glfs_open on a missing file -> ENOENT", ENOENT, glfs_open(fs, P("missing"), O_RDONLY));
    EXPECT_NULL("glfs_open with a missing parent -> ENOENT", ENOENT,
                glfs_open(fs, P("nodir/file"), O_RDONLY));
    EXPECT_NULL("glfs_open through a file as a directory -> ENOTDIR", ENOTDIR,
                glfs_open(fs, P("created/x"), O_RDONLY));
    EXPECT_NULL("glfs_creat with a missing parent -> ENOENT", ENOENT,
                glfs_creat(fs, P("nodir/file"), O_RDWR, 0644));
    EXPECT_NULL("glfs_open(NULL fs) -> EINVAL", EINVAL, glfs_open(NULL, P("created"), O_RDONLY));

    /* O_TRUNC through glfs_creat and glfs_open */
    step("glfs_creat(O_TRUNC) on an existing file");
    fd = glfs_creat(fs, P("created"), O_RDWR | O_TRUNC, 0644);
    CHECK(fd != NULL && size_of(fs, P("created")) == 0, "glfs_creat(O_TRUNC) empties an existing file",
          "fd %p, size %lld", (void *)fd, (long long)size_of(fs, P("created")));
    if (fd)
        glfs_close(fd);
    put_file(fs, P("created"), data, sizeof data);
    step("glfs_open(O_TRUNC)");
    fd = glfs_open(fs, P("created"), O_WRONLY | O_TRUNC);
    CHECK(fd != NULL && size_of(fs, P("created")) == 0, "glfs_open(O_TRUNC) empties the file",
          "fd %p, size %lld", (void *)fd, (long long)size_of(fs, P("created")));
    if (fd)
        glfs_close(fd);

    /* tolerated flags */
    step("glfs_open(O_RDWR|O_DIRECT|O_SYNC)");
    fd = glfs_open(fs, P("created"), O_RDWR | O_DIRECT | O_SYNC);
    CHECK(fd != NULL, "glfs_open accepts tgt's O_RDWR|O_DIRECT|O_SYNC", "errno %s", errname(errno));
    if (fd) {
        static char aligned[4096] __attribute__((aligned(4096)));
        fill_pattern(aligned, sizeof aligned, 2);
        ssize_t w = glfs_pwrite(fd, aligned, sizeof aligned, 0, O_RDWR | O_DIRECT | O_SYNC, NULL, NULL);
        CHECK(w == 4096, "glfs_pwrite with tgt's open flags as write flags", "returned %zd, errno %s", w,
              errname(errno));
        glfs_close(fd);
    }

    /* O_APPEND */
    put_file(fs, P("append"), "abc", 3);
    step("glfs_open(O_APPEND)");
    fd = glfs_open(fs, P("append"), O_WRONLY | O_APPEND);
    if (CHECK(fd != NULL, "glfs_open(O_WRONLY|O_APPEND)", "errno %s", errname(errno))) {
        glfs_lseek(fd, 0, SEEK_SET);
        ssize_t w = glfs_write(fd, "XY", 2, 0);
        glfs_close(fd);
        char back[8] = {0};
        ssize_t g = get_file(fs, P("append"), back, sizeof back);
        CHECK(w == 2 && g == 5 && memcmp(back, "abcXY", 5) == 0, "O_APPEND writes land at the end",
              "write %zd, file now %zd bytes \"%.*s\"", w, g, (int)(g > 0 ? g : 0), back);
    }

    /* FIFO cannot be opened as a file */
    glfs_mknod(fs, P("odir/fifo"), S_IFIFO | 0644, 0);
    EXPECT_NULL("glfs_open on a FIFO -> EINVAL", EINVAL, glfs_open(fs, P("odir/fifo"), O_RDONLY));

    EXPECT_FAIL("glfs_close(NULL) -> -1/EBADF", EBADF, glfs_close(NULL));
    EXPECT_NULL("glfs_dup(NULL) -> NULL/EBADF", EBADF, glfs_dup(NULL));

    /* dup */
    put_file(fs, P("dup"), "0123456789", 10);
    step("glfs_dup");
    glfs_fd_t *a = glfs_open(fs, P("dup"), O_RDWR);
    glfs_fd_t *b = NULL;
    if (CHECK(a != NULL, "glfs_open for the dup test", "errno %s", errname(errno))) {
        glfs_lseek(a, 4, SEEK_SET);
        b = glfs_dup(a);
        CHECK(b != NULL && b != a, "glfs_dup returns a new fd", "returned %p (original %p), errno %s",
              (void *)b, (void *)a, errname(errno));
    }
    if (a && b) {
        off_t bpos = glfs_lseek(b, 0, SEEK_CUR);
        check_or_differs(bpos == 4, "glfs_dup: the copy shares the original's offset (4)",
                         "a dup'd fd gets its own offset, starting at 0", "dup's offset is %lld", (long long)bpos);
        char c[2] = {0};
        glfs_lseek(b, 6, SEEK_SET);
        ssize_t rr = glfs_read(b, c, 1, 0);
        off_t apos = glfs_lseek(a, 0, SEEK_CUR);
        CHECK(rr == 1 && c[0] == '6', "glfs_dup: reading through the copy", "read %zd '%c'", rr, c[0]);
        check_or_differs(apos == 7, "glfs_dup: reading through the copy moves the original's offset too",
                         "offsets are independent", "original's offset is %lld", (long long)apos);
        EXPECT_ZERO("glfs_close of the original after dup", glfs_close(a));
        a = NULL;
        rr = glfs_pread(b, c, 1, 9, 0, NULL);
        CHECK(rr == 1 && c[0] == '9', "glfs_dup: the copy keeps working after the original is closed",
              "pread %zd '%c', errno %s", rr, c[0], errname(errno));
        ssize_t w = glfs_pwrite(b, "Z", 1, 0, 0, NULL, NULL);
        EXPECT_ZERO("glfs_close of the copy", glfs_close(b));
        char back[10];
        ssize_t g = get_file(fs, P("dup"), back, sizeof back);
        CHECK(w == 1 && g == 10 && back[0] == 'Z', "glfs_dup: writes through the copy reach the file",
              "write %zd, read %zd, first byte '%c'", w, g, back[0]);
    } else if (a) {
        glfs_close(a);
    }
}

/* A struct glfs_stat filled by the library: glfs_st_mask says which fields are valid (0 = none, allowed). What it
   claims must be right: SIZE -> the expected size, TYPE -> a regular file. A mask without SIZE is noted. */
static void stat_claims(const char *what, const struct glfs_stat *gs, off_t size)
{
    uint64_t m = gs->glfs_st_mask;
    bool ok = (!(m & GLFS_STAT_SIZE) || gs->glfs_st_size == size) && (!(m & GLFS_STAT_TYPE) || S_ISREG(gs->glfs_st_mode)) &&
              !(m & ~(uint64_t)GLFS_STAT_ALL);
    CHECK(ok, nm("%s: the fields its mask claims are right (size %lld)", what, (long long)size),
          "mask %#llx size %lld mode %o", (unsigned long long)m, (long long)gs->glfs_st_size, (unsigned)gs->glfs_st_mode);
    if (!(m & GLFS_STAT_SIZE))
        note("%s: mask %#llx has no GLFS_STAT_SIZE (size not reported)", what, (unsigned long long)m);
}

/* 300 iovecs of uneven sizes out, 257 different ones back in (qemu passes up to IOV_MAX per request). */
static void many_iovecs(glfs_t *fs)
{
    enum { NW = 300, NR = 257 };
    static char data[NW * 5000];
    static char back[NW * 5000];
    static struct iovec wv[NW], rv[NR];
    size_t total = 0;
    for (int i = 0; i < NW; i++) {
        size_t len = 1 + (size_t)(i * 7919) % 4999; /* 1..4999 bytes */
        wv[i] = (struct iovec){data + total, len};
        total += len;
    }
    fill_pattern(data, total, 9);
    size_t per = total / NR, got = 0;
    for (int i = 0; i < NR; i++) {
        size_t len = i == NR - 1 ? total - got : per;
        rv[i] = (struct iovec){back + got, len};
        got += len;
    }
    step("glfs_pwritev with 300 iovecs");
    glfs_fd_t *fd = glfs_creat(fs, P("iov"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(iov)", "errno %s", errname(errno)))
        return;
    EXPECT_VALUE(nm("glfs_pwritev of 300 uneven iovecs -> %zu", total), (long long)total, glfs_pwritev(fd, wv, NW, 777, 0));
    memset(back, 0, sizeof back);
    EXPECT_VALUE(nm("glfs_preadv into 257 iovecs -> %zu", total), (long long)total, glfs_preadv(fd, rv, NR, 777, 0));
    CHECK(!memcmp(back, data, total), "300-iovec write / 257-iovec read round trip is byte-exact", "first difference at %ld",
          first_diff(back, data, total));
    glfs_close(fd);
}

/* An O_DIRECT fd must not impose alignment on the caller (gfapi-abi §5.6: tgt opens O_DIRECT by default). */
static void unaligned_direct(glfs_t *fs)
{
    static char buf[1 + 1000];
    fill_pattern(buf, sizeof buf, 10);
    put_file(fs, P("direct"), "", 0);
    step("O_DIRECT unaligned pwrite");
    glfs_fd_t *fd = glfs_open(fs, P("direct"), O_RDWR | O_DIRECT);
    if (!CHECK(fd != NULL, "glfs_open(O_RDWR|O_DIRECT)", "errno %s", errname(errno)))
        return;
    errno = 0;
    ssize_t w = glfs_pwrite(fd, buf + 1, 1000, 3, 0, NULL, NULL);
    int e = errno;
    CHECK(w == 1000, "O_DIRECT fd: unaligned 1000-byte pwrite at offset 3 from an odd address", "returned %zd, errno %s",
          w, errname(e));
    static char back[1000];
    errno = 0;
    ssize_t r = glfs_pread(fd, back + 0, 999, 4, 0, NULL);
    e = errno;
    check_or_differs(r == 999 && !memcmp(back, buf + 2, 999), "O_DIRECT fd: unaligned pread reads it back",
                     "O_DIRECT reaches the brick's file, so unaligned reads fail with EINVAL", "returned %zd, errno %s", r,
                     errname(e));
    glfs_close(fd);
}

/* --- read / write / offsets -------------------------------------------------------------------- */

static void test_read_write(glfs_t *fs, glfs_t *fs2)
{
    section("glfs_read / glfs_write / glfs_pread / glfs_pwrite / vectors");
    enum { N = 10000 };
    static char data[N], back[N + 100];
    fill_pattern(data, N, 3);

    step("glfs_creat for read/write");
    glfs_fd_t *fd = glfs_creat(fs, P("rw"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(rw)", "errno %s", errname(errno)))
        return;
    EXPECT_VALUE("glfs_write 6000 bytes -> 6000", 6000, glfs_write(fd, data, 6000, 0));
    EXPECT_VALUE("glfs_write advances the offset to 6000", 6000, glfs_lseek(fd, 0, SEEK_CUR));
    EXPECT_VALUE("glfs_write the remaining 4000 bytes -> 4000", 4000, glfs_write(fd, data + 6000, 4000, 0));
    EXPECT_VALUE("glfs_lseek(0, SEEK_SET) -> 0", 0, glfs_lseek(fd, 0, SEEK_SET));
    memset(back, 0, sizeof back);
    EXPECT_VALUE("glfs_read 3000 -> 3000", 3000, glfs_read(fd, back, 3000, 0));
    EXPECT_VALUE("glfs_read advances the offset to 3000", 3000, glfs_lseek(fd, 0, SEEK_CUR));
    EXPECT_VALUE("glfs_read the next 7000 -> 7000", 7000, glfs_read(fd, back + 3000, 7000, 0));
    CHECK(memcmp(back, data, N) == 0, "glfs_read data is byte-exact", "first difference at byte %ld",
          first_diff(back, data, N));
    glfs_lseek(fd, 9000, SEEK_SET);
    EXPECT_VALUE("glfs_read across EOF is short (1000 of 4096)", 1000, glfs_read(fd, back, 4096, 0));
    EXPECT_VALUE("glfs_read at EOF -> 0", 0, glfs_read(fd, back, 4096, 0));

    /* positional */
    memset(back, 0, sizeof back);
    EXPECT_VALUE("glfs_pread(1000 @ 2500) -> 1000", 1000, glfs_pread(fd, back, 1000, 2500, 0, NULL));
    CHECK(memcmp(back, data + 2500, 1000) == 0, "glfs_pread data is byte-exact",
          "first difference at byte %ld", first_diff(back, data + 2500, 1000));
    EXPECT_VALUE("glfs_pread past EOF -> 0", 0, glfs_pread(fd, back, 10, 20000, 0, NULL));
    /* GlusterFS's library moves the fd offset on positional I/O too; Mortar mimics it (gfapi-abi §7) */
    glfs_pread(fd, back, 100, 1234, 0, NULL);
    EXPECT_VALUE("glfs_pread leaves the fd offset at off+ret (gfapi quirk)", 1334, glfs_lseek(fd, 0, SEEK_CUR));
    struct glfs_stat pre, post;
    memset(&pre, 0, sizeof pre);
    memset(&post, 0, sizeof post);
    EXPECT_VALUE("glfs_pwrite(500 @ 12000) extends the file -> 500", 500,
                 glfs_pwrite(fd, data, 500, 12000, 0, &pre, &post));
    stat_claims("glfs_pwrite prestat", &pre, N);
    stat_claims("glfs_pwrite poststat", &post, 12500);
    EXPECT_VALUE("glfs_pwrite leaves the fd offset at off+ret (gfapi quirk)", 12500,
                 glfs_lseek(fd, 0, SEEK_CUR));
    memset(back, 0xEE, 2000);
    EXPECT_VALUE("glfs_pread of the gap 10000..12000 -> 2000", 2000, glfs_pread(fd, back, 2000, N, 0, NULL));
    CHECK(is_zero(back, 2000), "the gap written over reads back as zeros", "non-zero bytes in the gap");
    EXPECT_ZERO("glfs_fsync(fd, NULL, NULL) -> 0", glfs_fsync(fd, NULL, NULL));
    memset(&post, 0, sizeof post);
    EXPECT_ZERO("glfs_fsync with pre/post stat -> 0", glfs_fsync(fd, &pre, &post));
    stat_claims("glfs_fsync poststat", &post, 12500);
    EXPECT_ZERO("glfs_fdatasync(fd, NULL, NULL) -> 0", glfs_fdatasync(fd, NULL, NULL));
    EXPECT_ZERO("glfs_fdatasync with pre/post stat -> 0", glfs_fdatasync(fd, &pre, &post));

    /* other clients see it after close */
    EXPECT_ZERO("glfs_close(rw)", glfs_close(fd));
    memset(back, 0, sizeof back);
    step("read through the second instance");
    ssize_t g = get_file(fs2, P("rw"), back, N);
    CHECK(g == N && memcmp(back, data, N) == 0, "a second glfs_t reads the same bytes",
          "read %zd, first difference at %ld", g, g == N ? first_diff(back, data, N) : -1L);

    /* bad fds */
    EXPECT_FAIL("glfs_read(NULL) -> -1/EBADF", EBADF, glfs_read(NULL, back, 1, 0));
    EXPECT_FAIL("glfs_write(NULL) -> -1/EBADF", EBADF, glfs_write(NULL, back, 1, 0));
    EXPECT_FAIL("glfs_pread(NULL) -> -1/EBADF", EBADF, glfs_pread(NULL, back, 1, 0, 0, NULL));
    EXPECT_FAIL("glfs_pwrite(NULL) -> -1/EBADF", EBADF, glfs_pwrite(NULL, back, 1, 0, 0, NULL, NULL));
    EXPECT_FAIL("glfs_fsync(NULL) -> -1/EBADF", EBADF, glfs_fsync(NULL, NULL, NULL));
    EXPECT_FAIL("glfs_fdatasync(NULL) -> -1/EBADF", EBADF, glfs_fdatasync(NULL, NULL, NULL));
    step("open read-only / write-only");
    glfs_fd_t *ro = glfs_open(fs, P("rw"), O_RDONLY);
    glfs_fd_t *wo = glfs_open(fs, P("rw"), O_WRONLY);
    if (CHECK(ro && wo, "glfs_open O_RDONLY and O_WRONLY", "errno %s", errname(errno))) {
        const char *wb = "write-behind acknowledges writes on a read-only fd; the brick's EBADF is lost";
        errno = 0;
        ssize_t w1 = glfs_write(ro, data, 10, 0);
        int e1 = errno;
        check_or_differs(w1 == -1 && e1 == EBADF, "glfs_write on an O_RDONLY fd -> EBADF", wb, "returned %zd, errno %s",
                         w1, errname(e1));
        errno = 0;
        w1 = glfs_pwrite(ro, data, 10, 0, 0, NULL, NULL);
        e1 = errno;
        check_or_differs(w1 == -1 && e1 == EBADF, "glfs_pwrite on an O_RDONLY fd -> EBADF", wb, "returned %zd, errno %s",
                         w1, errname(e1));
        EXPECT_FAIL("glfs_read on an O_WRONLY fd -> EBADF", EBADF, glfs_read(wo, back, 10, 0));
        EXPECT_FAIL("glfs_pread on an O_WRONLY fd -> EBADF", EBADF, glfs_pread(wo, back, 10, 0, 0, NULL));
    }
    if (ro)
        glfs_close(ro);
    if (wo)
        glfs_close(wo);

    /* vectors */
    step("glfs_writev");
    fd = glfs_creat(fs, P("vec"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(vec)", "errno %s", errname(errno)))
        return;
    struct iovec wv[3] = {{data, 10}, {data + 10, 4096}, {data + 4106, 333}};
    EXPECT_VALUE("glfs_writev of 3 buffers -> 4439", 4439, glfs_writev(fd, wv, 3, 0));
    EXPECT_VALUE("glfs_writev advances the offset to 4439", 4439, glfs_lseek(fd, 0, SEEK_CUR));
    static char r1[100], r2[4000], r3[1000];
    struct iovec rv[3] = {{r1, sizeof r1}, {r2, sizeof r2}, {r3, sizeof r3}};
    glfs_lseek(fd, 0, SEEK_SET);
    EXPECT_VALUE("glfs_readv into 3 buffers (short at EOF) -> 4439", 4439, glfs_readv(fd, rv, 3, 0));
    CHECK(memcmp(r1, data, 100) == 0 && memcmp(r2, data + 100, 4000) == 0 && memcmp(r3, data + 4100, 339) == 0,
          "glfs_readv scatters the bytes in order", "data mismatch");
    EXPECT_VALUE("glfs_readv advances the offset to 4439", 4439, glfs_lseek(fd, 0, SEEK_CUR));
    struct iovec pv[2] = {{data + 5000, 700}, {data + 5700, 300}};
    EXPECT_VALUE("glfs_pwritev(2 buffers @ 8192) -> 1000", 1000, glfs_pwritev(fd, pv, 2, 8192, 0));
    static char q1[300], q2[700];
    struct iovec qv[2] = {{q1, sizeof q1}, {q2, sizeof q2}};
    EXPECT_VALUE("glfs_preadv(2 buffers @ 8192) -> 1000", 1000, glfs_preadv(fd, qv, 2, 8192, 0));
    CHECK(memcmp(q1, data + 5000, 300) == 0 && memcmp(q2, data + 5300, 700) == 0,
          "glfs_preadv/pwritev gather and scatter byte-exactly", "data mismatch");
    EXPECT_FAIL("glfs_readv(NULL) -> -1/EBADF", EBADF, glfs_readv(NULL, rv, 1, 0));
    EXPECT_FAIL("glfs_writev(NULL) -> -1/EBADF", EBADF, glfs_writev(NULL, wv, 1, 0));
    EXPECT_FAIL("glfs_preadv(NULL) -> -1/EBADF", EBADF, glfs_preadv(NULL, rv, 1, 0, 0));
    EXPECT_FAIL("glfs_pwritev(NULL) -> -1/EBADF", EBADF, glfs_pwritev(NULL, wv, 1, 0, 0));
    errno = 0;
    ssize_t z = glfs_read(fd, r1, 0, 0);
    int ze = errno;
    check_or_differs(z == 0, "glfs_read of 0 bytes -> 0", "a zero-length read fails with EINVAL",
                     "returned %zd, errno %s", z, errname(ze));
    glfs_close(fd);

    many_iovecs(fs);
    unaligned_direct(fs);
}

/* --- lseek --------------------------------------------------------------------------------------- */

static void test_lseek(glfs_t *fs)
{
    section("glfs_lseek");
    static char block[4096];
    fill_pattern(block, sizeof block, 4);
    step("sparse file for lseek");
    glfs_fd_t *fd = glfs_creat(fs, P("sparse"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(sparse)", "errno %s", errname(errno)))
        return;
    const off_t size = MiB + 4096;
    bool w = glfs_pwrite(fd, block, 4096, 0, 0, NULL, NULL) == 4096 &&
             glfs_pwrite(fd, block, 4096, MiB, 0, NULL, NULL) == 4096;
    CHECK(w, "two 4 KiB extents at 0 and 1 MiB written", "errno %s", errname(errno));
    glfs_fsync(fd, NULL, NULL);

    EXPECT_VALUE("SEEK_SET 5 -> 5", 5, glfs_lseek(fd, 5, SEEK_SET));
    EXPECT_VALUE("SEEK_CUR +10 -> 15", 15, glfs_lseek(fd, 10, SEEK_CUR));
    EXPECT_VALUE("SEEK_CUR -3 -> 12", 12, glfs_lseek(fd, -3, SEEK_CUR));
    EXPECT_VALUE("SEEK_END 0 -> size", size, glfs_lseek(fd, 0, SEEK_END));
    EXPECT_VALUE("SEEK_END -96 -> size-96", size - 96, glfs_lseek(fd, -96, SEEK_END));
    EXPECT_VALUE("SEEK_SET beyond EOF is allowed", size + 5000, glfs_lseek(fd, size + 5000, SEEK_SET));
    EXPECT_VALUE("SEEK_DATA 0 -> 0", 0, glfs_lseek(fd, 0, SEEK_DATA));
    step("SEEK_HOLE 0");
    off_t h = glfs_lseek(fd, 0, SEEK_HOLE);
    CHECK(h >= 4096 && h <= MiB, "SEEK_HOLE 0 -> the hole after the first extent (4 KiB..1 MiB)",
          "returned %lld, errno %s", (long long)h, errname(errno));
    step("SEEK_DATA 8192");
    off_t d = glfs_lseek(fd, 8192, SEEK_DATA);
    CHECK(d >= 8192 && d <= MiB, "SEEK_DATA 8192 -> the second extent (8 KiB..1 MiB)",
          "returned %lld, errno %s", (long long)d, errname(errno));
    EXPECT_VALUE("SEEK_HOLE in the last extent -> EOF", size, glfs_lseek(fd, MiB + 10, SEEK_HOLE));
    EXPECT_FAIL("SEEK_DATA at EOF -> -1/ENXIO (qemu's probe)", ENXIO, glfs_lseek(fd, size, SEEK_DATA));
    EXPECT_FAIL("SEEK_DATA past EOF -> -1/ENXIO", ENXIO, glfs_lseek(fd, size + 100, SEEK_DATA));
    EXPECT_FAIL("SEEK_HOLE past EOF -> -1/ENXIO", ENXIO, glfs_lseek(fd, size + 100, SEEK_HOLE));
    EXPECT_FAIL("lseek with whence 99 -> -1/EINVAL", EINVAL, glfs_lseek(fd, 0, 99));
    EXPECT_FAIL("glfs_lseek(NULL) -> -1/EBADF", EBADF, glfs_lseek(NULL, 0, SEEK_SET));

    /* 64-bit offsets: a write at 5 GiB (sparse) */
    const off_t far = 5LL * 1024 * MiB;
    EXPECT_VALUE("glfs_pwrite 10 bytes at 5 GiB -> 10", 10, glfs_pwrite(fd, "0123456789", 10, far, 0, NULL, NULL));
    EXPECT_VALUE("SEEK_END after the 5 GiB write -> 5 GiB + 10", far + 10, glfs_lseek(fd, 0, SEEK_END));
    char tail[10] = {0};
    ssize_t g = glfs_pread(fd, tail, 10, far, 0, NULL);
    CHECK(g == 10 && !memcmp(tail, "0123456789", 10), "glfs_pread at 5 GiB reads it back", "read %zd", g);
    EXPECT_VALUE("SEEK_DATA from 2 MiB finds the extent at 5 GiB", far - far % 4096, glfs_lseek(fd, 2 * MiB, SEEK_DATA));
    glfs_close(fd);
}

/* --- stat family / access / statvfs -------------------------------------------------------------- */

static void test_stat(glfs_t *fs)
{
    section("glfs_stat / glfs_lstat / glfs_fstat / glfs_access / glfs_statvfs");
    static char data[3000];
    fill_pattern(data, sizeof data, 5);
    put_file(fs, P("st"), data, sizeof data);
    glfs_symlink(fs, "st", P("st-link"));

    struct stat a, b, c, root;
    memset(&a, 0, sizeof a);
    EXPECT_ZERO("glfs_stat on a file -> 0", glfs_stat(fs, P("st"), &a));
    CHECK(S_ISREG(a.st_mode) && a.st_size == 3000 && a.st_nlink == 1 && a.st_ino != 0 && a.st_blksize > 0 &&
              a.st_blocks > 0 && a.st_uid == 0 && a.st_gid == 0,
          "glfs_stat fields: regular, size 3000, nlink 1, ino, blksize, blocks, owner root",
          "mode %o size %lld nlink %lu ino %llu blksize %ld blocks %lld uid %u gid %u", (unsigned)a.st_mode,
          (long long)a.st_size, (unsigned long)a.st_nlink, (unsigned long long)a.st_ino, (long)a.st_blksize,
          (long long)a.st_blocks, a.st_uid, a.st_gid);
    EXPECT_ZERO("glfs_stat through a symlink -> 0", glfs_stat(fs, P("st-link"), &b));
    CHECK(b.st_ino == a.st_ino && S_ISREG(b.st_mode), "glfs_stat follows the symlink",
          "ino %llu vs %llu, mode %o", (unsigned long long)b.st_ino, (unsigned long long)a.st_ino,
          (unsigned)b.st_mode);
    EXPECT_ZERO("glfs_lstat on the symlink -> 0", glfs_lstat(fs, P("st-link"), &c));
    CHECK(S_ISLNK(c.st_mode) && c.st_ino != a.st_ino && c.st_size == 2,
          "glfs_lstat does not follow the symlink (S_IFLNK, size = text length 2)", "mode %o ino %llu size %lld",
          (unsigned)c.st_mode, (unsigned long long)c.st_ino, (long long)c.st_size);
    step("glfs_fstat");
    glfs_fd_t *fd = glfs_open(fs, P("st"), O_RDONLY);
    if (fd) {
        memset(&b, 0, sizeof b);
        EXPECT_ZERO("glfs_fstat -> 0", glfs_fstat(fd, &b));
        CHECK(b.st_ino == a.st_ino && b.st_size == 3000 && b.st_dev == a.st_dev,
              "glfs_fstat agrees with glfs_stat (ino, size, dev)", "ino %llu size %lld dev %llu",
              (unsigned long long)b.st_ino, (long long)b.st_size, (unsigned long long)b.st_dev);
        glfs_close(fd);
    } else {
        CHECK(false, "glfs_open for glfs_fstat", "errno %s", errname(errno));
    }
    EXPECT_FAIL("glfs_fstat(NULL) -> -1/EBADF", EBADF, glfs_fstat(NULL, &b));
    EXPECT_FAIL("glfs_stat on a missing path -> ENOENT", ENOENT, glfs_stat(fs, P("missing"), &b));
    EXPECT_FAIL("glfs_lstat on a missing path -> ENOENT", ENOENT, glfs_lstat(fs, P("missing"), &b));
    EXPECT_FAIL("glfs_stat through a file -> ENOTDIR", ENOTDIR, glfs_stat(fs, P("st/x"), &b));
    EXPECT_FAIL("glfs_stat(NULL fs) -> EINVAL", EINVAL, glfs_stat(NULL, P("st"), &b));

    /* "." and the root (fio's liveness probe) */
    EXPECT_ZERO("glfs_lstat(fs, \".\") -> 0", glfs_lstat(fs, ".", &b));
    EXPECT_ZERO("glfs_lstat(fs, \"/\") -> 0", glfs_lstat(fs, "/", &root));
    CHECK(S_ISDIR(b.st_mode) && b.st_ino == root.st_ino, "\".\" is the volume root (directory, same inode)",
          "mode %o ino %llu vs %llu", (unsigned)b.st_mode, (unsigned long long)b.st_ino,
          (unsigned long long)root.st_ino);
    /* relative paths resolve from the root */
    const char *rel = P("st") + 1;
    EXPECT_ZERO(nm("glfs_stat relative path \"%s\" -> 0", rel), glfs_stat(fs, rel, &b));

    /* access */
    EXPECT_ZERO("glfs_access(F_OK) on a file -> 0", glfs_access(fs, P("st"), F_OK));
    EXPECT_ZERO("glfs_access(R_OK|W_OK) as root -> 0", glfs_access(fs, P("st"), R_OK | W_OK));
    EXPECT_FAIL("glfs_access on a missing path -> ENOENT", ENOENT, glfs_access(fs, P("missing"), F_OK));

    /* statvfs */
    struct statvfs v;
    memset(&v, 0, sizeof v);
    EXPECT_ZERO("glfs_statvfs(\"/\") -> 0", glfs_statvfs(fs, "/", &v));
    CHECK(v.f_bsize > 0 && v.f_frsize > 0 && v.f_blocks > 0 && v.f_bfree <= v.f_blocks && v.f_bavail <= v.f_bfree &&
              v.f_ffree <= v.f_files && v.f_namemax >= 255,
          "glfs_statvfs fields are sane", "bsize %lu frsize %lu blocks %llu bfree %llu bavail %llu files %llu ffree %llu namemax %lu",
          v.f_bsize, v.f_frsize, (unsigned long long)v.f_blocks, (unsigned long long)v.f_bfree,
          (unsigned long long)v.f_bavail, (unsigned long long)v.f_files, (unsigned long long)v.f_ffree, v.f_namemax);
    EXPECT_ZERO("glfs_statvfs on a file path -> 0", glfs_statvfs(fs, P("st"), &v));
    EXPECT_FAIL("glfs_statvfs on a missing path -> ENOENT", ENOENT, glfs_statvfs(fs, P("missing"), &v));
}

/* --- namespace: mkdir rmdir unlink rename link symlink readlink mknod -------------------------- */

static void test_namespace(glfs_t *fs)
{
    section("glfs_mkdir / rmdir / unlink / rename / link / symlink / readlink / mknod");
    struct stat st;
    EXPECT_ZERO("glfs_mkdir -> 0", glfs_mkdir(fs, P("ns"), 0750));
    int r = glfs_stat(fs, P("ns"), &st);
    CHECK(r == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750, "glfs_mkdir: directory with mode 0750",
          "stat %d mode %o", r, (unsigned)st.st_mode);
    EXPECT_FAIL("glfs_mkdir on an existing name -> EEXIST", EEXIST, glfs_mkdir(fs, P("ns"), 0755));
    EXPECT_FAIL("glfs_mkdir with a missing parent -> ENOENT", ENOENT, glfs_mkdir(fs, P("nodir/x"), 0755));
    put_file(fs, P("ns/f"), "hello", 5);
    EXPECT_FAIL("glfs_rmdir on a non-empty directory -> ENOTEMPTY", ENOTEMPTY, glfs_rmdir(fs, P("ns")));
    EXPECT_FAIL("glfs_rmdir on a file -> ENOTDIR", ENOTDIR, glfs_rmdir(fs, P("ns/f")));
    EXPECT_FAIL("glfs_rmdir on a missing path -> ENOENT", ENOENT, glfs_rmdir(fs, P("missing")));
    EXPECT_FAIL("glfs_unlink on a missing path -> ENOENT", ENOENT, glfs_unlink(fs, P("missing")));
    EXPECT_FAIL("glfs_unlink on a directory -> EISDIR", EISDIR, glfs_unlink(fs, P("ns")));

    /* rename */
    EXPECT_ZERO("glfs_rename file -> new name", glfs_rename(fs, P("ns/f"), P("ns/g")));
    char back[16] = {0};
    EXPECT_FAIL("after rename the old name is gone (ENOENT)", ENOENT, glfs_stat(fs, P("ns/f"), &st));
    CHECK(get_file(fs, P("ns/g"), back, sizeof back) == 5 && memcmp(back, "hello", 5) == 0,
          "after rename the new name has the content", "content \"%s\"", back);
    put_file(fs, P("ns/h"), "other!", 6);
    EXPECT_ZERO("glfs_rename over an existing file replaces it", glfs_rename(fs, P("ns/g"), P("ns/h")));
    memset(back, 0, sizeof back);
    CHECK(get_file(fs, P("ns/h"), back, sizeof back) == 5 && memcmp(back, "hello", 5) == 0,
          "the replaced file has the renamed content", "content \"%s\"", back);
    EXPECT_FAIL("glfs_rename of a missing path -> ENOENT", ENOENT, glfs_rename(fs, P("ns/nope"), P("ns/x")));
    glfs_mkdir(fs, P("ns/d1"), 0755);
    glfs_mkdir(fs, P("ns/d2"), 0755);
    put_file(fs, P("ns/d2/inside"), "x", 1);
    EXPECT_FAIL2("glfs_rename a directory onto a non-empty directory -> ENOTEMPTY/EEXIST", ENOTEMPTY, EEXIST,
                 glfs_rename(fs, P("ns/d1"), P("ns/d2")));
    EXPECT_FAIL("glfs_rename a file onto a directory -> EISDIR", EISDIR, glfs_rename(fs, P("ns/h"), P("ns/d1")));
    EXPECT_ZERO("glfs_rename a directory to a new name", glfs_rename(fs, P("ns/d1"), P("ns/d3")));
    put_file(fs, P("ns/mover"), "m", 1);
    EXPECT_ZERO("glfs_rename a file into another directory", glfs_rename(fs, P("ns/mover"), P("ns/d3/moved")));
    EXPECT_VALUE("the moved file is there (size 1)", 1, size_of(fs, P("ns/d3/moved")));
    glfs_unlink(fs, P("ns/d3/moved"));

    /* names of 255 bytes work, 256 is ENAMETOOLONG (the path is built here: nm() buffers are too short) */
    char longname[300], longpath[PATH_MAX];
    memset(longname, 'n', 255);
    longname[255] = 0;
    snprintf(longpath, sizeof longpath, "%s/ns/%s", g_root, longname);
    step("255-byte name");
    glfs_fd_t *lf = glfs_creat(fs, longpath, O_RDWR, 0644);
    CHECK(lf != NULL, "glfs_creat with a 255-byte name", "errno %s", errname(errno));
    if (lf)
        glfs_close(lf);
    EXPECT_ZERO("glfs_unlink the 255-byte name", glfs_unlink(fs, longpath));
    memset(longname, 'n', 256);
    longname[256] = 0;
    snprintf(longpath, sizeof longpath, "%s/ns/%s", g_root, longname);
    EXPECT_NULL("glfs_creat with a 256-byte name -> ENAMETOOLONG", ENAMETOOLONG, glfs_creat(fs, longpath, O_RDWR, 0644));
    EXPECT_FAIL("glfs_stat with a 256-byte name -> ENAMETOOLONG", ENAMETOOLONG, glfs_stat(fs, longpath, &st));
    r = glfs_stat(fs, P("ns/d3"), &st);
    CHECK(r == 0 && S_ISDIR(st.st_mode), "the renamed directory exists under its new name", "stat %d", r);

    /* link */
    EXPECT_ZERO("glfs_link -> 0", glfs_link(fs, P("ns/h"), P("ns/h2")));
    struct stat s1, s2;
    glfs_stat(fs, P("ns/h"), &s1);
    glfs_stat(fs, P("ns/h2"), &s2);
    CHECK(s1.st_ino == s2.st_ino && s1.st_nlink == 2, "glfs_link: same inode, nlink 2", "ino %llu/%llu nlink %lu",
          (unsigned long long)s1.st_ino, (unsigned long long)s2.st_ino, (unsigned long)s1.st_nlink);
    EXPECT_FAIL("glfs_link onto an existing name -> EEXIST", EEXIST, glfs_link(fs, P("ns/h"), P("ns/h2")));
    EXPECT_FAIL("glfs_link of a missing file -> ENOENT", ENOENT, glfs_link(fs, P("ns/none"), P("ns/h3")));
    EXPECT_ZERO("glfs_unlink one of two links", glfs_unlink(fs, P("ns/h2")));
    glfs_stat(fs, P("ns/h"), &s1);
    CHECK(s1.st_nlink == 1, "after unlink the other link has nlink 1", "nlink %lu", (unsigned long)s1.st_nlink);

    /* symlink + readlink */
    const char *target = "some/relative/target";
    size_t tlen = strlen(target);
    EXPECT_ZERO("glfs_symlink -> 0", glfs_symlink(fs, target, P("ns/sl")));
    char buf[256];
    memset(buf, 'X', sizeof buf);
    EXPECT_VALUE("glfs_readlink returns the text length", (long long)tlen,
                 glfs_readlink(fs, P("ns/sl"), buf, sizeof buf));
    CHECK(memcmp(buf, target, tlen) == 0, "glfs_readlink text is exact", "got \"%.*s\"", (int)tlen, buf);
    memset(buf, 'X', sizeof buf);
    EXPECT_VALUE("glfs_readlink into a 4-byte buffer truncates to 4", 4, glfs_readlink(fs, P("ns/sl"), buf, 4));
    CHECK(memcmp(buf, target, 4) == 0 && buf[4] == 'X', "glfs_readlink truncation copies 4 bytes only",
          "got \"%.6s\"", buf);
    EXPECT_FAIL("glfs_symlink onto an existing name -> EEXIST", EEXIST, glfs_symlink(fs, "x", P("ns/sl")));
    EXPECT_FAIL("glfs_readlink on a regular file -> EINVAL", EINVAL, glfs_readlink(fs, P("ns/h"), buf, sizeof buf));
    EXPECT_FAIL("glfs_readlink on a missing path -> ENOENT", ENOENT, glfs_readlink(fs, P("ns/none"), buf, sizeof buf));
    EXPECT_ZERO("glfs_unlink a dangling symlink", glfs_unlink(fs, P("ns/sl")));

    /* mknod */
    EXPECT_ZERO("glfs_mknod(S_IFIFO) -> 0", glfs_mknod(fs, P("ns/fifo"), S_IFIFO | 0640, 0));
    r = glfs_lstat(fs, P("ns/fifo"), &st);
    CHECK(r == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640, "glfs_mknod made a FIFO with mode 0640",
          "stat %d mode %o", r, (unsigned)st.st_mode);
    EXPECT_FAIL("glfs_mknod on an existing name -> EEXIST", EEXIST, glfs_mknod(fs, P("ns/fifo"), S_IFIFO | 0640, 0));
    EXPECT_NULL("glfs_creat on an existing FIFO -> EINVAL", EINVAL, glfs_creat(fs, P("ns/fifo"), O_RDWR, 0644));
    /* device nodes: made by root with their number; stat shows it; the library opens only regular files and
     * directories, as GlusterFS's does, so opening one is EINVAL as for a FIFO (the brick would say ENXIO) */
    EXPECT_ZERO("glfs_mknod(S_IFCHR 1,3) -> 0", glfs_mknod(fs, P("ns/null"), S_IFCHR | 0666, makedev(1, 3)));
    r = glfs_lstat(fs, P("ns/null"), &st);
    CHECK(r == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) && (st.st_mode & 0777) == 0666,
          "glfs_mknod made a character device 1,3", "stat %d mode %o rdev %lx", r, (unsigned)st.st_mode,
          (unsigned long)st.st_rdev);
    EXPECT_ZERO("glfs_mknod(S_IFBLK 7,200) -> 0", glfs_mknod(fs, P("ns/loop"), S_IFBLK | 0600, makedev(7, 200)));
    r = glfs_lstat(fs, P("ns/loop"), &st);
    CHECK(r == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(7, 200), "glfs_mknod made a block device 7,200",
          "stat %d mode %o rdev %lx", r, (unsigned)st.st_mode, (unsigned long)st.st_rdev);
    EXPECT_NULL("glfs_open of a device node -> EINVAL", EINVAL, glfs_open(fs, P("ns/null"), O_RDONLY));
    EXPECT_ZERO("glfs_unlink a character device", glfs_unlink(fs, P("ns/null")));
    EXPECT_ZERO("glfs_unlink a block device", glfs_unlink(fs, P("ns/loop")));

    /* remove everything */
    EXPECT_ZERO("glfs_unlink a FIFO", glfs_unlink(fs, P("ns/fifo")));
    EXPECT_ZERO("glfs_unlink a file", glfs_unlink(fs, P("ns/h")));
    EXPECT_ZERO("glfs_unlink inside d2", glfs_unlink(fs, P("ns/d2/inside")));
    EXPECT_ZERO("glfs_rmdir an empty directory", glfs_rmdir(fs, P("ns/d2")));
    glfs_rmdir(fs, P("ns/d3"));
    EXPECT_ZERO("glfs_rmdir the emptied parent", glfs_rmdir(fs, P("ns")));
    EXPECT_FAIL("the removed directory is gone (ENOENT)", ENOENT, glfs_stat(fs, P("ns"), &st));
}

/* --- directories: opendir readdir(_r) readdirplus(_r) telldir seekdir closedir ----------------- */

#define NFILES 20

/* Reads a whole directory with readdir_r; names go to out (strdup'ed); returns count or -1. */
static int list_dir(glfs_fd_t *d, char **out, int cap)
{
    union {
        struct dirent d;
        char pad[512];
    } ent;
    struct dirent *res = NULL;
    int n = 0;
    for (;;) {
        if (glfs_readdir_r(d, &ent.d, &res) != 0)
            return -1;
        if (!res)
            return n;
        if (n < cap)
            out[n] = strdup(res->d_name);
        n++;
    }
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
}

/* Checks a listing: each fNN exactly once, "sub" once, "." and ".." once, nothing else. */
static bool listing_complete(char **names, int n, char *why, size_t whylen)
{
    int seen[NFILES + 3] = {0}; /* files, sub, ".", ".." */
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        int idx = -1;
        if (s[0] == 'f' && strlen(s) == 3)
            idx = atoi(s + 1);
        else if (!strcmp(s, "sub"))
            idx = NFILES;
        else if (!strcmp(s, "."))
            idx = NFILES + 1;
        else if (!strcmp(s, ".."))
            idx = NFILES + 2;
        if (idx < 0 || idx > NFILES + 2) {
            snprintf(why, whylen, "unexpected entry \"%s\"", s);
            return false;
        }
        seen[idx]++;
    }
    for (int i = 0; i < NFILES + 3; i++)
        if (seen[i] != 1) {
            snprintf(why, whylen, "entry #%d seen %d times (of %d entries)", i, seen[i], n);
            return false;
        }
    return true;
}

/* A directory larger than one listing page: every entry once, and telldir/seekdir in the middle. */
static void test_big_directory(glfs_t *fs)
{
    enum { BIG = 300 };
    glfs_mkdir(fs, P("big"), 0755);
    step("create 300 files");
    int made = 0;
    for (int i = 0; i < BIG; i++) {
        glfs_fd_t *fd = glfs_creat(fs, P(nm("big/e%03d", i)), O_RDWR, 0644);
        if (fd) {
            made++;
            glfs_close(fd);
        }
    }
    CHECK(made == BIG, "300 files created in one directory", "%d created", made);
    step("list the 300-entry directory");
    glfs_fd_t *d = glfs_opendir(fs, P("big"));
    if (!CHECK(d != NULL, "glfs_opendir(big)", "errno %s", errname(errno)))
        return;
    static char *names[BIG + 10];
    static int seen[BIG];
    memset(seen, 0, sizeof seen);
    union {
        struct dirent d;
        char pad[512];
    } ent;
    struct dirent *res = NULL;
    int n = 0, other = 0;
    long mark = -1;
    int mark_at = -1;
    while (n < BIG + 10 && glfs_readdir_r(d, &ent.d, &res) == 0 && res) {
        names[n++] = strdup(res->d_name);
        if (res->d_name[0] == 'e')
            seen[atoi(res->d_name + 1) % BIG]++;
        else if (strcmp(res->d_name, ".") && strcmp(res->d_name, ".."))
            other++;
        if (n == 150) {
            mark = glfs_telldir(d);
            mark_at = n;
        }
    }
    int once = 0;
    for (int i = 0; i < BIG; i++)
        once += seen[i] == 1;
    CHECK(once == BIG && other == 0 && n == BIG + 2, "all 300 entries listed exactly once (+ . and ..)",
          "%d listed once, %d other names, %d entries in total", once, other, n);
    /* back to the mark taken after entry 150: the same remaining sequence again */
    bool same = mark_at > 0;
    int again = 0;
    if (same) {
        glfs_seekdir(d, mark);
        while (glfs_readdir_r(d, &ent.d, &res) == 0 && res) {
            int idx = mark_at + again;
            if (idx >= n || strcmp(names[idx], res->d_name) != 0)
                same = false;
            again++;
        }
    }
    CHECK(same && again == n - mark_at, "glfs_seekdir to a mark after entry 150 replays the remaining entries in order",
          "replayed %d entries (expected %d), sequence %s", again, n - mark_at, same ? "same" : "different");
    for (int i = 0; i < n; i++)
        free(names[i]);
    glfs_closedir(d);
}

static void test_directories(glfs_t *fs)
{
    section("glfs_opendir / readdir_r / readdirplus_r / readdir / readdirplus / telldir / seekdir / closedir");
    glfs_mkdir(fs, P("dir"), 0755);
    static char data[64];
    fill_pattern(data, sizeof data, 6);
    for (int i = 0; i < NFILES; i++)
        put_file(fs, P(nm("dir/f%02d", i)), data, (size_t)i * 3);
    glfs_mkdir(fs, P("dir/sub"), 0755);
    const int total = NFILES + 3;
    char why[200] = "";

    /* readdir_r: complete listing, d_type */
    step("glfs_opendir");
    glfs_fd_t *d = glfs_opendir(fs, P("dir"));
    if (!CHECK(d != NULL, "glfs_opendir -> fd", "errno %s", errname(errno)))
        return;
    union {
        struct dirent d;
        char pad[512];
    } ent;
    struct dirent *res = NULL;
    char *names[64];
    int n = 0, bad_type = 0;
    while (glfs_readdir_r(d, &ent.d, &res) == 0 && res && n < 64) {
        names[n++] = strdup(res->d_name);
        bool is_file = res->d_name[0] == 'f';
        bool is_dir = !strcmp(res->d_name, "sub") || res->d_name[0] == '.';
        if ((is_file && res->d_type != DT_REG) || (is_dir && res->d_type != DT_DIR))
            bad_type++;
    }
    CHECK(res == NULL, "glfs_readdir_r ends with *result == NULL", "loop stopped early at %d entries", n);
    CHECK(listing_complete(names, n, why, sizeof why), "glfs_readdir_r lists every entry exactly once (incl. . and ..)",
          "%s", why);
    CHECK(bad_type == 0, "glfs_readdir_r d_type is DT_REG for files and DT_DIR for directories",
          "%d entries with a wrong d_type", bad_type);
    free_names(names, n);
    EXPECT_ZERO("glfs_closedir -> 0", glfs_closedir(d));

    /* readdirplus_r: stats */
    step("glfs_readdirplus_r");
    d = glfs_opendir(fs, P("dir"));
    if (d) {
        struct stat st;
        int seen = 0, wrong = 0;
        while (glfs_readdirplus_r(d, &st, &ent.d, &res) == 0 && res) {
            seen++;
            if (res->d_name[0] == 'f') {
                int i = atoi(res->d_name + 1);
                if (!S_ISREG(st.st_mode) || st.st_size != i * 3)
                    wrong++;
            } else if (!strcmp(res->d_name, "sub") && !S_ISDIR(st.st_mode)) {
                wrong++;
            }
        }
        CHECK(seen == total && wrong == 0, "glfs_readdirplus_r returns every entry with its stat (sizes, types)",
              "%d entries, %d with a wrong stat", seen, wrong);
        glfs_closedir(d);
    } else {
        CHECK(false, "glfs_opendir for readdirplus_r", "errno %s", errname(errno));
    }

    /* readdir / readdirplus (library-owned buffers) */
    step("glfs_readdir");
    d = glfs_opendir(fs, P("dir"));
    if (d) {
        n = 0;
        struct dirent *e;
        errno = 0;
        while ((e = glfs_readdir(d)) != NULL && n < 64)
            names[n++] = strdup(e->d_name);
        int e_end = errno;
        CHECK(listing_complete(names, n, why, sizeof why), "glfs_readdir lists every entry exactly once", "%s", why);
        CHECK(e_end == 0, "glfs_readdir ends with NULL and errno unchanged", "errno %s", errname(e_end));
        free_names(names, n);
        glfs_closedir(d);
    }
    step("glfs_readdirplus");
    d = glfs_opendir(fs, P("dir"));
    if (d) {
        n = 0;
        int wrong = 0;
        struct stat st;
        struct dirent *e;
        while ((e = glfs_readdirplus(d, &st)) != NULL && n < 64) {
            names[n++] = strdup(e->d_name);
            if (e->d_name[0] == 'f' && st.st_size != atoi(e->d_name + 1) * 3)
                wrong++;
        }
        CHECK(listing_complete(names, n, why, sizeof why) && wrong == 0,
              "glfs_readdirplus lists every entry with its stat", "%s; %d wrong sizes", why, wrong);
        free_names(names, n);
        glfs_closedir(d);
    }

    /* telldir / seekdir */
    step("glfs_telldir / glfs_seekdir");
    d = glfs_opendir(fs, P("dir"));
    if (d) {
        long start = glfs_telldir(d);
        char *head[5];
        int k = 0;
        while (k < 5 && glfs_readdir_r(d, &ent.d, &res) == 0 && res)
            head[k++] = strdup(res->d_name);
        long mark = glfs_telldir(d);
        char *rest[64];
        int nrest = list_dir(d, rest, 64);
        CHECK(k == 5 && nrest == total - 5, "telldir after 5 entries, then the remaining entries",
              "read %d then %d (expected 5 then %d)", k, nrest, total - 5);
        glfs_seekdir(d, mark);
        char *again[64];
        int nagain = list_dir(d, again, 64);
        bool same = nagain == nrest;
        for (int i = 0; same && i < nrest && i < 64; i++)
            same = !strcmp(rest[i], again[i]);
        CHECK(same, "glfs_seekdir(telldir mark) resumes at the entry after the mark",
              "after seekdir read %d entries (%s first) vs %d (%s first)", nagain, nagain > 0 ? again[0] : "-",
              nrest, nrest > 0 ? rest[0] : "-");
        glfs_seekdir(d, start);
        char *all[64];
        int nall = list_dir(d, all, 64);
        bool first_same = nall == total && k > 0 && !strcmp(all[0], head[0]);
        CHECK(first_same, "glfs_seekdir(start) rewinds to the first entry", "read %d entries, first %s (was %s)",
              nall, nall > 0 ? all[0] : "-", k > 0 ? head[0] : "-");
        free_names(head, k);
        free_names(rest, nrest < 64 ? nrest : 64);
        free_names(again, nagain < 64 ? nagain : 64);
        free_names(all, nall < 64 ? nall : 64);
        glfs_closedir(d);
    }

    /* errors */
    EXPECT_NULL("glfs_opendir on a file -> ENOTDIR", ENOTDIR, glfs_opendir(fs, P("dir/f01")));
    EXPECT_NULL("glfs_opendir on a missing path -> ENOENT", ENOENT, glfs_opendir(fs, P("dir/none")));
    EXPECT_FAIL("glfs_closedir(NULL) -> -1/EBADF", EBADF, glfs_closedir(NULL));
    EXPECT_FAIL("glfs_telldir(NULL) -> -1/EBADF", EBADF, glfs_telldir(NULL));
    step("glfs_readdir_r(NULL)");
    errno = 0;
    int rr = glfs_readdir_r(NULL, &ent.d, &res);
    CHECK(rr != 0, "glfs_readdir_r(NULL) fails", "returned %d", rr);
    EXPECT_NULL("glfs_readdir(NULL) -> NULL/EBADF", EBADF, glfs_readdir(NULL));

    test_big_directory(fs);
}

/* --- attributes: chmod chown utimens setattr --------------------------------------------------- */

static bool same_time(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

static void test_attributes(glfs_t *fs)
{
    section("glfs_chmod / fchmod / chown / lchown / fchown / utimens / lutimens / futimens / setattr / fsetattr");
    struct stat st, lst;
    put_file(fs, P("attr"), "attr", 4);
    glfs_symlink(fs, "attr", P("attr-link"));

    EXPECT_ZERO("glfs_chmod 0754 -> 0", glfs_chmod(fs, P("attr"), 0754));
    glfs_stat(fs, P("attr"), &st);
    CHECK((st.st_mode & 07777) == 0754, "glfs_chmod took effect", "mode %o", (unsigned)st.st_mode);
    EXPECT_FAIL("glfs_chmod on a missing path -> ENOENT", ENOENT, glfs_chmod(fs, P("none"), 0644));

    EXPECT_ZERO("glfs_chown 1234:5678 -> 0", glfs_chown(fs, P("attr"), 1234, 5678));
    glfs_stat(fs, P("attr"), &st);
    CHECK(st.st_uid == 1234 && st.st_gid == 5678, "glfs_chown took effect", "uid %u gid %u", st.st_uid, st.st_gid);
    EXPECT_ZERO("glfs_chown(-1, 4321) changes only the group", glfs_chown(fs, P("attr"), (uid_t)-1, 4321));
    glfs_stat(fs, P("attr"), &st);
    CHECK(st.st_uid == 1234 && st.st_gid == 4321, "glfs_chown with uid -1 keeps the owner", "uid %u gid %u",
          st.st_uid, st.st_gid);
    EXPECT_FAIL("glfs_chown on a missing path -> ENOENT", ENOENT, glfs_chown(fs, P("none"), 1, 1));

    EXPECT_ZERO("glfs_lchown on a symlink -> 0", glfs_lchown(fs, P("attr-link"), 2222, 3333));
    glfs_lstat(fs, P("attr-link"), &lst);
    glfs_stat(fs, P("attr"), &st);
    CHECK(lst.st_uid == 2222 && lst.st_gid == 3333 && st.st_uid == 1234,
          "glfs_lchown changes the link, not its target", "link %u:%u target %u:%u", lst.st_uid, lst.st_gid,
          st.st_uid, st.st_gid);

    struct timespec t[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    EXPECT_ZERO("glfs_utimens -> 0", glfs_utimens(fs, P("attr"), t));
    glfs_stat(fs, P("attr"), &st);
    CHECK(same_time(st.st_atim, t[0]) && same_time(st.st_mtim, t[1]), "glfs_utimens set atime and mtime (ns)",
          "atime %lld.%09ld mtime %lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
          (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec lt[2] = {{1100000000, 5}, {1150000000, 7}};
    EXPECT_ZERO("glfs_lutimens on a symlink -> 0", glfs_lutimens(fs, P("attr-link"), lt));
    glfs_lstat(fs, P("attr-link"), &lst);
    glfs_stat(fs, P("attr"), &st);
    CHECK(same_time(lst.st_mtim, lt[1]) && same_time(st.st_mtim, t[1]),
          "glfs_lutimens changes the link's times, not its target's", "link mtime %lld.%09ld target mtime %lld.%09ld",
          (long long)lst.st_mtim.tv_sec, lst.st_mtim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    EXPECT_FAIL("glfs_utimens on a missing path -> ENOENT", ENOENT, glfs_utimens(fs, P("none"), t));

    step("fd attribute calls");
    glfs_fd_t *fd = glfs_open(fs, P("attr"), O_RDWR);
    if (CHECK(fd != NULL, "glfs_open for fd attribute calls", "errno %s", errname(errno))) {
        EXPECT_ZERO("glfs_fchmod 0600 -> 0", glfs_fchmod(fd, 0600));
        EXPECT_ZERO("glfs_fchown 77:88 -> 0", glfs_fchown(fd, 77, 88));
        struct timespec ft[2] = {{1300000000, 1}, {1400000000, 2}};
        EXPECT_ZERO("glfs_futimens -> 0", glfs_futimens(fd, ft));
        glfs_fstat(fd, &st);
        CHECK((st.st_mode & 07777) == 0600 && st.st_uid == 77 && st.st_gid == 88 && same_time(st.st_mtim, ft[1]) &&
                  same_time(st.st_atim, ft[0]),
              "glfs_fchmod/fchown/futimens took effect", "mode %o uid %u gid %u mtime %lld.%09ld",
              (unsigned)st.st_mode, st.st_uid, st.st_gid, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

        struct glfs_stat gs;
        memset(&gs, 0, sizeof gs);
        gs.glfs_st_mask = GLFS_STAT_MODE;
        gs.glfs_st_mode = 0640;
        EXPECT_ZERO("glfs_fsetattr(MODE 0640) -> 0", glfs_fsetattr(fd, &gs));
        glfs_fstat(fd, &st);
        CHECK((st.st_mode & 07777) == 0640 && st.st_uid == 77, "glfs_fsetattr changed only the mode",
              "mode %o uid %u", (unsigned)st.st_mode, st.st_uid);
        memset(&gs, 0, sizeof gs);
        gs.glfs_st_mask = GLFS_STAT_UID | GLFS_STAT_GID | GLFS_STAT_MTIME;
        gs.glfs_st_uid = 501;
        gs.glfs_st_gid = 502;
        gs.glfs_st_mtime.tv_sec = 1500000000;
        gs.glfs_st_mtime.tv_nsec = 3;
        EXPECT_ZERO("glfs_fsetattr(UID|GID|MTIME) -> 0", glfs_fsetattr(fd, &gs));
        glfs_fstat(fd, &st);
        CHECK(st.st_uid == 501 && st.st_gid == 502 && st.st_mtim.tv_sec == 1500000000 && (st.st_mode & 07777) == 0640 &&
                  same_time(st.st_atim, ft[0]),
              "glfs_fsetattr set owner and mtime, left mode and atime", "uid %u gid %u mtime %lld mode %o atime %lld",
              st.st_uid, st.st_gid, (long long)st.st_mtim.tv_sec, (unsigned)st.st_mode, (long long)st.st_atim.tv_sec);
        glfs_close(fd);
    }
    EXPECT_FAIL("glfs_fchmod(NULL) -> -1/EBADF", EBADF, glfs_fchmod(NULL, 0644));
    EXPECT_FAIL("glfs_fchown(NULL) -> -1/EBADF", EBADF, glfs_fchown(NULL, 0, 0));
    EXPECT_FAIL("glfs_futimens(NULL) -> -1/EBADF", EBADF, glfs_futimens(NULL, t));
    struct glfs_stat gs;
    memset(&gs, 0, sizeof gs);
    gs.glfs_st_mask = GLFS_STAT_MODE;
    gs.glfs_st_mode = 0644;
    EXPECT_FAIL("glfs_fsetattr(NULL) -> -1/EBADF", EBADF, glfs_fsetattr(NULL, &gs));

    /* path setattr, with and without following */
    memset(&gs, 0, sizeof gs);
    gs.glfs_st_mask = GLFS_STAT_MODE | GLFS_STAT_ATIME;
    gs.glfs_st_mode = 0604;
    gs.glfs_st_atime.tv_sec = 1600000000;
    EXPECT_ZERO("glfs_setattr(MODE|ATIME, follow) through the symlink -> 0", glfs_setattr(fs, P("attr-link"), &gs, 1));
    glfs_stat(fs, P("attr"), &st);
    CHECK((st.st_mode & 07777) == 0604 && st.st_atim.tv_sec == 1600000000,
          "glfs_setattr(follow=1) changed the target", "mode %o atime %lld", (unsigned)st.st_mode,
          (long long)st.st_atim.tv_sec);
    memset(&gs, 0, sizeof gs);
    gs.glfs_st_mask = GLFS_STAT_UID;
    gs.glfs_st_uid = 999;
    EXPECT_ZERO("glfs_setattr(UID, follow=0) on the symlink -> 0", glfs_setattr(fs, P("attr-link"), &gs, 0));
    glfs_lstat(fs, P("attr-link"), &lst);
    glfs_stat(fs, P("attr"), &st);
    CHECK(lst.st_uid == 999 && st.st_uid == 501, "glfs_setattr(follow=0) changed the link, not the target",
          "link uid %u target uid %u", lst.st_uid, st.st_uid);
    EXPECT_FAIL("glfs_setattr on a missing path -> ENOENT", ENOENT, glfs_setattr(fs, P("none"), &gs, 1));
}

/* --- extended attributes -------------------------------------------------------------------------- */

/* Does a NUL-separated name list contain name exactly once? */
static int count_in_list(const char *list, ssize_t len, const char *name)
{
    int n = 0;
    for (ssize_t i = 0; i < len;) {
        const char *s = list + i;
        size_t l = strnlen(s, (size_t)(len - i));
        if (l == strlen(name) && !memcmp(s, name, l))
            n++;
        i += (ssize_t)l + 1;
    }
    return n;
}

static void test_xattrs(glfs_t *fs)
{
    section("extended attributes (path, l*, f* variants)");
    put_file(fs, P("xa"), "x", 1);
    glfs_symlink(fs, "xa", P("xa-link"));
    const char *k1 = "user.mortar.test", *k2 = "user.mortar.other";
    const char *v1 = "value-one";
    char buf[256];
    EXPECT_ZERO("glfs_setxattr -> 0", glfs_setxattr(fs, P("xa"), k1, v1, strlen(v1), 0));
    memset(buf, 0, sizeof buf);
    EXPECT_VALUE("glfs_getxattr returns the value length", (long long)strlen(v1),
                 glfs_getxattr(fs, P("xa"), k1, buf, sizeof buf));
    CHECK(!memcmp(buf, v1, strlen(v1)), "glfs_getxattr value is exact", "got \"%s\"", buf);
    EXPECT_VALUE("glfs_getxattr(size 0) returns the needed size", (long long)strlen(v1),
                 glfs_getxattr(fs, P("xa"), k1, NULL, 0));
    EXPECT_FAIL("glfs_getxattr into a small buffer -> ERANGE", ERANGE, glfs_getxattr(fs, P("xa"), k1, buf, 3));
    EXPECT_FAIL("glfs_getxattr of a missing attribute -> ENODATA", ENODATA,
                glfs_getxattr(fs, P("xa"), "user.mortar.none", buf, sizeof buf));
    EXPECT_FAIL("glfs_getxattr on a missing file -> ENOENT", ENOENT, glfs_getxattr(fs, P("none"), k1, buf, sizeof buf));
    EXPECT_FAIL("glfs_setxattr(XATTR_CREATE) on an existing attribute -> EEXIST", EEXIST,
                glfs_setxattr(fs, P("xa"), k1, "z", 1, XATTR_CREATE));
    EXPECT_FAIL("glfs_setxattr(XATTR_REPLACE) on a missing attribute -> ENODATA", ENODATA,
                glfs_setxattr(fs, P("xa"), "user.mortar.none", "z", 1, XATTR_REPLACE));
    EXPECT_ZERO("glfs_setxattr(XATTR_REPLACE) on an existing attribute -> 0",
                glfs_setxattr(fs, P("xa"), k1, "v2", 2, XATTR_REPLACE));
    memset(buf, 0, sizeof buf);
    CHECK(glfs_getxattr(fs, P("xa"), k1, buf, sizeof buf) == 2 && !memcmp(buf, "v2", 2),
          "the replaced value reads back", "got \"%s\"", buf);
    /* through the symlink: getxattr follows, lgetxattr does not */
    memset(buf, 0, sizeof buf);
    EXPECT_VALUE("glfs_getxattr through a symlink follows it", 2, glfs_getxattr(fs, P("xa-link"), k1, buf, sizeof buf));
    EXPECT_FAIL("glfs_lgetxattr on the symlink does not follow (ENODATA)", ENODATA,
                glfs_lgetxattr(fs, P("xa-link"), k1, buf, sizeof buf));
    /* l* variants on a regular file */
    EXPECT_ZERO("glfs_lsetxattr on a regular file -> 0", glfs_lsetxattr(fs, P("xa"), k2, "lval", 4, 0));
    memset(buf, 0, sizeof buf);
    CHECK(glfs_lgetxattr(fs, P("xa"), k2, buf, sizeof buf) == 4 && !memcmp(buf, "lval", 4),
          "glfs_lgetxattr reads the value", "got \"%s\"", buf);

    /* lists */
    char list[1024];
    ssize_t need = glfs_listxattr(fs, P("xa"), NULL, 0);
    ssize_t got = glfs_listxattr(fs, P("xa"), list, sizeof list);
    CHECK(need > 0 && got == need, "glfs_listxattr(size 0) returns the needed size", "need %zd got %zd", need, got);
    CHECK(got > 0 && count_in_list(list, got, k1) == 1 && count_in_list(list, got, k2) == 1,
          "glfs_listxattr lists both user attributes once", "list of %zd bytes", got);
    EXPECT_FAIL("glfs_listxattr into a small buffer -> ERANGE", ERANGE, glfs_listxattr(fs, P("xa"), list, 5));
    got = glfs_llistxattr(fs, P("xa-link"), list, sizeof list);
    CHECK(got >= 0 && count_in_list(list, got, k1) == 0, "glfs_llistxattr on the symlink does not list the target's",
          "returned %zd, errno %s", got, errname(errno));
    got = glfs_llistxattr(fs, P("xa"), list, sizeof list);
    CHECK(got > 0 && count_in_list(list, got, k1) == 1, "glfs_llistxattr on the file lists its attributes",
          "returned %zd", got);
    EXPECT_FAIL("glfs_listxattr on a missing file -> ENOENT", ENOENT, glfs_listxattr(fs, P("none"), list, sizeof list));

    /* removal */
    EXPECT_ZERO("glfs_removexattr -> 0", glfs_removexattr(fs, P("xa"), k1));
    EXPECT_FAIL("after removexattr the attribute is gone (ENODATA)", ENODATA,
                glfs_getxattr(fs, P("xa"), k1, buf, sizeof buf));
    EXPECT_FAIL("glfs_removexattr of a missing attribute -> ENODATA", ENODATA, glfs_removexattr(fs, P("xa"), k1));
    EXPECT_ZERO("glfs_lremovexattr on a regular file -> 0", glfs_lremovexattr(fs, P("xa"), k2));
    EXPECT_FAIL("glfs_lremovexattr of a missing attribute -> ENODATA", ENODATA, glfs_lremovexattr(fs, P("xa"), k2));

    /* fd variants */
    step("fd xattr calls");
    glfs_fd_t *fd = glfs_open(fs, P("xa"), O_RDWR);
    if (CHECK(fd != NULL, "glfs_open for f*xattr", "errno %s", errname(errno))) {
        EXPECT_ZERO("glfs_fsetxattr -> 0", glfs_fsetxattr(fd, k1, "fdval", 5, 0));
        memset(buf, 0, sizeof buf);
        EXPECT_VALUE("glfs_fgetxattr returns 5", 5, glfs_fgetxattr(fd, k1, buf, sizeof buf));
        CHECK(!memcmp(buf, "fdval", 5), "glfs_fgetxattr value is exact", "got \"%s\"", buf);
        memset(buf, 0, sizeof buf);
        CHECK(glfs_getxattr(fs, P("xa"), k1, buf, sizeof buf) == 5 && !memcmp(buf, "fdval", 5),
              "glfs_fsetxattr is visible by path", "got \"%s\"", buf);
        EXPECT_FAIL("glfs_fgetxattr into a small buffer -> ERANGE", ERANGE, glfs_fgetxattr(fd, k1, buf, 2));
        EXPECT_FAIL("glfs_fgetxattr of a missing attribute -> ENODATA", ENODATA, glfs_fgetxattr(fd, k2, buf, sizeof buf));
        EXPECT_FAIL("glfs_fsetxattr(XATTR_CREATE) existing -> EEXIST", EEXIST, glfs_fsetxattr(fd, k1, "a", 1, XATTR_CREATE));
        got = glfs_flistxattr(fd, list, sizeof list);
        CHECK(got > 0 && count_in_list(list, got, k1) == 1, "glfs_flistxattr lists the attribute", "returned %zd", got);
        EXPECT_VALUE("glfs_flistxattr(size 0) returns the needed size", got, glfs_flistxattr(fd, NULL, 0));
        EXPECT_ZERO("glfs_fremovexattr -> 0", glfs_fremovexattr(fd, k1));
        EXPECT_FAIL("glfs_fremovexattr again -> ENODATA", ENODATA, glfs_fremovexattr(fd, k1));
        glfs_close(fd);
    }
    EXPECT_FAIL("glfs_fgetxattr(NULL) -> -1/EBADF", EBADF, glfs_fgetxattr(NULL, k1, buf, sizeof buf));
    EXPECT_FAIL("glfs_fsetxattr(NULL) -> -1/EBADF", EBADF, glfs_fsetxattr(NULL, k1, "a", 1, 0));
    EXPECT_FAIL("glfs_flistxattr(NULL) -> -1/EBADF", EBADF, glfs_flistxattr(NULL, list, sizeof list));
    EXPECT_FAIL("glfs_fremovexattr(NULL) -> -1/EBADF", EBADF, glfs_fremovexattr(NULL, k1));
}

/* --- space: truncate ftruncate fallocate discard zerofill ---------------------------------------- */

static void test_space(glfs_t *fs)
{
    section("glfs_truncate / ftruncate / fallocate / discard / zerofill");
    static char data[192 * KiB], back[192 * KiB];
    fill_pattern(data, sizeof data, 7);
    put_file(fs, P("sp"), data, 1000);

    EXPECT_ZERO("glfs_truncate grow to 5000 -> 0", glfs_truncate(fs, P("sp"), 5000));
    memset(back, 0xEE, 5000);
    ssize_t g = get_file(fs, P("sp"), back, sizeof back);
    CHECK(g == 5000 && !memcmp(back, data, 1000) && is_zero(back + 1000, 4000),
          "glfs_truncate grow: size 5000, old bytes kept, new bytes zero", "read %zd", g);
    EXPECT_ZERO("glfs_truncate shrink to 100 -> 0", glfs_truncate(fs, P("sp"), 100));
    EXPECT_VALUE("glfs_truncate shrink: size 100", 100, size_of(fs, P("sp")));
    EXPECT_FAIL("glfs_truncate on a missing path -> ENOENT", ENOENT, glfs_truncate(fs, P("none"), 10));
    glfs_mkdir(fs, P("spdir"), 0755);
    EXPECT_FAIL("glfs_truncate on a directory -> EISDIR", EISDIR, glfs_truncate(fs, P("spdir"), 10));

    step("glfs_ftruncate");
    glfs_fd_t *fd = glfs_open(fs, P("sp"), O_RDWR);
    if (!CHECK(fd != NULL, "glfs_open(sp)", "errno %s", errname(errno)))
        return;
    struct glfs_stat pre, post;
    memset(&pre, 0, sizeof pre);
    memset(&post, 0, sizeof post);
    EXPECT_ZERO("glfs_ftruncate to 3000 with pre/post stat -> 0", glfs_ftruncate(fd, 3000, &pre, &post));
    stat_claims("glfs_ftruncate prestat", &pre, 100);
    stat_claims("glfs_ftruncate poststat", &post, 3000);
    EXPECT_ZERO("glfs_ftruncate to 0 (NULL stats) -> 0", glfs_ftruncate(fd, 0, NULL, NULL));
    EXPECT_VALUE("glfs_ftruncate: size 0", 0, size_of(fs, P("sp")));
    EXPECT_FAIL("glfs_ftruncate(NULL) -> -1/EBADF", EBADF, glfs_ftruncate(NULL, 0, NULL, NULL));

    /* fallocate */
    struct stat st;
    EXPECT_ZERO("glfs_fallocate(mode 0, 0, 1 MiB) -> 0", glfs_fallocate(fd, 0, 0, MiB));
    glfs_fstat(fd, &st);
    CHECK(st.st_size == MiB && st.st_blocks >= MiB / 512, "glfs_fallocate extends the size and allocates blocks",
          "size %lld blocks %lld", (long long)st.st_size, (long long)st.st_blocks);
    g = glfs_pread(fd, back, 64 * KiB, 512 * KiB, 0, NULL);
    CHECK(g == 64 * KiB && is_zero(back, 64 * KiB), "fallocated space reads back as zeros", "read %zd", g);
    blkcnt_t before = st.st_blocks;
    EXPECT_ZERO("glfs_fallocate(keep_size=1, beyond EOF) -> 0", glfs_fallocate(fd, 1, MiB, MiB));
    glfs_fstat(fd, &st);
    CHECK(st.st_size == MiB, "glfs_fallocate(keep_size) keeps the size", "size %lld", (long long)st.st_size);
    check_or_differs(st.st_blocks > before, "glfs_fallocate(keep_size) beyond EOF adds blocks",
                     "st_blocks is capped at the file size; blocks allocated past EOF are not reported",
                     "blocks %lld (before %lld)", (long long)st.st_blocks, (long long)before);
    EXPECT_FAIL("glfs_fallocate(NULL) -> -1/EBADF", EBADF, glfs_fallocate(NULL, 0, 0, 10));

    /* discard */
    glfs_ftruncate(fd, 0, NULL, NULL);
    CHECK(glfs_pwrite(fd, data, sizeof data, 0, 0, NULL, NULL) == (ssize_t)sizeof data, "192 KiB pattern written",
          "errno %s", errname(errno));
    EXPECT_ZERO("glfs_discard(64 KiB @ 64 KiB) -> 0", glfs_discard(fd, 64 * KiB, 64 * KiB));
    memset(back, 0xEE, sizeof back);
    g = glfs_pread(fd, back, sizeof back, 0, 0, NULL);
    CHECK(g == (ssize_t)sizeof back && !memcmp(back, data, 64 * KiB) && is_zero(back + 64 * KiB, 64 * KiB) &&
              !memcmp(back + 128 * KiB, data + 128 * KiB, 64 * KiB),
          "glfs_discard: the range reads zero, the rest is intact, size unchanged", "read %zd", g);
    EXPECT_FAIL("glfs_discard(NULL) -> -1/EBADF", EBADF, glfs_discard(NULL, 0, 10));

    /* zerofill */
    EXPECT_ZERO("glfs_zerofill(8 KiB @ 4 KiB) -> 0", glfs_zerofill(fd, 4096, 8192));
    memset(back, 0xEE, sizeof back);
    g = glfs_pread(fd, back, sizeof back, 0, 0, NULL);
    CHECK(g == (ssize_t)sizeof back && !memcmp(back, data, 4096) && is_zero(back + 4096, 8192) &&
              !memcmp(back + 12288, data + 12288, 64 * KiB - 12288),
          "glfs_zerofill: the range reads zero, the rest is intact, size unchanged", "read %zd", g);
    EXPECT_FAIL("glfs_zerofill(NULL) -> -1/EBADF", EBADF, glfs_zerofill(NULL, 0, 10));
    glfs_close(fd);
}

/* --- posix locks across two instances --------------------------------------------------------- */

struct lockwait {
    glfs_fd_t *fd;
    int ret, err;
    int64_t done_ms;
    atomic_int finished;
};

static void *lockwait_thread(void *arg)
{
    struct lockwait *lw = arg;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    errno = 0;
    lw->ret = glfs_posix_lock(lw->fd, F_SETLKW, &fl);
    lw->err = errno;
    lw->done_ms = now_ms();
    pthread_mutex_lock(&g_cb_mu);
    atomic_store(&lw->finished, 1);
    pthread_cond_broadcast(&g_cb_cv);
    pthread_mutex_unlock(&g_cb_mu);
    return NULL;
}

static void test_locks(glfs_t *fs, glfs_t *fs2)
{
    section("glfs_posix_lock (second glfs_t as the other party)");
    put_file(fs, P("lk"), "0123456789", 10);
    glfs_fd_t *a = glfs_open(fs, P("lk"), O_RDWR);
    glfs_fd_t *b = glfs_open(fs2, P("lk"), O_RDWR);
    if (!CHECK(a && b, "glfs_open the lock file in both instances", "errno %s", errname(errno))) {
        if (a) glfs_close(a);
        if (b) glfs_close(b);
        return;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    EXPECT_ZERO("A: F_SETLK write lock 0..100 -> 0", glfs_posix_lock(a, F_SETLK, &fl));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
    EXPECT_ZERO("B: F_GETLK -> 0", glfs_posix_lock(b, F_GETLK, &q));
    CHECK(q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 100, "B: F_GETLK reports A's write lock 0..100",
          "l_type %d l_start %lld l_len %lld", q.l_type, (long long)q.l_start, (long long)q.l_len);
    struct flock q2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10};
    EXPECT_ZERO("B: F_GETLK on a free range -> 0", glfs_posix_lock(b, F_GETLK, &q2));
    CHECK(q2.l_type == F_UNLCK, "B: F_GETLK on a free range says F_UNLCK", "l_type %d", q2.l_type);
    struct flock r = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10};
    EXPECT_FAIL2("B: F_SETLK read lock inside A's range -> EAGAIN/EACCES", EAGAIN, EACCES,
                 glfs_posix_lock(b, F_SETLK, &r));
    struct flock r2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 50};
    EXPECT_ZERO("B: F_SETLK on the adjacent free range -> 0", glfs_posix_lock(b, F_SETLK, &r2));
    r2.l_type = F_UNLCK;
    EXPECT_ZERO("B: unlock the adjacent range", glfs_posix_lock(b, F_SETLK, &r2));

    /* F_SETLKW blocks until A unlocks */
    struct lockwait lw = {.fd = b};
    atomic_store(&lw.finished, 0);
    pthread_t th;
    pthread_create(&th, NULL, lockwait_thread, &lw);
    /* Give the waiter a moment to block inside F_SETLKW; the assertions below hold either way. */
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    bool early = atomic_load(&lw.finished);
    int64_t unlock_ms = now_ms();
    fl.l_type = F_UNLCK;
    EXPECT_ZERO("A: unlock -> 0", glfs_posix_lock(a, F_SETLK, &fl));
    step("B: waiting for F_SETLKW");
    bool done = wait_count(&lw.finished, 1, 15000);
    CHECK(done && !early && lw.ret == 0 && lw.done_ms >= unlock_ms, "B: F_SETLKW waits for A's unlock, then gets the lock",
          "finished %d (before unlock: %d), ret %d errno %s", done, early, lw.ret, errname(lw.err));
    if (done)
        pthread_join(th, NULL);
    else
        pthread_detach(th);
    struct flock q3 = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    EXPECT_ZERO("A: F_GETLK -> 0", glfs_posix_lock(a, F_GETLK, &q3));
    CHECK(q3.l_type == F_WRLCK, "A: F_GETLK now sees B's write lock", "l_type %d", q3.l_type);
    EXPECT_FAIL2("A: F_SETLK conflicting -> EAGAIN/EACCES", EAGAIN, EACCES, glfs_posix_lock(a, F_SETLK, &q3));
    fl.l_type = F_UNLCK;
    EXPECT_ZERO("B: unlock -> 0", glfs_posix_lock(b, F_SETLK, &fl));
    q3.l_type = F_WRLCK;
    EXPECT_ZERO("A: F_SETLK after B unlocked -> 0", glfs_posix_lock(a, F_SETLK, &q3));
    EXPECT_ZERO("closing A's fd (drops its locks)", glfs_close(a));
    struct flock q4 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    EXPECT_ZERO("B: F_GETLK after A closed -> 0", glfs_posix_lock(b, F_GETLK, &q4));
    CHECK(q4.l_type == F_UNLCK, "closing an fd releases its locks", "l_type %d", q4.l_type);
    /* Ranges past the largest offset are refused, never computed with overflowing arithmetic. */
    glfs_lseek(b, 4, SEEK_SET);
    struct flock past = {.l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = LLONG_MAX, .l_len = 1};
    EXPECT_FAIL2("B: F_SETLK at position + LLONG_MAX -> EOVERFLOW/EINVAL", EOVERFLOW, EINVAL,
                 glfs_posix_lock(b, F_SETLK, &past));
    struct flock backwards = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = LLONG_MIN};
    EXPECT_FAIL2("B: F_SETLK with l_len LLONG_MIN -> EOVERFLOW/EINVAL", EOVERFLOW, EINVAL,
                 glfs_posix_lock(b, F_SETLK, &backwards));
    EXPECT_FAIL("glfs_posix_lock(NULL) -> -1/EBADF", EBADF, glfs_posix_lock(NULL, F_SETLK, &fl));
    glfs_close(b);
}

/* --- cwd: chdir fchdir getcwd ------------------------------------------------------------------ */

static void test_cwd(glfs_t *fs)
{
    section("glfs_chdir / glfs_fchdir / glfs_getcwd");
    char buf[PATH_MAX];
    glfs_mkdir(fs, P("cwd"), 0755);
    glfs_mkdir(fs, P("cwd/inner"), 0755);
    put_file(fs, P("cwd/inner/file"), "in", 2);

    memset(buf, 0, sizeof buf);
    char *c = glfs_getcwd(fs, buf, sizeof buf);
    CHECK(c == buf && !strcmp(buf, "/"), "glfs_getcwd initially \"/\"", "returned %p \"%s\" errno %s", (void *)c, buf,
          errname(errno));
    EXPECT_ZERO("glfs_chdir(test dir/cwd) -> 0", glfs_chdir(fs, P("cwd")));
    memset(buf, 0, sizeof buf);
    c = glfs_getcwd(fs, buf, sizeof buf);
    CHECK(c == buf && !strcmp(buf, P("cwd")), "glfs_getcwd after chdir", "\"%s\" (expected \"%s\")", buf, P("cwd"));
    struct stat st;
    EXPECT_ZERO("relative path resolves from the new cwd", glfs_stat(fs, "inner/file", &st));
    EXPECT_ZERO("\".\" is the cwd", glfs_lstat(fs, "inner/../inner/file", &st));
    EXPECT_ZERO("glfs_chdir(\"inner\") relative -> 0", glfs_chdir(fs, "inner"));
    memset(buf, 0, sizeof buf);
    glfs_getcwd(fs, buf, sizeof buf);
    CHECK(!strcmp(buf, P("cwd/inner")), "glfs_getcwd after a relative chdir", "\"%s\"", buf);
    EXPECT_ZERO("glfs_chdir(\"..\") -> 0", glfs_chdir(fs, ".."));
    memset(buf, 0, sizeof buf);
    glfs_getcwd(fs, buf, sizeof buf);
    CHECK(!strcmp(buf, P("cwd")), "glfs_getcwd after chdir(\"..\")", "\"%s\"", buf);
    EXPECT_NULL("glfs_getcwd into a too-small buffer -> ERANGE", ERANGE, glfs_getcwd(fs, buf, 4));
    EXPECT_FAIL("glfs_chdir to a file -> ENOTDIR", ENOTDIR, glfs_chdir(fs, P("cwd/inner/file")));
    EXPECT_FAIL("glfs_chdir to a missing path -> ENOENT", ENOENT, glfs_chdir(fs, P("cwd/none")));

    step("glfs_fchdir");
    EXPECT_ZERO("glfs_chdir(\"/\") -> 0", glfs_chdir(fs, "/"));
    glfs_fd_t *d = glfs_opendir(fs, P("cwd/inner"));
    if (CHECK(d != NULL, "glfs_opendir for fchdir", "errno %s", errname(errno))) {
        EXPECT_ZERO("glfs_fchdir -> 0", glfs_fchdir(d));
        memset(buf, 0, sizeof buf);
        glfs_getcwd(fs, buf, sizeof buf);
        CHECK(!strcmp(buf, P("cwd/inner")), "glfs_getcwd after fchdir", "\"%s\"", buf);
        EXPECT_ZERO("relative path after fchdir", glfs_stat(fs, "file", &st));
        glfs_closedir(d);
    }
    EXPECT_FAIL("glfs_fchdir(NULL) -> -1/EBADF", EBADF, glfs_fchdir(NULL));
    EXPECT_ZERO("glfs_chdir back to \"/\"", glfs_chdir(fs, "/"));
    memset(buf, 0, sizeof buf);
    glfs_getcwd(fs, buf, sizeof buf);
    CHECK(!strcmp(buf, "/"), "glfs_getcwd back at \"/\"", "\"%s\"", buf);
}

/* --- realpath / free ------------------------------------------------------------------------- */

static void test_realpath(glfs_t *fs)
{
    section("glfs_realpath / glfs_free");
    glfs_mkdir(fs, P("rp"), 0755);
    glfs_mkdir(fs, P("rp/a"), 0755);
    put_file(fs, P("rp/a/file"), "r", 1);
    glfs_symlink(fs, "a", P("rp/link"));
    char want[PATH_MAX]; /* a copy: P()'s buffers rotate */
    snprintf(want, sizeof want, "%s", P("rp/a/file"));

    step("glfs_realpath(NULL buffer)");
    errno = 0;
    char *r = glfs_realpath(fs, P("rp/a/../a/./file"), NULL);
    CHECK(r != NULL && !strcmp(r, want), "glfs_realpath resolves . and .. (allocated result)", "got \"%s\" errno %s",
          r ? r : "(null)", errname(errno));
    if (r) {
        step("glfs_free(realpath result)"); /* a crash here is reported by the crash handler */
        glfs_free(r);
    }
    /* allocate-and-release many times: a glfs_free that does not match the allocation corrupts the heap and
       glibc aborts (reported by the crash handler) */
    step("glfs_realpath(NULL) + glfs_free, 200 times");
    int right = 0;
    for (int i = 0; i < 200; i++) {
        char *x = glfs_realpath(fs, P("rp/link/../a/file"), NULL);
        if (x && !strcmp(x, want))
            right++;
        glfs_free(x);
    }
    CHECK(right == 200, "glfs_realpath(NULL) + glfs_free 200 times: every result right, heap intact",
          "%d of 200 results right", right);
    char buf[PATH_MAX];
    memset(buf, 0, sizeof buf);
    r = glfs_realpath(fs, P("rp/link/file"), buf);
    CHECK(r == buf && !strcmp(buf, want), "glfs_realpath resolves a symlink into the caller's buffer",
          "returned %p (buffer %p) \"%s\"", (void *)r, (void *)buf, buf);
    EXPECT_NULL("glfs_realpath on a missing path -> ENOENT", ENOENT, glfs_realpath(fs, P("rp/none/x"), buf));
    step("glfs_free(NULL)");
    glfs_free(NULL);
}

/* --- identity: setfsuid setfsgid setfsgroups -------------------------------------------------- */

static void reset_identity(void)
{
    glfs_setfsuid(0);
    glfs_setfsgid(0);
    glfs_setfsgroups(0, NULL);
}

static void test_identity(glfs_t *fs)
{
    section("glfs_setfsuid / glfs_setfsgid / glfs_setfsgroups");
    struct stat st;
    glfs_mkdir(fs, P("pub"), 0777);
    glfs_chmod(fs, P("pub"), 0777);
    put_file(fs, P("pub/rootonly"), "secret", 6);
    glfs_chmod(fs, P("pub/rootonly"), 0600);
    glfs_mkdir(fs, P("grp"), 0770);
    glfs_chmod(fs, P("grp"), 0770);
    glfs_chown(fs, P("grp"), 0, 4545);
    put_file(fs, P("victim"), "v", 1);
    glfs_chmod(fs, P("victim"), 0644);

    EXPECT_ZERO("glfs_setfsuid(4242) -> 0", glfs_setfsuid(4242));
    EXPECT_ZERO("glfs_setfsgid(4343) -> 0", glfs_setfsgid(4343));
    step("glfs_creat as 4242:4343");
    glfs_fd_t *fd = glfs_creat(fs, P("pub/owned"), O_RDWR, 0644);
    int e = errno;
    if (fd)
        glfs_close(fd);
    EXPECT_NULL("as 4242: glfs_open of a root-only 0600 file -> EACCES", EACCES,
                glfs_open(fs, P("pub/rootonly"), O_RDONLY));
    EXPECT_FAIL("as 4242: glfs_access(R_OK) on a root-only 0600 file -> EACCES", EACCES,
                glfs_access(fs, P("pub/rootonly"), R_OK));
    EXPECT_ZERO("as 4242: glfs_access(F_OK) on it -> 0", glfs_access(fs, P("pub/rootonly"), F_OK));
    EXPECT_NULL("as 4242: glfs_open(O_WRONLY) of root's 0644 file -> EACCES", EACCES,
                glfs_open(fs, P("victim"), O_WRONLY));
    EXPECT_FAIL("as 4242: glfs_mkdir in root's 0755 directory -> EACCES", EACCES, glfs_mkdir(fs, P("made-by-4242"), 0755));
    EXPECT_FAIL("as 4242: glfs_chmod of root's file -> EPERM", EPERM, glfs_chmod(fs, P("victim"), 0666));
    EXPECT_FAIL("as 4242: glfs_unlink of root's file in root's 0755 directory -> EACCES", EACCES,
                glfs_unlink(fs, P("victim")));
    EXPECT_NULL("as 4242 without groups: glfs_creat in a root:4545 0770 directory -> EACCES", EACCES,
                glfs_creat(fs, P("grp/a"), O_RDWR, 0644));
    gid_t groups[2] = {4545, 100};
    EXPECT_ZERO("glfs_setfsgroups({4545, 100}) -> 0", glfs_setfsgroups(2, groups));
    step("glfs_creat with supplementary group 4545");
    glfs_fd_t *g = glfs_creat(fs, P("grp/b"), O_RDWR, 0644);
    int eg = errno;
    if (g)
        glfs_close(g);
    EXPECT_ZERO("glfs_setfsgroups(0, NULL) clears the groups", glfs_setfsgroups(0, NULL));
    EXPECT_ZERO("glfs_setfsuid(0) back to root", glfs_setfsuid(0));
    EXPECT_ZERO("glfs_setfsgid(0) back to root", glfs_setfsgid(0));
    reset_identity();

    CHECK(fd != NULL, "as 4242:4343: glfs_creat in a 0777 directory", "errno %s", errname(e));
    int r = glfs_stat(fs, P("pub/owned"), &st);
    CHECK(r == 0 && st.st_uid == 4242 && st.st_gid == 4343, "a file created under setfsuid/setfsgid is owned by 4242:4343",
          "stat %d uid %u gid %u", r, st.st_uid, st.st_gid);
    CHECK(g != NULL, "with supplementary group 4545: glfs_creat in the 0770 group directory succeeds", "errno %s",
          errname(eg));
    put_file(fs, P("after-reset"), "x", 1);
    r = glfs_stat(fs, P("after-reset"), &st);
    CHECK(r == 0 && st.st_uid == 0 && st.st_gid == 0, "after resetting to 0 new files are owned by root again",
          "uid %u gid %u", st.st_uid, st.st_gid);
}

/* --- volume id / second instance --------------------------------------------------------------- */

static void test_volumeid(glfs_t *fs, glfs_t *fs2)
{
    section("glfs_get_volumeid");
    char id[64], id2[64];
    memset(id, 0, sizeof id);
    memset(id2, 0, sizeof id2);
    EXPECT_VALUE("glfs_get_volumeid(NULL, 0) returns the id length 16", 16, glfs_get_volumeid(fs, NULL, 0));
    EXPECT_VALUE("glfs_get_volumeid(buf, 64) -> 16", 16, glfs_get_volumeid(fs, id, sizeof id));
    CHECK(!is_zero(id, 16), "the volume id is not all zero", "id is zero");
    EXPECT_VALUE("glfs_get_volumeid from a second glfs_t -> 16", 16, glfs_get_volumeid(fs2, id2, sizeof id2));
    CHECK(!memcmp(id, id2, 16), "both instances report the same volume id", "ids differ");
    EXPECT_FAIL("glfs_get_volumeid into 8 bytes -> ERANGE", ERANGE, glfs_get_volumeid(fs, id, 8));
}

/* --- async calls ------------------------------------------------------------------------------- */

static struct op aops[64];
static int aop_next;
static int s_ret, s_err; /* result and errno of the last SUBMIT */

static struct op *new_op(void)
{
    struct op *op = &aops[aop_next++ % 64];
    op_reset(op);
    return op;
}

/* Runs an async submission, keeping its return value and errno. */
#define SUBMIT(call)                                                                                \
    do {                                                                                            \
        errno = 0;                                                                                  \
        s_ret = (call);                                                                             \
        s_err = errno;                                                                              \
    } while (0)

enum { ASYNC_N = 128 * KiB };
static char adata[ASYNC_N], aback[ASYNC_N];

static void async_read_write(glfs_fd_t *fd)
{
    struct op *op = new_op();
    step("glfs_pwrite_async");
    SUBMIT(glfs_pwrite_async(fd, adata, ASYNC_N, 0, 0, on_done, op));
    async_completed("glfs_pwrite_async", op, s_ret, s_err, fd, ASYNC_N);
    op = new_op();
    memset(aback, 0, ASYNC_N);
    step("glfs_pread_async");
    SUBMIT(glfs_pread_async(fd, aback, ASYNC_N, 0, 0, on_done, op));
    if (async_completed("glfs_pread_async", op, s_ret, s_err, fd, ASYNC_N))
        CHECK(!memcmp(aback, adata, ASYNC_N), "glfs_pread_async data is byte-exact", "first difference at %ld",
              first_diff(aback, adata, ASYNC_N));

    /* the offset-based pair uses and advances the fd offset */
    glfs_lseek(fd, 4096, SEEK_SET);
    op = new_op();
    step("glfs_write_async");
    SUBMIT(glfs_write_async(fd, adata + 100, 1000, 0, on_done, op));
    async_completed("glfs_write_async", op, s_ret, s_err, fd, 1000);
    EXPECT_VALUE("glfs_write_async advanced the offset to 5096", 5096, glfs_lseek(fd, 0, SEEK_CUR));
    glfs_lseek(fd, 4096, SEEK_SET);
    op = new_op();
    memset(aback, 0, ASYNC_N);
    step("glfs_read_async");
    SUBMIT(glfs_read_async(fd, aback, 1000, 0, on_done, op));
    if (async_completed("glfs_read_async", op, s_ret, s_err, fd, 1000))
        CHECK(!memcmp(aback, adata + 100, 1000), "glfs_read_async data is byte-exact", "mismatch");
    EXPECT_VALUE("glfs_read_async advanced the offset to 5096", 5096, glfs_lseek(fd, 0, SEEK_CUR));
}

static void async_vectors(glfs_fd_t *fd)
{
    struct iovec wv[3] = {{adata, 100}, {adata + 100, 5000}, {adata + 5100, 900}};
    glfs_lseek(fd, 10000, SEEK_SET);
    struct op *op = new_op();
    step("glfs_writev_async");
    SUBMIT(glfs_writev_async(fd, wv, 3, 0, on_done, op));
    async_completed("glfs_writev_async", op, s_ret, s_err, fd, 6000);
    static char v1[1000], v2[5000];
    struct iovec rv[2] = {{v1, sizeof v1}, {v2, sizeof v2}};
    glfs_lseek(fd, 10000, SEEK_SET);
    op = new_op();
    step("glfs_readv_async");
    SUBMIT(glfs_readv_async(fd, rv, 2, 0, on_done, op));
    if (async_completed("glfs_readv_async", op, s_ret, s_err, fd, 6000))
        CHECK(!memcmp(v1, adata, 1000) && !memcmp(v2, adata + 1000, 5000), "glfs_readv_async scatters byte-exactly",
              "mismatch");
    struct iovec pwv[2] = {{adata + 20000, 3000}, {adata + 23000, 5000}};
    op = new_op();
    step("glfs_pwritev_async");
    SUBMIT(glfs_pwritev_async(fd, pwv, 2, 65536, 0, on_done, op));
    async_completed("glfs_pwritev_async", op, s_ret, s_err, fd, 8000);
    static char p1[4000], p2[4000];
    struct iovec prv[2] = {{p1, sizeof p1}, {p2, sizeof p2}};
    op = new_op();
    step("glfs_preadv_async");
    SUBMIT(glfs_preadv_async(fd, prv, 2, 65536, 0, on_done, op));
    if (async_completed("glfs_preadv_async", op, s_ret, s_err, fd, 8000))
        CHECK(!memcmp(p1, adata + 20000, 4000) && !memcmp(p2, adata + 24000, 4000),
              "glfs_preadv_async scatters byte-exactly", "mismatch");
}

/* syncs, discard, zerofill, ftruncate: ret 0 */
static void async_syncs_and_space(glfs_t *fs, glfs_fd_t *fd)
{
    struct op *op = new_op();
    step("glfs_fsync_async");
    SUBMIT(glfs_fsync_async(fd, on_done, op));
    async_completed("glfs_fsync_async", op, s_ret, s_err, fd, 0);
    op = new_op();
    step("glfs_fdatasync_async");
    SUBMIT(glfs_fdatasync_async(fd, on_done, op));
    async_completed("glfs_fdatasync_async", op, s_ret, s_err, fd, 0);

    op = new_op();
    step("glfs_discard_async");
    SUBMIT(glfs_discard_async(fd, 0, 4096, on_done, op));
    if (async_completed("glfs_discard_async", op, s_ret, s_err, fd, 0)) {
        memset(aback, 0xEE, 8192);
        ssize_t g = glfs_pread(fd, aback, 8192, 0, 0, NULL);
        CHECK(g == 8192 && is_zero(aback, 4096) && !memcmp(aback + 4096, adata + 100, 1000),
              "glfs_discard_async zeroed its range only", "read %zd", g);
    }
    op = new_op();
    step("glfs_zerofill_async");
    SUBMIT(glfs_zerofill_async(fd, 65536, 4096, on_done, op));
    if (async_completed("glfs_zerofill_async", op, s_ret, s_err, fd, 0)) {
        memset(aback, 0xEE, 8000);
        ssize_t g = glfs_pread(fd, aback, 8000, 65536, 0, NULL);
        CHECK(g == 8000 && is_zero(aback, 4096) && !memcmp(aback + 4096, adata + 24096, 3904),
              "glfs_zerofill_async zeroed its range only", "read %zd", g);
    }
    op = new_op();
    step("glfs_ftruncate_async");
    SUBMIT(glfs_ftruncate_async(fd, 3000, on_done, op));
    if (async_completed("glfs_ftruncate_async", op, s_ret, s_err, fd, 0))
        EXPECT_VALUE("glfs_ftruncate_async set the size to 3000", 3000, size_of(fs, P("async")));
}

/* NULL fd: -1/EBADF and never a callback (checked once more at the very end) */
static void async_null_fds(void)
{
    static char tmp[16];
    struct iovec tv[1] = {{tmp, sizeof tmp}};
    struct op *op;
    step("async calls with a NULL fd");
#define NULL_FD(name, call)                                                                         \
    do {                                                                                            \
        op = new_op();                                                                              \
        SUBMIT(call);                                                                               \
        async_null_fd(name "(NULL) -> -1/EBADF, no callback", op, s_ret, s_err);                    \
    } while (0)
    NULL_FD("glfs_read_async", glfs_read_async(NULL, tmp, 1, 0, on_done, op));
    NULL_FD("glfs_write_async", glfs_write_async(NULL, tmp, 1, 0, on_done, op));
    NULL_FD("glfs_readv_async", glfs_readv_async(NULL, tv, 1, 0, on_done, op));
    NULL_FD("glfs_writev_async", glfs_writev_async(NULL, tv, 1, 0, on_done, op));
    NULL_FD("glfs_pread_async", glfs_pread_async(NULL, tmp, 1, 0, 0, on_done, op));
    NULL_FD("glfs_pwrite_async", glfs_pwrite_async(NULL, tmp, 1, 0, 0, on_done, op));
    NULL_FD("glfs_preadv_async", glfs_preadv_async(NULL, tv, 1, 0, 0, on_done, op));
    NULL_FD("glfs_pwritev_async", glfs_pwritev_async(NULL, tv, 1, 0, 0, on_done, op));
    NULL_FD("glfs_fsync_async", glfs_fsync_async(NULL, on_done, op));
    NULL_FD("glfs_fdatasync_async", glfs_fdatasync_async(NULL, on_done, op));
    NULL_FD("glfs_ftruncate_async", glfs_ftruncate_async(NULL, 0, on_done, op));
    NULL_FD("glfs_discard_async", glfs_discard_async(NULL, 0, 1, on_done, op));
    NULL_FD("glfs_zerofill_async", glfs_zerofill_async(NULL, 0, 1, on_done, op));
#undef NULL_FD
}

/* Wrong access mode: the error arrives at submit or in the callback, with errno set in the callback's thread. */
static void async_wrong_mode(glfs_t *fs)
{
    step("async on wrong access mode");
    glfs_fd_t *wo = glfs_open(fs, P("async"), O_WRONLY);
    glfs_fd_t *ro = glfs_open(fs, P("async"), O_RDONLY);
    const char *wb = "write-behind acknowledges writes on a read-only fd; the brick's EBADF is lost";
    if (CHECK(wo && ro, "glfs_open O_WRONLY and O_RDONLY for async errors", "errno %s", errname(errno))) {
        struct iovec wv[1] = {{adata, 100}};
        struct op *op = new_op();
        SUBMIT(glfs_pread_async(wo, aback, 100, 0, 0, on_done, op));
        async_fails_ebadf("glfs_pread_async on an O_WRONLY fd -> EBADF", op, s_ret, s_err, NULL);
        op = new_op();
        SUBMIT(glfs_read_async(wo, aback, 100, 0, on_done, op));
        async_fails_ebadf("glfs_read_async on an O_WRONLY fd -> EBADF", op, s_ret, s_err, NULL);
        op = new_op();
        SUBMIT(glfs_pwrite_async(ro, adata, 100, 0, 0, on_done, op));
        async_fails_ebadf("glfs_pwrite_async on an O_RDONLY fd -> EBADF", op, s_ret, s_err, wb);
        op = new_op();
        SUBMIT(glfs_pwritev_async(ro, wv, 1, 0, 0, on_done, op));
        async_fails_ebadf("glfs_pwritev_async on an O_RDONLY fd -> EBADF", op, s_ret, s_err, wb);
    }
    if (wo)
        glfs_close(wo);
    if (ro)
        glfs_close(ro);
}

static void test_async(glfs_t *fs)
{
    section("asynchronous calls (GFAPI_6.0 5-argument callbacks)");
    fill_pattern(adata, ASYNC_N, 8);
    step("glfs_creat for async");
    glfs_fd_t *fd = glfs_creat(fs, P("async"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(async)", "errno %s", errname(errno)))
        return;
    async_read_write(fd);
    async_vectors(fd);
    async_syncs_and_space(fs, fd);
    async_null_fds();
    async_wrong_mode(fs);
    EXPECT_ZERO("glfs_close(async fd)", glfs_close(fd));

    /* exactly once: checked after the fds are closed, so late duplicates would have arrived */
    int twice = 0;
    for (int i = 0; i < aop_next && i < 64; i++)
        if (atomic_load(&aops[i].calls) > 1)
            twice++;
    CHECK(twice == 0, "no async callback ran more than once", "%d ran more than once", twice);
}

/* --- 16 threads on one fd ------------------------------------------------------------------------ */

#define CONC_THREADS 16
#define CONC_BLOCKS 8
#define CONC_BLOCK (64 * KiB)

struct worker {
    glfs_fd_t *fd;
    int index;
    int write_errors, read_errors, mismatches;
};

static void conc_fill(unsigned char *buf, int thread, int k) { fill_pattern(buf, CONC_BLOCK, 5000 + thread * 100 + k); }

static void *conc_worker(void *arg)
{
    struct worker *w = arg;
    unsigned char *buf = malloc(CONC_BLOCK), *back = malloc(CONC_BLOCK);
    for (int k = 0; k < CONC_BLOCKS; k++) {
        off_t off = (off_t)(w->index + k * CONC_THREADS) * CONC_BLOCK;
        conc_fill(buf, w->index, k);
        /* tgt passes its open flags as write flags and SEEK_SET as read flags */
        if (glfs_pwrite(w->fd, buf, CONC_BLOCK, off, O_RDWR | O_DIRECT | O_SYNC, NULL, NULL) != CONC_BLOCK)
            w->write_errors++;
    }
    for (int k = 0; k < CONC_BLOCKS; k++) {
        off_t off = (off_t)(w->index + k * CONC_THREADS) * CONC_BLOCK;
        conc_fill(buf, w->index, k);
        if (glfs_pread(w->fd, back, CONC_BLOCK, off, SEEK_SET, NULL) != CONC_BLOCK)
            w->read_errors++;
        else if (memcmp(buf, back, CONC_BLOCK) != 0)
            w->mismatches++;
    }
    free(buf);
    free(back);
    return NULL;
}

static void test_concurrency(glfs_t *fs)
{
    section("16 threads, pread/pwrite at disjoint offsets on one fd");
    step("glfs_creat(conc)");
    glfs_fd_t *fd = glfs_creat(fs, P("conc"), O_RDWR | O_TRUNC, 0644);
    if (!CHECK(fd != NULL, "glfs_creat(conc)", "errno %s", errname(errno)))
        return;
    struct worker w[CONC_THREADS];
    pthread_t th[CONC_THREADS];
    step("16 worker threads");
    for (int i = 0; i < CONC_THREADS; i++) {
        w[i] = (struct worker){.fd = fd, .index = i};
        pthread_create(&th[i], NULL, conc_worker, &w[i]);
    }
    int we = 0, re = 0, mm = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        pthread_join(th[i], NULL);
        we += w[i].write_errors;
        re += w[i].read_errors;
        mm += w[i].mismatches;
    }
    CHECK(we == 0, "16 threads: every glfs_pwrite returned the full length", "%d short/failed writes", we);
    CHECK(re == 0 && mm == 0, "16 threads: every thread reads back its own blocks", "%d failed reads, %d mismatches", re,
          mm);
    /* whole-file verification from the main thread */
    const size_t total = (size_t)CONC_THREADS * CONC_BLOCKS * CONC_BLOCK;
    unsigned char *all = malloc(total), *expect = malloc(CONC_BLOCK);
    ssize_t g = glfs_pread(fd, all, total, 0, 0, NULL);
    int bad = 0;
    for (int b = 0; g == (ssize_t)total && b < CONC_THREADS * CONC_BLOCKS; b++) {
        conc_fill(expect, b % CONC_THREADS, b / CONC_THREADS);
        if (memcmp(all + (size_t)b * CONC_BLOCK, expect, CONC_BLOCK) != 0)
            bad++;
    }
    CHECK(g == (ssize_t)total && bad == 0, "16 threads: the whole 8 MiB file is exactly what was written",
          "read %zd of %zu, %d blocks wrong", g, total, bad);
    free(all);
    free(expect);
    glfs_close(fd);
}

/* ================================================================================================ */

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s VOLUME HOST PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_volume = argv[1];
    g_host = argv[2];
    g_port = atoi(argv[3]);
    g_main_thread = pthread_self();
    const char *ref = getenv("GFAPI_TEST_REFERENCE");
    g_reference = ref && !strcmp(ref, "glusterfs");
    const char *t = getenv("GFAPI_TEST_TIMEOUT");
    unsigned timeout = t && atoi(t) > 0 ? (unsigned)atoi(t) : 300;
    const char *logdir = getenv("GFAPI_TEST_LOGDIR");
    snprintf(g_logfile, sizeof g_logfile, "%s/api-test-gfapi.log", logdir && *logdir ? logdir : "/tmp");
    snprintf(g_root, sizeof g_root, "/gfapi-apitest-%d", (int)getpid());
    arm_watchdog(timeout);
    arm_crash_reporter();

    note("api-test: volume %s on %s:%d, reference %s, watchdog %u s, library log %s", g_volume, g_host, g_port,
         g_reference ? "glusterfs (Mortar-specific checks skipped loudly)" : "none (Mortar semantics)", timeout,
         g_logfile);

    /* sections that might crash or hang a broken library run first, in children */
    run_isolated("close-drain section", body_close_drain);
    run_isolated("fini-drain section", body_fini_drain);

    test_new();
    test_uninitialised_instance();
    test_init_missing_volume();
    test_volfile_servers();

    section("main instances");
    glfs_t *fs = connect_fs("glfs_init of the main instance -> 0");
    glfs_t *fs2 = fs ? connect_fs("glfs_init of a second instance -> 0") : NULL;
    if (fs && fs2) {
        step("create the test directory");
        EXPECT_ZERO(nm("glfs_mkdir(%s) -> 0", g_root), glfs_mkdir(fs, g_root, 0755));
        glfs_chmod(fs, g_root, 0755);

        test_open_creat(fs);
        test_read_write(fs, fs2);
        test_lseek(fs);
        test_stat(fs);
        test_namespace(fs);
        test_directories(fs);
        test_attributes(fs);
        test_xattrs(fs);
        test_space(fs);
        test_locks(fs, fs2);
        test_cwd(fs);
        test_realpath(fs);
        test_identity(fs);
        test_volumeid(fs, fs2);
        test_async(fs);
        test_concurrency(fs);

        section("cleanup");
        reset_identity();
        glfs_chdir(fs, "/");
        step("remove the test directory");
        EXPECT_ZERO(nm("remove %s through the API", g_root), remove_tree(fs, g_root));
        struct stat st;
        EXPECT_FAIL("the test directory is gone", ENOENT, glfs_stat(fs, g_root, &st));
    }
    if (fs2)
        expect_fini(fs2, "glfs_fini of the second instance -> 0");
    if (fs)
        expect_fini(fs, "glfs_fini of the main instance -> 0");
    step("final accounting");
    CHECK(atomic_load(&g_forbidden_calls) == 0, "no callback ran for a submission that returned -1",
          "%d such callbacks", atomic_load(&g_forbidden_calls));

    alarm(0);
    printf("# summary: %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    return n_fail ? 1 : 0;
}
