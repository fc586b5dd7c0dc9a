import CMortarLinux
import Glibc
import MortarCore

extension PosixStorage {
    /// The brick's own bookkeeping (`trusted.mortar.id`, and anything under `trusted.mortar.brick.`): clients can
    /// neither see nor touch it. Other `trusted.mortar.*` names belong to client layers (distribute's
    /// `trusted.mortar.linkto` on link files) and are stored like any attribute.
    static let reservedAttributePrefix = "trusted.mortar.brick."

    static func isReserved(_ name: String) -> Bool {
        name == SystemCall.idAttributeName || name.hasPrefix(reservedAttributePrefix)
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws
        -> [UInt8]
    {
        try Self.checkAttributeName(name)
        return try await run(inline: metadataLane, "attribute \(name) of \(file)") { [self] in
            try index.withLocation(file) { location in
                try SystemCall.extendedAttribute(name, at: location.object, location.subject)
            }
        }
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try Self.checkAttributeName(name)
        guard value.count <= Limits.extendedAttributeValueByteCountMax else {
            throw FileSystemError(
                .argumentListTooLong,
                "value of \(value.count) bytes for \(name) exceeds \(Limits.extendedAttributeValueByteCountMax)")
        }
        let flags: Int32 =
            switch mode {
            case .createOrReplace: 0
            case .createOnly: cmortar_xattr_create
            case .replaceOnly: cmortar_xattr_replace
            }
        try await run { [self] in
            try index.withLocation(file) { location in
                try SystemCall.setExtendedAttribute(name, to: value, flags: flags, at: location.object, location.subject)
            }
        }
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await run { [self] in
            try index.withLocation(file) { location in
                try SystemCall.extendedAttributeNames(at: location.object, location.subject).filter { !Self.isReserved($0) }
            }
        }
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try Self.checkAttributeName(name)
        try await run { [self] in
            try index.withLocation(file) { location in
                try SystemCall.removeExtendedAttribute(name, at: location.object, location.subject)
            }
        }
    }

    /// Storage is never a replica member: the brick's `ReplicaMemberLayer` answers control messages above it.
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        throw FileSystemError.notAReplicaMember(request, "a brick's storage")
    }

    private static func checkAttributeName(_ name: String) throws {
        guard !name.isEmpty, !name.utf8.contains(0), name.utf8.count <= Int(XATTR_NAME_MAX) else {
            throw FileSystemError.invalidArgument("invalid extended attribute name '\(name.prefix(64))'")
        }
        guard !isReserved(name) else {
            throw FileSystemError(.operationNotPermitted, "extended attribute \(name) is reserved for the brick")
        }
    }
}
