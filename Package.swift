// swift-tools-version:6.1
import PackageDescription

/// Settings every Mortar module shares: Swift 6 language mode plus the upcoming features that make
/// dependencies explicit (see docs/ARCHITECTURE.md for who may import whom).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let nio: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioConcurrency: Target.Dependency = .product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let nioHTTP1: Target.Dependency = .product(name: "NIOHTTP1", package: "swift-nio")
let nioEmbedded: Target.Dependency = .product(name: "NIOEmbedded", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let nioSSL: Target.Dependency = .product(name: "NIOSSL", package: "swift-nio-ssl")
let x509: Target.Dependency = .product(name: "X509", package: "swift-certificates")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let asn1: Target.Dependency = .product(name: "SwiftASN1", package: "swift-asn1")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let coreMetrics: Target.Dependency = .product(name: "CoreMetrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")

/// libgfapi.so.0's symbol versions; absolute, because the linker's working directory is not the package's.
let gfapiVersionScript = Context.packageDirectory + "/Sources/GFAPI/gfapi.map"

let package = Package(
    name: "Mortar",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Mortar", targets: ["Mortar", "MortarMeter"]),
        .executable(name: "mortar", targets: ["mortar"]),
        // The libgfapi drop-in. SwiftPM names it libgfapi.so; scripts/build-gfapi.sh builds it with the Swift
        // runtime linked in statically and installs it as libgfapi.so.0.
        .library(name: "gfapi", type: .dynamic, targets: ["MortarGFAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The vocabulary every other module speaks: the operation table, FileID, attributes, errors, limits.
        .target(name: "MortarCore", dependencies: [nio, logging], swiftSettings: strictSettings),
        // C shims for Linux calls Glibc does not expose to Swift (fallocate, xattrs, renameat2, …).
        .target(name: "CMortarLinux", path: "Sources/CMortarLinux"),
        // The binary wire format: frames, handshake, request and reply codecs. Pure, no sockets.
        .target(name: "MortarWire", dependencies: ["MortarCore", nio], swiftSettings: strictSettings),
        // Who may connect: the cluster CA, certificates and their roles, TLS contexts, revocations.
        .target(name: "MortarSecurity", dependencies: ["MortarCore", nio, nioSSL, x509, crypto, asn1],
                path: "Sources/Security", swiftSettings: strictSettings),
        // NIO channels: framing, handshake, request-id multiplexing for client and server.
        .target(name: "MortarTransport", dependencies: ["MortarCore", "CMortarLinux", "MortarWire", "MortarSecurity", nio, nioSSL, nioPosix, logging],
                swiftSettings: strictSettings),
        // Metrics in Prometheus's text format: a registry per process (swift-metrics over swift-prometheus), and
        // expositions of several processes merged into one.
        .target(name: "MortarMetrics", dependencies: ["MortarCore", coreMetrics, prometheus],
                path: "Sources/Metrics", swiftSettings: strictSettings),
        // Brick side: the operation table over a local directory, and the server that exposes it.
        .target(name: "MortarPosixStorage", dependencies: ["MortarCore", "CMortarLinux", nio, nioPosix, logging],
                path: "Sources/Brick/PosixStorage", swiftSettings: strictSettings),
        .target(name: "MortarBrickServer", dependencies: ["MortarSecurity", "MortarCore", "MortarWire", "MortarTransport",
                                                          "MortarMetrics", coreMetrics, nio, nioPosix, logging, serviceLifecycle],
                path: "Sources/Brick/BrickServer", swiftSettings: strictSettings),
        // Client layers, one module each, grouped by role.
        .target(name: "MortarProtocolClient", dependencies: ["MortarSecurity", "MortarCore", "CMortarLinux", "MortarWire",
                                                             "MortarTransport", nio, nioPosix, logging],
                path: "Sources/Layers/Protocol/ProtocolClient", swiftSettings: strictSettings),
        .target(name: "MortarDistribute", dependencies: ["MortarCore", "MortarVolumeSpec", nio, logging],
                path: "Sources/Layers/Cluster/Distribute", swiftSettings: strictSettings),
        .target(name: "MortarReplicate", dependencies: ["MortarCore", "MortarMembership", nio, logging],
                path: "Sources/Layers/Cluster/Replicate", swiftSettings: strictSettings),
        .target(name: "MortarMeter", dependencies: ["MortarCore", "MortarMetrics", coreMetrics, nio],
                path: "Sources/Layers/Meter", swiftSettings: strictSettings),
        // The volume spec: the layer graph as data, with typed options. Pure Codable values.
        .target(name: "MortarVolumeSpec", path: "Sources/VolumeSpec", swiftSettings: strictSettings),
        // The builder that turns a volume spec into a stack of layers.
        .target(name: "MortarVolumeGraph", dependencies: ["MortarSecurity", "MortarCore", "MortarVolumeSpec", "MortarProtocolClient",
                                                          "MortarDistribute", "MortarReplicate", "MortarMembership",
                                                          "MortarTransport", nio, logging],
                path: "Sources/VolumeGraph", swiftSettings: strictSettings),
        // Replication: each replica set's membership (epochs, in-sync members, heal sources) as a pure state machine.
        .target(name: "MortarMembership", dependencies: ["MortarCore"],
                path: "Sources/Replication/Membership", swiftSettings: strictSettings),
        // Replication, brick side: a member's layer — primary ordering and forwarding, epoch checks.
        .target(name: "MortarReplicaMember", dependencies: ["MortarCore", "MortarMembership", nio, nioPosix,
                                                            logging],
                path: "Sources/Replication/Member", swiftSettings: strictSettings),
        // The brick a `mortar brick` process runs, assembled in one place: storage, replica member, permissions,
        // locks and the server over them, and the manager agent that places a member in its replica set.
        .target(name: "MortarBrick", dependencies: ["MortarSecurity", "MortarCore", "MortarPosixStorage", "MortarReplicaMember",
                                                    "MortarBrickServer", "MortarTransport", "MortarMembership",
                                                    "MortarManagementAPI", "MortarProtocolClient",
                                                    "MortarVolumeGraph", "MortarVolumeSpec", nio, nioPosix, logging,
                                                    serviceLifecycle,
                                                    .product(name: "UnixSignals",
                                                             package: "swift-service-lifecycle")],
                path: "Sources/Brick/Assembly", swiftSettings: strictSettings),
        // Management: the catalog as a pure state machine, and the daemon that shells it.
        .target(name: "MortarCatalog", dependencies: ["MortarCore", "MortarVolumeSpec", "MortarMembership"],
                path: "Sources/Management/Catalog", swiftSettings: strictSettings),
        // One bounded HTTP/1.1 exchange, the transport under the management client and the etcd client.
        .target(name: "MortarHTTPClient", dependencies: ["MortarSecurity", "MortarCore", nio, nioPosix, nioHTTP1],
                path: "Sources/Management/HTTPClient", swiftSettings: strictSettings),
        // A typed client of etcd's v3 JSON gateway: ranges, transactions that compare revisions, leases.
        .target(name: "MortarEtcd", dependencies: ["MortarHTTPClient", "MortarSecurity", "MortarCore", nio, nioPosix, nioHTTP1],
                path: "Sources/Management/Etcd", swiftSettings: strictSettings),
        // The management API's messages and its HTTP/JSON client, shared by the daemon, the CLI and the library.
        .target(name: "MortarManagementAPI", dependencies: ["MortarSecurity", "MortarCore", "MortarVolumeSpec", "MortarMembership",
                                                            "MortarHTTPClient", nio, nioPosix, nioHTTP1, logging],
                path: "Sources/Management/ManagementAPI", swiftSettings: strictSettings),
        .target(name: "MortarDaemon", dependencies: ["MortarSecurity", "MortarCore", "MortarCatalog", "MortarManagementAPI", "MortarEtcd",
                                                     "MortarMembership", "MortarVolumeSpec", "MortarTransport",
                                                     "MortarWire", "CMortarLinux", "MortarMetrics", coreMetrics, nio, nioPosix, nioHTTP1,
                                                     logging, serviceLifecycle],
                path: "Sources/Management/Daemon", swiftSettings: strictSettings),
        // The client library applications link: `import Mortar`.
        .target(name: "Mortar", dependencies: ["MortarSecurity", "MortarCore", "MortarVolumeGraph", "MortarVolumeSpec",
                                               "MortarManagementAPI", "MortarMeter", nio, nioPosix, nioConcurrency, logging],
                swiftSettings: strictSettings),
        // The libgfapi-compatible C library: `glfs_*` functions that convert C arguments and forward to `Mortar`.
        .target(name: "CMortarGFAPI", path: "Sources/GFAPI/CShims"),
        .target(name: "MortarGFAPI", dependencies: ["Mortar", "CMortarGFAPI", "MortarCore", nio, nioPosix, nioConcurrency, logging],
                path: "Sources/GFAPI/Library", swiftSettings: strictSettings,
                linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(gfapiVersionScript)",
                                               "-Xlinker", "-soname=libgfapi.so.0"])]),
        // The FUSE mount: libfuse3's low-level API (a C target for what its macros and bit fields hide from Swift)
        // and the bridge from kernel requests to the client library's layer stack.
        .target(name: "CFuse", path: "Sources/FUSE/CFuse", linkerSettings: [.linkedLibrary("fuse3")]),
        .target(name: "MortarFUSE", dependencies: ["Mortar", "MortarCore", "MortarTransport", "CFuse", nio, logging],
                path: "Sources/FUSE/MortarFUSE", swiftSettings: strictSettings),
        // Test support shipped as a library: the in-memory reference file system and the conformance suite.
        .target(name: "MortarTesting", dependencies: ["MortarCore", "MortarSecurity", "MortarEtcd", "CMortarLinux", nio], swiftSettings: strictSettings),
        // The `mortar` command: CLI, daemon, brick process.
        .target(name: "MortarCommands", dependencies: ["MortarSecurity", "Mortar", "MortarMeter", "MortarFUSE", "MortarDaemon", "MortarManagementAPI", "MortarEtcd",
                                                       "MortarBrick", "MortarBrickServer", "MortarTransport", "MortarMembership",
                                                       "MortarVolumeGraph", "MortarVolumeSpec",
                                                       "MortarWire", "CMortarLinux",
                                                       "MortarCore", argumentParser,
                                                       logging, serviceLifecycle, nio, nioPosix,
                                                       .product(name: "UnixSignals", package: "swift-service-lifecycle")],
                path: "Sources/MortarCommands", swiftSettings: strictSettings),
        .executableTarget(name: "mortar", dependencies: ["MortarCommands"], swiftSettings: strictSettings),

        .testTarget(name: "MortarCoreTests", dependencies: ["MortarCore", "MortarMetrics", "MortarTesting", nio, nioEmbedded]),
        .testTarget(name: "MortarSecurityTests", dependencies: ["MortarSecurity", "MortarTesting", "MortarCore"]),
        .testTarget(name: "MortarEtcdTests", dependencies: ["MortarEtcd", "MortarSecurity", "MortarTesting", "MortarCore"]),
        .testTarget(name: "MortarMembershipTests", dependencies: ["MortarMembership", "MortarCore", "MortarTesting"]),
        .testTarget(name: "MortarWireTests", dependencies: ["MortarWire", "MortarCore", "MortarTesting", nio]),
        .testTarget(name: "MortarStorageTests", dependencies: ["MortarPosixStorage", "MortarCore", "MortarTesting", nio, nioPosix]),
        .testTarget(name: "MortarDistributeTests", dependencies: ["MortarDistribute", "MortarTesting", "MortarCore",
                                                                  "MortarVolumeSpec", nio, logging]),
        .testTarget(name: "MortarCatalogTests", dependencies: ["MortarSecurity", "MortarCatalog", "MortarVolumeSpec", "MortarCore", "MortarTesting",
                                                               "MortarMembership", "MortarDaemon", "MortarWire",
                                                               "MortarManagementAPI", "MortarHTTPClient", "MortarEtcd", nio, nioPosix, nioHTTP1]),
        .testTarget(name: "MortarStackTests", dependencies: ["MortarSecurity", "Mortar", "MortarBrick", "MortarBrickServer", "MortarPosixStorage", "CMortarLinux",
                                                             "MortarTesting", "MortarCore", "MortarProtocolClient",
                                                             "MortarDistribute", "MortarTransport", "MortarWire",
                                                             "MortarVolumeGraph", "MortarVolumeSpec",
                                                             "MortarReplicate", "MortarReplicaMember", "MortarMetrics", "MortarMeter",
                                                             "MortarMembership", nio, nioPosix, nioEmbedded, logging]),
        .testTarget(name: "MortarIntegrationTests", dependencies: ["MortarTransport", nioPosix, "MortarTesting", "MortarSecurity", "MortarCore", "Mortar", "MortarManagementAPI",
                                                                   "MortarMembership", "MortarDaemon", nio]),
        .testTarget(name: "MortarFUSETests", dependencies: ["MortarFUSE", "MortarCommands", "Mortar", "MortarCore",
                                                           "MortarManagementAPI", "MortarMembership"]),
    ]
)
