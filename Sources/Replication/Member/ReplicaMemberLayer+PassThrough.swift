import MortarCore
import NIOCore

/// What the replica member passes straight to its storage. Every other operation is ordered, forwarded or
/// recorded in the `ReplicaMemberLayer` files; a guard layer forwards nothing by default.
extension ReplicaMemberLayer {
    // flush(2)-time work changes no data and no metadata that members must agree on (data reaches every
    // member with each write; `synchronize` is what makes it durable everywhere).

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await next.flush(file, context: context)
    }
}
