/// What the thread running a task may do. The library's blocking entry points (`Blocking.run`: the libgfapi
/// drop-in's C callers, FUSE worker threads) run their task on the calling thread itself, which is parked for the
/// call anyway: work there may block in a system call — a short-circuit read that waits for the disk — exactly as
/// the caller's own `pread` would. Everywhere else (the cooperative pool, event loops) it must not.
public enum CallingThread {
    /// Whether a blocking system call may run on the thread that runs this task (and its child tasks, which run
    /// on the same thread).
    @TaskLocal public static var mayBlock = false
}
