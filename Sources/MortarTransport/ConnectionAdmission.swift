import CMortarLinux
import Logging
import MortarCore
import NIOCore
import Synchronization

/// Counts open connections, in total and per address, and decides whether one more may be served. Shared by the
/// brick's server and the daemon's management server.
public final class ConnectionAdmission: Sendable {
    private struct State {
        var total = 0
        /// The most connections open at once since memory was last handed back.
        var peak = 0
        var perAddress: [String: Int] = [:]
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let connectionsMax: Int
    private let perAddressMax: Int

    public init(connectionsMax: Int, perAddressMax: Int) {
        self.connectionsMax = connectionsMax
        self.perAddressMax = perAddressMax
    }

    /// The key a connection counts under: its IP address, or one shared key for Unix-socket clients.
    public static func addressKey(_ address: SocketAddress?) -> String {
        address?.ipAddress ?? "local"
    }

    /// Counts the connection and returns nil, or returns why it may not be served (and counts nothing).
    public func admit(_ address: String) -> String? {
        state.withLock { state in
            if state.total >= connectionsMax { return "\(connectionsMax) connections are open already" }
            let fromAddress = state.perAddress[address, default: 0]
            if fromAddress >= perAddressMax {
                return "\(address) has \(perAddressMax) connections open already"
            }
            state.total += 1
            state.peak = max(state.peak, state.total)
            state.perAddress[address] = fromAddress + 1
            return nil
        }
    }

    /// Uncounts a connection that closed; returns whether a surge of connections has just (mostly) gone, so that
    /// the memory they freed should be handed back (see ``admit(_:logger:)``).
    @discardableResult
    public func release(_ address: String) -> Bool {
        state.withLock { state in
            state.total -= 1
            let left = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = left > 0 ? left : nil
            guard state.peak >= Limits.connectionSurgeMin, state.total <= state.peak / 4 else { return false }
            state.peak = state.total
            return true
        }
    }

    /// Admits a connection as it is accepted, before its pipeline is built: counts it and returns true, releasing
    /// the count when the channel closes (whatever closes it); or closes it, logs the refusal (at most one line a
    /// second) and returns false. (Not an error from the channel initializer: that would reach the listener's
    /// pipeline and end the accept loop.)
    public func admit(_ channel: any Channel, logger: Logger) -> Bool {
        let address = Self.addressKey(channel.remoteAddress)
        if let refusal = admit(address) {
            channel.close(promise: nil)
            if let refused = noteRefusal() {
                logger.warning("refusing connections: \(refusal)", metadata: ["refused": "\(refused)"])
            }
            return false
        }
        channel.closeFuture.whenComplete { _ in
            guard self.release(address) else { return }
            // A surge of connections (a flood above all) leaves their freed TLS sessions and buffers in the
            // allocator's per-thread arenas, which glibc does not give back by itself: hundreds of megabytes after
            // a few thousand TLS connections. Handed back each time the open connections fall to a quarter of
            // their peak (so 1024 → 256 → 64 → 16), a moment after this close, once the connection's own task has
            // freed what it held. Rare, and a few milliseconds each.
            channel.eventLoop.scheduleTask(in: .milliseconds(Limits.connectionSurgeTrimDelayMilliseconds)) {
                cmortar_release_free_memory()
            }
        }
        return true
    }

    /// Counts a refusal; returns how many were refused since the last log line when one is due (at most one a
    /// second, so a flood cannot flood the log too).
    public func noteRefusal() -> Int? {
        state.withLock { state in
            state.refusedSinceLog += 1
            let now = ContinuousClock.now
            if let last = state.lastLog, now - last < .seconds(1) { return nil }
            state.lastLog = now
            defer { state.refusedSinceLog = 0 }
            return state.refusedSinceLog
        }
    }
}
