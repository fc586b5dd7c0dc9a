import MortarCore
import NIOCore

/// Typed views of a reply; a reply of the wrong shape for its request is a protocol error, not a crash.
extension Reply {
    public func attributes() throws -> FileAttributes {
        guard case .attributes(let value) = self else { throw mismatch("attributes") }
        return value
    }

    public func created() throws -> CreatedFile {
        guard case .created(let value) = self else { throw mismatch("created file") }
        return value
    }

    public func opened() throws -> OpenFile {
        guard case .opened(let value) = self else { throw mismatch("open file") }
        return value
    }

    public func openedWithHead() throws -> OpenedFile {
        guard case .openedWithHead(let value) = self else { throw mismatch("open file with its head") }
        return value
    }

    public func localReadGrant() throws -> LocalReadGrant {
        guard case .localReadGrant(let value) = self else { throw mismatch("local read grant") }
        return value
    }

    public func found() throws -> FoundFile {
        guard case .found(let value) = self else { throw mismatch("found file") }
        return value
    }

    public func data() throws -> ByteBuffer {
        guard case .data(let value) = self else { throw mismatch("data") }
        return value
    }

    public func number() throws -> UInt64 {
        guard case .number(let value) = self else { throw mismatch("number") }
        return value
    }

    public func lock() throws -> LockRequest? {
        guard case .lock(let value) = self else { throw mismatch("lock") }
        return value
    }

    public func page() throws -> DirectoryPage {
        guard case .page(let value) = self else { throw mismatch("directory page") }
        return value
    }

    public func text() throws -> String {
        guard case .text(let value) = self else { throw mismatch("text") }
        return value
    }

    public func statistics() throws -> FileSystemStatistics {
        guard case .statistics(let value) = self else { throw mismatch("statistics") }
        return value
    }

    public func bytes() throws -> [UInt8] {
        guard case .bytes(let value) = self else { throw mismatch("bytes") }
        return value
    }

    public func names() throws -> [String] {
        guard case .names(let value) = self else { throw mismatch("names") }
        return value
    }

    /// What a control message answered: a status where one was sent, else nothing.
    public func control() throws -> ControlReply {
        switch self {
        case .none: return .done
        case .memberStatus(let status): return .memberStatus(status)
        case .data(let text): return .metrics(String(buffer: text))
        case .profile(let profile): return .profile(profile)
        case .top(let top): return .top(top)
        case .clients(let clients): return .clients(clients)
        // Only a migration fence answers with a number.
        case .number(let count): return .fenced(openElsewhere: Int(clamping: count))
        default: throw mismatch("control reply")
        }
    }

    public func none() throws {
        guard case .none = self else { throw mismatch("no value") }
    }

    private func mismatch(_ expected: String) -> FileSystemError {
        .protocolError("reply carried \(self.tag) where \(expected) was expected")
    }
}

extension Reply {
    /// The wire reply that carries a control message's answer (``control()`` reads it back).
    public init(_ control: ControlReply) {
        switch control {
        case .done: self = .none
        case .memberStatus(let status): self = .memberStatus(status)
        case .metrics(let text): self = .data(ByteBuffer(string: text))
        case .profile(let profile): self = .profile(profile)
        case .top(let top): self = .top(top)
        case .clients(let clients): self = .clients(clients)
        case .fenced(let count): self = .number(UInt64(clamping: count))
        }
    }
}
