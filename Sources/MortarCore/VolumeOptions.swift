import Glibc

/// A volume's settable options (`mortar volume set|get|reset`), by the names GlusterFS gives them, and the access
/// policy bricks derive from them. Pure: the catalog validates with it, bricks enforce with it.
///
/// - `auth.allow`, `auth.reject`: comma-separated client addresses — an IPv4 or IPv6 address, an IPv4 address with
///   `*` for whole octets (`192.168.1.*`), or a CIDR block (`10.0.0.0/8`, `fd00::/8`); `*` alone is everyone.
///   A client whose address matches `auth.reject` is refused; otherwise it must match `auth.allow` (default `*`).
///   A client on a brick's Unix socket counts as `127.0.0.1` and `::1`.
/// - `auth.ssl-allow`: comma-separated certificate names (`*`, the default, is every certificate of the cluster's
///   CA). With TLS on, a client whose certificate's name is not listed is refused.
///
/// The cluster's own hosts (a certificate with the host role: other members forwarding changes, healing) are never
/// refused by these lists: an allow-list need not name the bricks themselves.
/// - `server.root-squash on|off`: requests from uid 0 run as `server.anonuid`, gid 0 as `server.anongid`
///   (default 65534, `nobody`); `server.all-squash on|off`: every request does.
public struct VolumeOptions: Sendable, Hashable {
    /// Every option name, with its default; `volume get VOL all` lists these.
    public static let defaults: [String: String] = [
        "auth.allow": "*", "auth.reject": "", "server.root-squash": "off", "server.all-squash": "off",
        "server.anonuid": "65534", "server.anongid": "65534", "auth.ssl-allow": "*",
        "performance.read-ahead": "on", "performance.write-behind": "on", "performance.local-reads": "on",
        "diagnostics.profile": "off", "cluster.rebal-throttle": "normal",
    ]

    public var allow: [AddressPattern] = [.everyone]
    public var reject: [AddressPattern] = []
    public var rootSquash = false
    public var allSquash = false
    public var anonymousUserID: UInt32 = 65534
    public var anonymousGroupID: UInt32 = 65534
    /// Certificate names `auth.ssl-allow` admits; nil is every one.
    public var certificateNames: Set<String>?
    /// Clients read ahead of sequential readers (`performance.read-ahead`; see the library's `ReadAheadWindow`).
    /// A client option: it travels in the volume's spec, and bricks ignore it.
    public var readAhead = true
    /// Clients acknowledge writes before the bricks have them, until `fsync` (`performance.write-behind`; see the
    /// library's `WriteBehind`). A client option, like `readAhead`.
    public var writeBehind = true
    /// Clients on a brick's host read files through a descriptor the brick hands over instead of over the
    /// connection (`performance.local-reads`; short-circuit local reads). A client option, like `readAhead`.
    public var localReads = true
    /// Bricks count every request per operation and per file for `volume profile` and `volume top`
    /// (`diagnostics.profile`, which `volume profile VOL start|stop` sets). A brick option.
    public var profile = false
    /// How many files a rebalance moves at once (`cluster.rebal-throttle`: `lazy`, `normal` or `aggressive`, as
    /// GlusterFS names them). A daemon option: the manager's rebalance reads it when a run starts.
    public var rebalanceThrottle = "normal"

    public init() {}

    /// The typed options from the set ones (names not given take their defaults). Throws EINVAL naming the option
    /// and what was wrong with its value, or an unknown name.
    public init(_ values: [String: String]) throws(FileSystemError) {
        for (name, value) in values { try Self.apply(name, value, to: &self) }
    }

    /// Checks one option as `volume set` gives it; returns the value as it will be stored (trimmed).
    public static func validate(_ name: String, _ value: String) throws(FileSystemError) -> String {
        var scratch = VolumeOptions()
        let trimmed = value.trimmingSpaces
        try apply(name, trimmed, to: &scratch)
        return trimmed
    }

    private static func apply(_ name: String, _ value: String, to options: inout VolumeOptions) throws(FileSystemError) {
        switch name {
        case "auth.allow": options.allow = try AddressPattern.list(value, option: name)
        case "auth.reject": options.reject = try AddressPattern.list(value, option: name)
        case "server.root-squash": options.rootSquash = try flag(name, value)
        case "server.all-squash": options.allSquash = try flag(name, value)
        case "server.anonuid": options.anonymousUserID = try identity(name, value)
        case "server.anongid": options.anonymousGroupID = try identity(name, value)
        case "auth.ssl-allow": options.certificateNames = try certificateNames(name, value)
        case "performance.read-ahead": options.readAhead = try flag(name, value)
        case "performance.write-behind": options.writeBehind = try flag(name, value)
        case "performance.local-reads": options.localReads = try flag(name, value)
        case "diagnostics.profile": options.profile = try flag(name, value)
        case "cluster.rebal-throttle":
            guard ["lazy", "normal", "aggressive"].contains(value) else {
                throw FileSystemError.invalidArgument("\(name) is lazy, normal or aggressive, not '\(value)'")
            }
            options.rebalanceThrottle = value
        default:
            let known = defaults.keys.sorted().joined(separator: ", ")
            throw FileSystemError.invalidArgument("unknown volume option '\(name)'; the options are \(known)")
        }
    }

    private static func flag(_ name: String, _ value: String) throws(FileSystemError) -> Bool {
        switch value.lowercased() {
        case "on", "yes", "true", "enable", "1": return true
        case "off", "no", "false", "disable", "0": return false
        default: throw FileSystemError.invalidArgument("\(name) takes on or off, not '\(value)'")
        }
    }

    private static func identity(_ name: String, _ value: String) throws(FileSystemError) -> UInt32 {
        // 4294967295 is (uid_t)-1, "no change" to chown: never an identity.
        guard let number = UInt32(value), number < UInt32.max else {
            throw FileSystemError.invalidArgument("\(name) takes a number from 0 to 4294967294, not '\(value)'")
        }
        return number
    }

    private static func certificateNames(_ name: String, _ value: String) throws(FileSystemError) -> Set<String>? {
        let names = value.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        if names.contains("*") { return nil }
        guard !names.isEmpty else {
            throw FileSystemError.invalidArgument("\(name) needs certificate names, or * for every certificate")
        }
        for entry in names where entry.utf8.contains(where: { $0 <= 0x20 || $0 == 0x2f }) {
            throw FileSystemError.invalidArgument("\(name): '\(entry)' is not a certificate name")
        }
        return Set(names)
    }

    /// Whether a client may connect: by its address (nil: the brick's Unix socket) and, when connections are
    /// authenticated, by its certificate's name. A cluster host (`isClusterHost`) is always admitted. The refusal
    /// names why.
    public func admit(_ address: String?, certificateName: String?, isClusterHost: Bool) throws(FileSystemError) {
        guard !isClusterHost else { return }
        try admit(address)
        if let certificateName, let certificateNames, !certificateNames.contains(certificateName) {
            throw FileSystemError(.permissionDenied, "certificate '\(certificateName)' is not in auth.ssl-allow")
        }
    }

    /// Whether a client at `address` (nil: the brick's Unix socket) may connect; the refusal names why.
    public func admit(_ address: String?) throws(FileSystemError) {
        let addresses = address.map { [$0] } ?? ["127.0.0.1", "::1"]
        let shown = address ?? "a local client (127.0.0.1)"
        if let rule = reject.first(where: { rule in addresses.contains { rule.matches($0) } }) {
            throw FileSystemError(.permissionDenied, "\(shown) is refused by auth.reject (\(rule))")
        }
        guard allow.contains(where: { rule in addresses.contains { rule.matches($0) } }) else {
            throw FileSystemError(.permissionDenied, "\(shown) is not in auth.allow")
        }
    }

    /// The identity a client's request runs as: squashed as the options say.
    public func squash(userID: UInt32, groupID: UInt32, groups: [UInt32]) -> (UInt32, UInt32, [UInt32]) {
        if allSquash { return (anonymousUserID, anonymousGroupID, []) }
        guard rootSquash else { return (userID, groupID, groups) }
        return (
            userID == 0 ? anonymousUserID : userID, groupID == 0 ? anonymousGroupID : groupID,
            groups.filter { $0 != 0 }
        )
    }
}

/// One entry of `auth.allow` or `auth.reject`.
public enum AddressPattern: Sendable, Hashable, CustomStringConvertible {
    case everyone
    /// Four octets, nil where the pattern has `*`.
    case ipv4([UInt8?])
    case ipv4Block(UInt32, prefix: Int)
    case ipv6Block([UInt8], prefix: Int)

    /// The entries of a comma-separated list; empty entries are ignored.
    static func list(_ text: String, option: String) throws(FileSystemError) -> [AddressPattern] {
        var patterns: [AddressPattern] = []
        for entry in text.split(separator: ",") {
            let trimmed = String(entry).trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            guard let pattern = AddressPattern(trimmed) else {
                throw FileSystemError.invalidArgument(
                    "\(option): '\(trimmed)' is not an address, an IPv4 address with * octets, or a CIDR block "
                        + "(host names are not accepted: they can change under a running brick)")
            }
            patterns.append(pattern)
        }
        return patterns
    }

    public init?(_ text: String) {
        if text == "*" {
            self = .everyone
            return
        }
        if let slash = text.firstIndex(of: "/") {
            guard let prefix = Int(text[text.index(after: slash)...]) else { return nil }
            let address = String(text[..<slash])
            if let ipv4 = Self.ipv4Bytes(address), (0...32).contains(prefix) {
                self = .ipv4Block(Self.number(ipv4), prefix: prefix)
            } else if let ipv6 = Self.ipv6Bytes(address), (0...128).contains(prefix) {
                self = .ipv6Block(ipv6, prefix: prefix)
            } else {
                return nil
            }
            return
        }
        if let ipv6 = Self.ipv6Bytes(text) {
            self = .ipv6Block(ipv6, prefix: 128)
            return
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8?] = []
        for part in parts {
            if part == "*" {
                octets.append(nil)
            } else if let octet = UInt8(part), part.count <= 3 {
                octets.append(octet)
            } else {
                return nil
            }
        }
        self = .ipv4(octets)
    }

    public func matches(_ address: String) -> Bool {
        switch self {
        case .everyone:
            return true
        case .ipv4(let pattern):
            guard let bytes = Self.ipv4Bytes(address) else { return false }
            return zip(pattern, bytes).allSatisfy { $0 == nil || $0 == $1 }
        case .ipv4Block(let network, let prefix):
            guard let bytes = Self.ipv4Bytes(address) else { return false }
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            return Self.number(bytes) & mask == network & mask
        case .ipv6Block(let network, let prefix):
            guard let bytes = Self.ipv6Bytes(address) else { return false }
            for bit in 0..<prefix where (bytes[bit / 8] ^ network[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 {
                return false
            }
            return true
        }
    }

    public var description: String {
        switch self {
        case .everyone: "*"
        case .ipv4(let octets): octets.map { $0.map(String.init) ?? "*" }.joined(separator: ".")
        case .ipv4Block(let network, let prefix):
            "\(network >> 24).\(network >> 16 & 0xFF).\(network >> 8 & 0xFF).\(network & 0xFF)/\(prefix)"
        case .ipv6Block(let bytes, let prefix):
            stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "/\(prefix)"
        }
    }

    private static func number(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The 4 bytes of a dotted IPv4 address, as inet_pton(3) reads it.
    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        addressBytes(text, family: AF_INET, count: 4)
    }

    /// The 16 bytes of an IPv6 address (`::` shorthand and a trailing dotted IPv4 part), as inet_pton(3) reads it.
    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        addressBytes(text, family: AF_INET6, count: 16)
    }

    private static func addressBytes(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let parsed = bytes.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return parsed == 1 ? bytes : nil
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
