import MortarCore

/// The `-o` options of `mortar mount` (and of an fstab line): Mortar's own, the kernel's generic mount flags that
/// are passed on, and fstab bookkeeping that is accepted and ignored.
public struct MountOptions: Sendable, Equatable {
    /// How long the kernel may trust attributes (stat) and names (lookups) it got from the mount, in seconds.
    /// Longer is faster for metadata-heavy work; shorter shows other clients' changes sooner.
    public var attributeTimeout: Double = 1
    public var entryTimeout: Double = 1
    /// How long the kernel may remember that a name does not exist (0: ask again every time).
    public var negativeTimeout: Double = 0
    /// The kernel's writeback cache: writes gather in the page cache and reach the volume in large batches. Faster
    /// for small writes; other clients see data only after it is flushed.
    public var writebackCache = false
    /// Every file bypasses the kernel's page cache, as if opened with O_DIRECT.
    public var directIO = false
    /// Keeps a file's cached pages when it is opened again (only right when no other client changes files).
    public var keepCache = false
    /// Kernel read-ahead for the mount, in KiB (written to the mount's bdi after mounting); nil leaves the
    /// kernel's default.
    public var readAheadKiB: Int? = 1024
    /// Threads libfuse may use to read requests, and whether each gets its own /dev/fuse descriptor.
    public var threadCount = 4
    public var cloneDescriptor = true
    /// Lets users other than the one who mounted reach the mount (the kernel checks permissions from the modes).
    public var allowOther = true
    /// Requests run on the event loop of the volume's connections (else on Swift's cooperative pool).
    public var eventLoopRequests = true
    public var readOnly = false
    /// Where a mount in the background writes its log, and how much.
    public var logFile: String?
    public var logLevel: String?
    /// The directory with the mount's certificate (`glusterfs.pem`, `.key`, `.ca`); nil looks where every client
    /// does (`$MORTAR_TLS_DIR`, `~/.config/mortar/tls`, `/etc/ssl`, `/usr/lib/ssl`). `tls_dir=off` mounts without TLS.
    public var tlsDirectory: String?
    /// Other daemons to fetch the volume from, and to follow replica sets' views through, when the source's
    /// cannot be reached (`backup_servers=HOST2:HOST3`, or GlusterFS's `backup-volfile-servers=`); they take
    /// the source's port.
    public var backupServers: [String] = []
    /// Where the mount serves its client metrics at `/metrics` (`metrics=HOST:PORT`, `[IPv6]:PORT` for IPv6);
    /// nil serves none and counts nothing.
    public var metricsHost: String?
    public var metricsPort: Int?
    /// Kernel mount flags passed through as they are (nosuid, nodev, noexec, noatime, …).
    public var kernelFlags: [String] = []

    public init() {}

    /// Flags the kernel's mount(2) understands for any file system, passed through unchanged.
    static let kernelFlagNames: Set<String> = [
        "suid", "nosuid", "dev", "nodev", "exec", "noexec", "atime", "noatime", "diratime", "nodiratime",
        "relatime", "norelatime", "strictatime", "lazytime", "nolazytime", "sync", "async", "dirsync",
    ]
    /// What fstab lines and mount(8) add for their own use; they mean nothing to the mount itself.
    static let ignoredNames: Set<String> = [
        "defaults", "_netdev", "nofail", "auto", "noauto", "user", "users", "nouser", "owner", "group", "rw",
        "loop", "silent", "loud",
    ]

    /// Parses a comma-separated list as `-o` takes it; several lists may be given. Unknown options are an error
    /// naming them, so a typo does not silently mount with defaults.
    public init(parsing lists: [String]) throws {
        self.init()
        for list in lists {
            for option in list.split(separator: ",").map(String.init) where !option.isEmpty {
                try apply(option)
            }
        }
    }

    private mutating func apply(_ option: String) throws {
        let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts[0]
        let value = parts.count > 1 ? parts[1] : nil
        if Self.ignoredNames.contains(name) || name.hasPrefix("x-") || name == "comment" { return }
        if Self.kernelFlagNames.contains(name), value == nil {
            kernelFlags.append(name)
            return
        }
        switch (name, value) {
        case ("attr_timeout", let text?): attributeTimeout = try Self.seconds(text, option)
        case ("entry_timeout", let text?): entryTimeout = try Self.seconds(text, option)
        case ("negative_timeout", let text?): negativeTimeout = try Self.seconds(text, option)
        case ("writeback_cache", nil): writebackCache = true
        case ("no_writeback_cache", nil): writebackCache = false
        case ("direct_io", nil): directIO = true
        case ("keep_cache", nil), ("kernel_cache", nil): keepCache = true
        case ("readahead_kb", let text?): readAheadKiB = try Self.count(text, option, in: 0...65536)
        case ("threads", let text?): threadCount = try Self.count(text, option, in: 1...Limits.mountThreadsMax)
        case ("clone_fd", nil): cloneDescriptor = true
        case ("noclone_fd", nil): cloneDescriptor = false
        case ("allow_other", nil): allowOther = true
        case ("noallow_other", nil): allowOther = false
        case ("ro", nil): readOnly = true
        case ("pool_requests", nil): eventLoopRequests = false
        case ("backup_servers", let list?), ("backup-volfile-servers", let list?):
            let hosts = list.split(separator: ":").map(String.init)
            guard !hosts.isEmpty, hosts.count <= Limits.backupServersMax, hosts.allSatisfy({ !$0.contains("/") }) else {
                throw FileSystemError.invalidArgument(
                    "mount option '\(option)' needs 1 to \(Limits.backupServersMax) host names separated by ':'")
            }
            backupServers = hosts
        case ("log", let path?): logFile = path
        case ("log_level", let level?): logLevel = level
        case ("tls_dir", let path?) where path == "off" || path.hasPrefix("/"): tlsDirectory = path
        case ("metrics", let address?):
            (metricsHost, metricsPort) = try Self.listenAddress(address, option)
        default:
            throw FileSystemError.invalidArgument("unknown mount option '\(option)'")
        }
    }

    /// `HOST:PORT` or `[IPv6]:PORT`, the port 1 to 65535.
    private static func listenAddress(_ text: String, _ option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            throw FileSystemError.invalidArgument("mount option '\(option)' needs HOST:PORT with a port from 1 to 65535")
        }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/") else {
            throw FileSystemError.invalidArgument("mount option '\(option)' needs a host before the port")
        }
        return (String(host), port)
    }

    private static func seconds(_ text: String, _ option: String) throws -> Double {
        guard let value = Double(text), value >= 0, value <= 86_400 else {
            throw FileSystemError.invalidArgument("mount option '\(option)' needs seconds between 0 and 86400")
        }
        return value
    }

    private static func count(_ text: String, _ option: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw FileSystemError.invalidArgument(
                "mount option '\(option)' needs a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// The `-o` list handed to libfuse: the kernel's permission checks, the name `mount` shows, and the flags
    /// passed through. Device nodes and set-user-ID files work as on a local file system (libfuse would mount
    /// nodev,nosuid), as NFS mounts default to; `-o nodev,nosuid` asks for the other (later flags win).
    func libfuseOptions(source: String) -> String {
        var list = ["default_permissions", "fsname=\(Self.escaped(source))", "subtype=mortar", "dev", "suid"]
        if allowOther { list.append("allow_other") }
        if readOnly { list.append("ro") }
        list += kernelFlags
        return list.joined(separator: ",")
    }

    /// libfuse splits its option list at commas; a comma in a value must be escaped.
    private static func escaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\\" || character == "," { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
