import Logging
import MortarCore
import MortarTransport
import MortarWire
import NIOCore
import Synchronization

extension ProtocolClient {
    private enum ConnectionStep {
        case ready(BrickConnection, UInt64)
        case wait(EventLoopFuture<(BrickConnection, UInt64)>)
        case connect(EventLoopPromise<(BrickConnection, UInt64)>, patient: Bool)
    }

    /// The live connection and its generation, connecting first if needed. Only one caller connects; the others
    /// wait for its result.
    func currentConnection() async throws -> (BrickConnection, UInt64) {
        let step = state.withLock { state -> ConnectionStep in
            if let connection = state.connection, connection.isActive {
                return .ready(connection, state.generation)
            }
            if let connecting = state.connecting { return .wait(connecting) }
            let promise = eventLoopGroup.any().makePromise(of: (BrickConnection, UInt64).self)
            state.connecting = promise.futureResult
            state.connection = nil
            return .connect(promise, patient: !state.lastConnectFailed)
        }
        switch step {
        case .ready(let connection, let generation):
            return (connection, generation)
        case .wait(let future):
            return try await future.get()
        case .connect(let promise, let patient):
            do {
                let connection = try await connectWithRetry(patient: patient)
                let result = state.withLock { state -> (BrickConnection, UInt64) in
                    state.generation += 1
                    state.connection = connection
                    state.connecting = nil
                    state.lastConnectFailed = false
                    return (connection, state.generation)
                }
                promise.succeed(result)
                return result
            } catch {
                state.withLock { state in
                    state.connecting = nil
                    state.lastConnectFailed = true
                }
                promise.fail(error)
                throw error
            }
        }
    }

    /// Tries to connect; a patient attempt keeps trying for the reconnect window, so a brick that is being
    /// restarted is waited for. After a failed window, attempts are single-shot until one succeeds, so a brick
    /// that is down for good costs callers one refused connection each, not the whole window.
    private func connectWithRetry(patient: Bool) async throws -> BrickConnection {
        let deadline = ContinuousClock.now + .milliseconds(patient ? reconnectWindowMilliseconds : 0)
        var delay = Duration.milliseconds(50)
        while true {
            do {
                return try await BrickConnection.connect(
                    to: endpoint, clientName: clientName, security: security, eventLoopGroup: eventLoopGroup,
                    requestTimeout: requestTimeout)
            } catch let error as FileSystemError where error.code == .protocolError {
                throw error
            } catch let error as FileSystemError where error.code == .permissionDenied {
                // The brick refused this client (auth.allow, auth.reject, its certificate): asking again changes
                // nothing.
                throw error.message.hasPrefix("brick ")
                    ? error : FileSystemError(.permissionDenied, "brick \(endpoint) refused this client: \(error.message)")
            } catch {
                guard ContinuousClock.now + delay < deadline else {
                    throw FileSystemError(.notConnected, "brick \(endpoint) is not reachable: \(error)")
                }
                logger.debug("brick \(endpoint) not reachable yet, retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .milliseconds(500))
            }
        }
    }

    /// Sends a request that does not involve an open file.
    func perform(_ request: Request, context: OperationContext) async throws -> Reply {
        let credentials = WireCredentials(context)
        var retried = false
        while true {
            let (connection, _) = try await currentConnection()
            do {
                return try await connection.call(request, credentials: credentials, watch: context.replyWatch)
            } catch let error as FileSystemError where error.code == .notConnected && request.isIdempotent && !retried {
                retried = true
            }
        }
    }

    /// Sends a request about an open file, translating the caller's handle to the brick's handle for the current
    /// connection (reopening the file first if the connection was replaced).
    func perform(
        on file: OpenFile, context: OperationContext, _ makeRequest: (OpenFile) -> Request
    ) async throws -> Reply {
        let credentials = WireCredentials(context)
        var retried = false
        while true {
            let (connection, generation) = try await currentConnection()
            let remote = try await remoteFile(file, connection: connection, generation: generation, context: context)
            let request = makeRequest(remote)
            do {
                return try await connection.call(request, credentials: credentials, watch: context.replyWatch)
            } catch let error as FileSystemError where error.code == .notConnected && request.isIdempotent && !retried {
                retried = true
            }
        }
    }

    private func remoteFile(
        _ file: OpenFile, connection: BrickConnection, generation: UInt64, context: OperationContext
    ) async throws -> OpenFile {
        guard let open = state.withLock({ $0.files[file.handle] }), open.id == file.id else {
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open")
        }
        if open.generation == generation { return OpenFile(id: open.id, handle: open.remoteHandle) }
        guard !open.holdsLocks else {
            throw FileSystemError(
                .badFileHandle, "brick \(endpoint) restarted and released this file's locks; reopen the file")
        }
        let flags = open.flags.subtracting(OpenFlags.creationOnly)
        let reply = try await connection.call(
            .open(open.id, flags: flags), credentials: WireCredentials(context), watch: context.replyWatch)
        let reopened = try reply.opened()
        state.withLock { state in
            state.files[file.handle]?.remoteHandle = reopened.handle
            state.files[file.handle]?.generation = generation
            state.files[file.handle]?.local = .untried  // asked again of the brick as it is now
        }
        logger.debug("reopened file \(open.id) after reconnecting to \(endpoint)")
        return reopened
    }

    /// Sends a request that opens a file (open, create) and records the brick's handle under a handle of this
    /// client, tied to the connection generation the brick issued it on.
    func performOpening(_ request: Request, flags: OpenFlags, context: OperationContext) async throws
        -> (Reply, OpenFile)
    {
        let (connection, generation) = try await currentConnection()
        let reply = try await connection.call(request, credentials: WireCredentials(context), watch: context.replyWatch)
        let remote: OpenFile
        switch reply {
        case .created(let created): remote = created.file
        case .openedWithHead(let opened): remote = opened.file
        default: remote = try reply.opened()
        }
        return (reply, registerOpenFile(remote, flags: flags, generation: generation))
    }

    func registerOpenFile(_ remote: OpenFile, flags: OpenFlags, generation: UInt64) -> OpenFile {
        let handle = state.withLock { state -> UInt64 in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.files[handle] = OpenState(
                id: remote.id, flags: flags, remoteHandle: remote.handle, generation: generation)
            return handle
        }
        return OpenFile(id: remote.id, handle: handle)
    }
}
