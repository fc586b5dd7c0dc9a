import Glibc
import Mortar
import MortarCore

/// The thread that does a connected volume's background work — ``Volume/run()``, which sends the writes
/// write-behind acknowledged — for one `glfs_t`. `glfs_init` starts it once connected; `glfs_fini` closes the
/// volume, which ends the work, and joins it. It starts with every signal blocked, like the library's other
/// threads, so it never takes a signal meant for the application.
final class VolumeServiceThread: Sendable {
    private let thread: pthread_t

    private init(thread: pthread_t) {
        self.thread = thread
    }

    /// Starts the thread, or says why the system gave none (the volume then sends writes as they come: write-behind
    /// stays off without its sender).
    static func start(for volume: Volume) -> Result<VolumeServiceThread, FileSystemError> {
        let context = Unmanaged.passRetained(volume).toOpaque()
        var thread = pthread_t()
        let created = LibraryRuntime.withSignalsBlocked {
            pthread_create(
                &thread, nil,
                { context in
                    let volume = Unmanaged<Volume>.fromOpaque(context!).takeRetainedValue()
                    // `run()` throws nothing; only Blocking.run's signature does, so there is no error to lose.
                    _ = try? Blocking.run { await volume.run() }
                    return nil
                }, context)
        }
        guard created == 0 else {
            Unmanaged<Volume>.fromOpaque(context).release()
            return .failure(FileSystemError(.init(rawValue: created), "cannot start the volume's service thread"))
        }
        return .success(VolumeServiceThread(thread: thread))
    }

    /// Waits for the thread to end: call after closing the volume.
    func join() {
        pthread_join(thread, nil)
    }
}
