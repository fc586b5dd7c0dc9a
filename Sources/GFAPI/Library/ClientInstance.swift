import Glibc
import Logging
import Mortar
import MortarCore
import Synchronization

/// What a `glfs_t` stands for: a volume name, where to fetch its spec from, logging, and — after `glfs_init` — the
/// connected volume and the descriptors opened on it.
final class ClientInstance: Sendable {
    /// A spec server as `glfs_set_volfile_server` names it.
    enum SpecServer: Hashable, Sendable {
        case tcp(ServerAddress)
        case unixSocket(path: String)
    }

    enum Phase: Sendable {
        case configuring
        case connected(Volume)
        case failed
        case finished
    }

    struct State: Sendable {
        var servers: [SpecServer] = []
        var phase = Phase.configuring
        var log = LogDestination.standard
        var options: [String: String] = [:]
        /// Handles of the descriptors open on this instance, closed by `glfs_fini`.
        var descriptors: Set<UInt> = []
        /// Runs the connected volume's background work (write-behind's sender); joined by `glfs_fini`.
        var serviceThread: VolumeServiceThread?
    }

    let volumeName: String
    let state = ForkSafeMutex(State())
    /// Lock owner for `glfs_posix_lock`: one per instance, so two instances in one process conflict as two
    /// processes would.
    let lockOwner = UInt64.random(in: 1...UInt64.max)

    init(volumeName: String) {
        self.volumeName = volumeName
    }

    /// `glfs_new`'s rule for names: letters, digits, `-` and `_`, not starting with `-`.
    static func validate(volumeName: String) throws {
        let allowed = volumeName.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F
        }
        guard !volumeName.isEmpty, allowed, !volumeName.hasPrefix("-") else {
            throw FileSystemError.invalidArgument("invalid volume name '\(volumeName)'")
        }
    }

    /// The connected volume; EINVAL before `glfs_init` succeeded, ENOTCONN after `glfs_fini`.
    func volume() throws -> Volume {
        switch state.withLock({ $0.phase }) {
        case .connected(let volume): return volume
        case .configuring, .failed:
            throw FileSystemError.invalidArgument("volume \(volumeName) is not initialised (call glfs_init)")
        case .finished: throw FileSystemError(.notConnected, "volume \(volumeName) was finished (glfs_fini)")
        }
    }

    /// Connects: fetches the spec from the first server that answers and builds the stack (`glfs_init`).
    func connect() async throws {
        let (servers, log) = try state.withLock { state -> ([SpecServer], LogDestination) in
            guard case .configuring = state.phase else {
                throw FileSystemError(.alreadyInProgress, "volume \(volumeName) was already initialised")
            }
            return (state.servers, state.log)
        }
        let logger = log.logger(label: "mortar.gfapi.\(volumeName)")
        var addresses: [ServerAddress] = []
        for server in servers {
            switch server {
            case .tcp(let address): addresses.append(address)
            case .unixSocket(let path):
                logger.warning("spec servers on Unix sockets are not supported; skipping", metadata: ["path": "\(path)"])
            }
        }
        if servers.isEmpty { addresses = [ServerAddress(host: "127.0.0.1")] }
        guard !addresses.isEmpty else {
            state.withLock { $0.phase = .failed }
            throw FileSystemError(.protocolNotSupported, "no TCP spec server given for volume \(volumeName)")
        }
        do {
            let volume = try await Volume.connect(
                volume: volumeName, servers: addresses, logger: logger,
                eventLoopGroup: LibraryRuntime.current.connectionLoops)
            // GlusterFS's library resolves "/.." to the root, and Samba stats ".." at the root of every share.
            volume.setParentOfRootIsRoot(true)
            switch VolumeServiceThread.start(for: volume) {
            case .success(let thread):
                state.withLock {
                    $0.phase = .connected(volume)
                    $0.serviceThread = thread
                }
            case .failure(let error):
                logger.warning("write-behind is off: \(error)")
                state.withLock { $0.phase = .connected(volume) }
            }
            logger.info("connected", metadata: ["servers": "\(addresses)"])
        } catch {
            state.withLock { $0.phase = .failed }
            let reason = "cannot connect to volume \(volumeName): \(error)"
            logger.error("\(reason)")
            // Programs print only a generic line for a failed glfs_init (fio: "Is glusterd running?") and the log
            // is often a file nobody reads, so the reason also goes to standard error — once per process, since a
            // program retrying in a loop should not flood its terminal. Not when the log already is stderr.
            if !log.isStandardError { Self.reportFirstConnectFailure(reason) }
            throw error
        }
    }

    /// Whether this process has already printed a failed connect's reason on standard error.
    private static let connectFailureReported = Atomic<Bool>(false)

    private static func reportFirstConnectFailure(_ reason: String) {
        guard !connectFailureReported.exchange(true, ordering: .relaxed) else { return }
        let line = Array("libgfapi (mortar): \(reason)\n".utf8)
        // Best effort by nature: if standard error is closed or full, there is nowhere else to say it.
        _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Takes the instance out of service: later calls fail, and the caller closes what was open (`glfs_fini`).
    func finish() -> (volume: Volume?, descriptors: Set<UInt>, serviceThread: VolumeServiceThread?) {
        state.withLock { state in
            let volume: Volume? = if case .connected(let volume) = state.phase { volume } else { nil }
            state.phase = .finished
            defer {
                state.descriptors = []
                state.serviceThread = nil
            }
            return (volume, state.descriptors, state.serviceThread)
        }
    }
}
