/// A volume's layer graph as data (GlusterFS's volfile): the manager generates it, clients fetch it and build
/// the stack from it, and tests write small ones by hand. JSON on the wire, through `Codable`.
public struct VolumeSpec: Codable, Sendable, Hashable {
    /// The volume's name, as users type it.
    public var name: String
    /// A stable identity for the volume (a FileID-style UUID string), reported by `glfs_get_volumeid`.
    public var volumeID: String
    /// The catalog version this spec was generated from; a client can tell a newer spec from an older one.
    public var catalogVersion: UInt64
    /// The root of the client layer graph.
    public var graph: LayerSpec
    /// How clients behave above the graph.
    public var client: ClientOptions

    public init(
        name: String, volumeID: String, catalogVersion: UInt64, graph: LayerSpec, client: ClientOptions = ClientOptions()
    ) {
        self.name = name
        self.volumeID = volumeID
        self.catalogVersion = catalogVersion
        self.graph = graph
        self.client = client
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        volumeID = try container.decode(String.self, forKey: .volumeID)
        catalogVersion = try container.decode(UInt64.self, forKey: .catalogVersion)
        graph = try container.decode(LayerSpec.self, forKey: .graph)
        // Daemons before client options send none: their defaults.
        client = try container.decodeIfPresent(ClientOptions.self, forKey: .client) ?? ClientOptions()
    }
}

/// The volume options a client applies itself, from the volume's options when the spec was made.
public struct ClientOptions: Codable, Sendable, Hashable {
    /// Read ahead of sequential readers (`performance.read-ahead`).
    public var readAhead: Bool
    /// Acknowledge writes before the bricks have them (`performance.write-behind`).
    public var writeBehind: Bool
    /// Read files on this host's bricks through descriptors they hand over (`performance.local-reads`).
    public var localReads: Bool

    public init(readAhead: Bool = true, writeBehind: Bool = true, localReads: Bool = true) {
        self.readAhead = readAhead
        self.writeBehind = writeBehind
        self.localReads = localReads
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Options a daemon of an earlier version does not send take their defaults.
        readAhead = try container.decodeIfPresent(Bool.self, forKey: .readAhead) ?? true
        writeBehind = try container.decodeIfPresent(Bool.self, forKey: .writeBehind) ?? true
        localReads = try container.decodeIfPresent(Bool.self, forKey: .localReads) ?? true
    }
}

/// One node of the client layer graph with its typed options. Adding a layer type adds a case here, and the
/// compiler finds the builder's switch.
public indirect enum LayerSpec: Codable, Sendable, Hashable {
    /// Spreads files over its children by name hash; directories exist on every child.
    case distribute(DistributeOptions, children: [LayerSpec])
    /// Keeps a copy of every file on each child (the members of one replica set, in member order): each file's
    /// primary orders its changes and forwards them to the other in-sync members.
    case replicate(ReplicateOptions, children: [LayerSpec])
    /// Sends operations to one brick over the network.
    case protocolClient(ProtocolClientOptions)

    /// Whether the graph has replica sets (its clients then need the sets' membership).
    public var isReplicated: Bool {
        switch self {
        case .distribute(_, let children): children.contains(where: \.isReplicated)
        case .replicate: true
        case .protocolClient: false
        }
    }

    /// Every protocol-client leaf, left to right.
    public var bricks: [ProtocolClientOptions] {
        switch self {
        case .distribute(_, let children): children.flatMap(\.bricks)
        case .replicate(_, let children): children.flatMap(\.bricks)
        case .protocolClient(let options): [options]
        }
    }
}

/// Options of the distribute layer.
public struct DistributeOptions: Codable, Sendable, Hashable {
    /// Looks for a name on every child when its hashed child does not have it, before answering ENOENT. Turning
    /// it off makes misses cheaper but finds files only where the layout says they are (or said, in an earlier
    /// generation of the layout).
    public var lookupEverywhere: Bool
    /// How the children came to be: the child count the volume was created with and each change since. Nil for
    /// a volume that never changed (and from daemons before volumes could grow): one generation of every child.
    public var layout: LayoutHistory?

    public init(lookupEverywhere: Bool = true, layout: LayoutHistory? = nil) {
        self.lookupEverywhere = lookupEverywhere
        self.layout = layout
    }
}

/// The generations of a volume's placement (GlusterFS rewrites a layout per directory, which needs a crawl before
/// new bricks get files; here it is one value for the whole volume, so `add-brick` moves placement at once). The
/// distribute layer computes every directory's layout from it; children are never renumbered: a change appends.
public struct LayoutHistory: Codable, Sendable, Hashable {
    /// The children of the first generation.
    public var initialChildCount: Int
    /// The changes since, oldest first: each is one more generation.
    public var changes: [LayoutChange]

    public init(initialChildCount: Int, changes: [LayoutChange] = []) {
        self.initialChildCount = initialChildCount
        self.changes = changes
    }

    /// The children of each generation, oldest first.
    public var childCounts: [Int] {
        changes.reduce(into: [initialChildCount]) { counts, change in
            switch change {
            case .added(let added): counts.append(counts[counts.count - 1] + added)
            }
        }
    }

    /// The children of the newest generation.
    public var childCount: Int {
        childCounts[childCounts.count - 1]
    }

    /// How many generations there are: the first and one per change.
    public var generationCount: Int { changes.count + 1 }
}

/// One change of a volume's placement.
public enum LayoutChange: Codable, Sendable, Hashable {
    /// This many children joined after the existing ones (`volume add-brick`): each existing child gives up the
    /// share of its hash ranges that makes all of them even, and only that moves.
    case added(Int)
}

/// Options of the replicate layer: which replica set it serves. The set's membership (epoch, which members are in
/// sync) is not part of the spec: it changes without the spec changing, and the layer reads it from the manager.
public struct ReplicateOptions: Codable, Sendable, Hashable {
    /// The set's position in the volume (consecutive bricks, `replica` at a time): the key of its membership.
    public var setIndex: Int
    /// How many members must be in sync for the set to accept changes; fewer make it read-only.
    public var minInSync: Int

    public init(setIndex: Int, minInSync: Int) {
        self.setIndex = setIndex
        self.minInSync = minInSync
    }
}

/// Options of the protocol client: which brick to talk to.
public struct ProtocolClientOptions: Codable, Sendable, Hashable {
    /// Host name or address of the brick's host, as clients reach it.
    public var host: String
    /// The brick process's port; 0 with a `unixSocketPath` means "use the socket".
    public var port: Int
    /// A Unix-domain socket to use instead of TCP when the client runs on the brick's host.
    public var unixSocketPath: String?
    /// The Unix-domain socket a brick also listens on: a client on the brick's own host uses it instead of TCP
    /// (fewer kernel layers per request). Named by port and exported path, which are unique on one host, and
    /// identical for the catalog that writes the spec and the host agent that starts the brick.
    public static func localSocketPath(port: Int, brickPath: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in brickPath.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let digits = String(hash, radix: 16)
        return "\(localSocketDirectory)/brick-\(port)-\(String(repeating: "0", count: 16 - digits.count))\(digits).sock"
    }

    /// Where bricks put their Unix-domain sockets.
    public static let localSocketDirectory = "/run/mortar"

    /// The exported directory on the brick's host, for messages and status only.
    public var brickPath: String
    /// The brick's position in the volume (0-based), for messages and placement.
    public var brickIndex: Int
    /// How long one reply may take before the client declares the brick dead and reconnects; nil means the
    /// built-in default (`Limits.requestTimeoutMilliseconds`).
    public var requestTimeoutMilliseconds: Int64?

    public init(
        host: String, port: Int, unixSocketPath: String? = nil, brickPath: String, brickIndex: Int,
        requestTimeoutMilliseconds: Int64? = nil
    ) {
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        self.host = host
        self.port = port
        self.unixSocketPath = unixSocketPath
        self.brickPath = brickPath
        self.brickIndex = brickIndex
    }
}
