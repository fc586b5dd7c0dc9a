import Logging
import MortarCore
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore
import Synchronization

/// The leaf of the client stack: sends every operation to one brick over one shared connection.
///
/// When the brick goes away, calls in flight fail with ENOTCONN (never hang). The next call reconnects, waiting up
/// to `Limits.reconnectWindowMilliseconds` for a restarting brick; open files are reopened on the new connection by
/// FileID, unless they held locks (those were released with the old connection, so the handle fails with EBADF).
/// Idempotent requests that failed because the connection dropped are retried once on the new connection.
public final class ProtocolClient: FileOperations {
    /// Where the brick is; changes when the brick is moved (replace-brick), see ``retarget(to:)``.
    public var endpoint: Endpoint { target.withLock { $0 } }
    private let target: Mutex<Endpoint>
    let clientName: String
    let security: TransportSecurity
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let requestTimeout: TimeAmount
    let reconnectWindowMilliseconds: Int64
    /// Whether files opened for reading over a Unix socket are read through a descriptor the brick hands over
    /// (short-circuit local reads; the volume option `performance.local-reads`).
    let readsLocally: Bool
    let localDescriptorBudget: LocalReadDescriptorBudget

    struct OpenState {
        var id: FileID
        var flags: OpenFlags
        var remoteHandle: UInt64
        var generation: UInt64
        var holdsLocks = false
        /// Short-circuit reads of this file (see ProtocolClient+LocalReads).
        var local = LocalReadState.untried
    }

    struct State {
        var connection: BrickConnection?
        var generation: UInt64 = 0
        var connecting: EventLoopFuture<(BrickConnection, UInt64)>?
        /// The last connection attempt failed, so the next one tries once instead of waiting out the window.
        var lastConnectFailed = false
        var files: [UInt64: OpenState] = [:]
        var nextHandle: UInt64 = 1
        /// The connection generation on which the brick refused short-circuit reads (EOPNOTSUPP): not asked again
        /// until the next connection.
        var localReadsRefusedGeneration: UInt64?
        /// A replica member's state word, mapped for the connection generation it was opened in.
        var memberState: (generation: UInt64, reader: MemberStateReader)?
    }

    let state = Mutex(State())
    let localReadCounter = Atomic<UInt64>(0)

    /// Reads this client served itself through a descriptor the brick handed over (short-circuit local reads).
    public var localReadCount: UInt64 { localReadCounter.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - requestTimeout: how long one reply may take before the connection is declared dead (blocking lock
    ///     waits excepted).
    ///   - reconnectWindowMilliseconds: how long a call waits for a brick that went away to come back. A member
    ///     of a replica set waits for nothing: the replicate layer above fails over to another member instead.
    ///   - readsLocally: read files through descriptors the brick hands over when connected over its Unix socket.
    ///   - localDescriptorBudget: how many such descriptors this client may hold with the others of the process.
    public init(
        endpoint: Endpoint, clientName: String, security: TransportSecurity, eventLoopGroup: any EventLoopGroup,
        logger: Logger, requestTimeout: TimeAmount = .milliseconds(Limits.requestTimeoutMilliseconds),
        reconnectWindowMilliseconds: Int64 = Limits.reconnectWindowMilliseconds, readsLocally: Bool = true,
        localDescriptorBudget: LocalReadDescriptorBudget = .shared
    ) {
        self.readsLocally = readsLocally
        self.localDescriptorBudget = localDescriptorBudget
        self.requestTimeout = requestTimeout
        self.reconnectWindowMilliseconds = reconnectWindowMilliseconds
        self.target = Mutex(endpoint)
        self.clientName = clientName
        self.security = security
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Closes the connection; later calls reconnect.
    public func shutdown() {
        let connection = state.withLock { state -> BrickConnection? in
            defer { state.connection = nil }
            return state.connection
        }
        connection?.close()
    }

    /// Points the client at the brick's new place (replace-brick moved it): the current connection closes and the
    /// next call connects there; open files are reopened by FileID as after any reconnect.
    public func retarget(to endpoint: Endpoint) {
        let changed = target.withLock { current -> Bool in
            guard current != endpoint else { return false }
            current = endpoint
            return true
        }
        if changed {
            logger.info("brick moved to \(endpoint)")
            shutdown()
        }
    }

    /// Files this client holds open on the brick.
    public var openFileCount: Int { state.withLock { $0.files.count } }

    /// Whether this client's connection to the brick is up as far as it knows: a brick that closed it counts
    /// once the client has read the close.
    public var isConnected: Bool { state.withLock { $0.connection?.isActive == true } }
}
