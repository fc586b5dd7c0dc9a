/// How a brick shares out its file descriptors: every client connection and every open file is one, and a brick
/// that runs out can no longer accept the connection of a client that would close files, or open the directories
/// it needs to serve anyone.
///
/// Invariants (checked by `DescriptorBudgetTests`): `connectionsMax + openFilesMax + Limits.brickReservedDescriptors
/// <= descriptors` whenever `descriptors` leaves room for at least one of each; `connectionsPerAddressMax <=
/// connectionsMax`; `openFilesPerConnectionMax <= openFilesMax`, and at most half of it, so one connection that
/// opens everything it may still leaves the other half to the rest; every bound is at least 1 and at most its
/// `Limits` value.
public struct DescriptorBudget: Sendable, Hashable, CustomStringConvertible {
    public let connectionsMax: Int
    public let connectionsPerAddressMax: Int
    public let openFilesMax: Int
    public let openFilesPerConnectionMax: Int
    /// Directories the brick keeps open after locating them (its `DirectoryDescriptorCache`).
    public let directoriesCachedMax: Int

    /// The budget for a brick whose descriptor limit (`RLIMIT_NOFILE`, soft) is `descriptors`.
    public init(descriptors: Int) {
        let available = max(descriptors - Limits.brickReservedDescriptors, 2)
        // A sixteenth for open directories (they only save work), up to the limit.
        directoriesCachedMax = min(Limits.directoryDescriptorsCachedMax, available / 16)
        let usable = max(available - directoriesCachedMax, 2)
        // A quarter for connections, the rest for open files: a client holds many files over one connection.
        connectionsMax = max(1, min(Limits.brickConnectionsMax, usable / 4))
        connectionsPerAddressMax = min(Limits.brickConnectionsPerAddressMax, connectionsMax)
        openFilesMax = max(1, min(Limits.openFilesPerBrickMax, usable - connectionsMax))
        openFilesPerConnectionMax = max(1, min(Limits.openFilesPerConnectionMax, openFilesMax / 2))
    }

    /// The budget of a brick that is not limited by its descriptors (in-process tests): every `Limits` value.
    public static let unlimited = DescriptorBudget(descriptors: Int.max / 2)

    public var description: String {
        "\(connectionsMax) connections (\(connectionsPerAddressMax) per address), \(openFilesMax) open files "
            + "(\(openFilesPerConnectionMax) per connection), \(directoriesCachedMax) directories kept open"
    }
}
