import MortarCore

extension Volume {
    public func extendedAttribute(_ name: String, of path: String, followLast: Bool = true) async throws -> [UInt8] {
        let context = try context()
        let file = try await resolve(path, followLast: followLast, context: context)
        return try await stack.extendedAttribute(name, of: file.id, context: context)
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], of path: String, mode: ExtendedAttributeMode = .createOrReplace,
        followLast: Bool = true
    ) async throws {
        let context = try context()
        let file = try await resolve(path, followLast: followLast, context: context)
        try await stack.setExtendedAttribute(name, to: value, mode: mode, of: file.id, context: context)
    }

    public func extendedAttributeNames(of path: String, followLast: Bool = true) async throws -> [String] {
        let context = try context()
        let file = try await resolve(path, followLast: followLast, context: context)
        return try await stack.extendedAttributeNames(of: file.id, context: context)
    }

    public func removeExtendedAttribute(_ name: String, of path: String, followLast: Bool = true) async throws {
        let context = try context()
        let file = try await resolve(path, followLast: followLast, context: context)
        try await stack.removeExtendedAttribute(name, of: file.id, context: context)
    }
}
