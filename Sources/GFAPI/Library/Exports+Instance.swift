import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Creating, configuring, connecting and finishing a client instance (`glfs_t`).

@_cdecl("glfs_new")
public func glfs_new(_ volumeName: UnsafePointer<CChar>?) -> UnsafeMutableRawPointer? {
    CallBridge.immediate(returning: nil) {
        let name = try String(cArgument: volumeName, "volume name")
        try ClientInstance.validate(volumeName: name)
        guard let handle = Registry.clients.insert(ClientInstance(volumeName: name)) else {
            throw FileSystemError(.outOfMemory, "too many client instances")
        }
        return handle
    }
}

/// Adds a spec server; called once per server. Transport NULL or "tcp" (and "rdma", served over TCP); "unix" takes
/// a socket path as `host`. Port 0 is the default port, 24007.
@_cdecl("glfs_set_volfile_server")
public func glfs_set_volfile_server(
    _ handle: UnsafeMutableRawPointer?, _ transport: UnsafePointer<CChar>?, _ host: UnsafePointer<CChar>?,
    _ port: CInt
) -> CInt {
    CallBridge.immediate(returning: -1) {
        let client = try clientInstance(handle)
        let server = try specServer(transport: transport, host: host, port: port)
        client.state.withLock { state in
            if !state.servers.contains(server) { state.servers.append(server) }
        }
        return 0
    }
}

@_cdecl("glfs_unset_volfile_server")
public func glfs_unset_volfile_server(
    _ handle: UnsafeMutableRawPointer?, _ transport: UnsafePointer<CChar>?, _ host: UnsafePointer<CChar>?,
    _ port: CInt
) -> CInt {
    CallBridge.immediate(returning: -1) {
        let client = try clientInstance(handle)
        let server = try specServer(transport: transport, host: host, port: port)
        let removed = client.state.withLock { state -> Bool in
            guard let index = state.servers.firstIndex(of: server) else { return false }
            state.servers.remove(at: index)
            return true
        }
        guard removed else { throw FileSystemError.notFound("no such spec server") }
        return 0
    }
}

/// Chooses the log: a path, "-" for standard error, NULL for /var/log/mortar/gfapi.log; `level` on GlusterFS's
/// scale (0 none … 7 info … 9 trace; negative keeps the current level).
@_cdecl("glfs_set_logging")
public func glfs_set_logging(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ level: CInt)
    -> CInt
{
    CallBridge.immediate(returning: -1) {
        let client = try clientInstance(handle)
        let current = client.state.withLock { $0.log }
        let destinationPath = path.map { String(cString: $0) } ?? LogDestination.defaultPath
        if path == nil { _ = mkdir("/var/log/mortar", 0o755) }
        let glusterLevel = level >= 0 ? level : LogDestination.glusterLevel(of: current.level)
        let destination = try LogDestination.open(path: destinationPath, glusterLevel: glusterLevel)
        client.state.withLock { $0.log = destination }
        return 0
    }
}

/// Records a translator option. Mortar's stack has no GlusterFS translators; options are accepted (programs
/// such as qemu fail to open images otherwise) and logged.
@_cdecl("glfs_set_xlator_option")
public func glfs_set_xlator_option(
    _ handle: UnsafeMutableRawPointer?, _ translator: UnsafePointer<CChar>?, _ key: UnsafePointer<CChar>?,
    _ value: UnsafePointer<CChar>?
) -> CInt {
    CallBridge.immediate(returning: -1) {
        let client = try clientInstance(handle)
        let name = try String(cArgument: translator, "translator") + "." + String(cArgument: key, "option key")
        let text = try String(cArgument: value, "option value")
        client.state.withLock { $0.options[name] = text }
        return 0
    }
}

@_cdecl("glfs_init")
public func glfs_init(_ handle: UnsafeMutableRawPointer?) -> CInt {
    guard let client = Registry.clients.lookup(handle) else {
        mortar_set_errno(EINVAL)
        return -1
    }
    return CallBridge.blocking(returning: -1) {
        try await client.connect()
        return 0
    }
}

/// Closes every descriptor still open (waiting for their calls and callbacks), disconnects, and retires the
/// handle. Works on an instance that was never initialised or failed to.
@_cdecl("glfs_fini")
public func glfs_fini(_ handle: UnsafeMutableRawPointer?) -> CInt {
    guard let client = Registry.clients.remove(handle) else {
        mortar_set_errno(EINVAL)
        return -1
    }
    let (volume, descriptors, serviceThread) = client.finish()
    var result: CInt = 0
    for descriptor in descriptors where closeDescriptor(UnsafeMutableRawPointer(bitPattern: descriptor)) != 0 {
        result = -1
    }
    if let volume {
        // Closing waits for the writes write-behind acknowledged, which ends the service thread's work.
        CallBridge.blocking(returning: ()) { await volume.close() }
    }
    serviceThread?.join()
    return result
}

/// Copies the volume's 16-byte identity into `buffer`; returns its length (also when `buffer` is NULL).
@_cdecl("glfs_get_volumeid")
public func glfs_get_volumeid(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int)
    -> CInt
{
    CallBridge.immediate(returning: -1) {
        let identity = volumeIdentityBytes(try clientInstance(handle).volume().volumeID)
        guard let buffer else { return CInt(identity.count) }
        guard size >= identity.count else {
            throw FileSystemError(.resultOutOfRange, "volume id needs \(identity.count) bytes, buffer has \(size)")
        }
        identity.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        return CInt(identity.count)
    }
}

func clientInstance(_ handle: UnsafeMutableRawPointer?) throws -> ClientInstance {
    guard let client = Registry.clients.lookup(handle) else {
        throw FileSystemError.invalidArgument("not a glfs_t of this library")
    }
    return client
}

private func specServer(transport: UnsafePointer<CChar>?, host: UnsafePointer<CChar>?, port: CInt) throws
    -> ClientInstance.SpecServer
{
    let host = try String(cArgument: host, "server host")
    let transport = transport.map { String(cString: $0) } ?? "tcp"
    switch transport {
    case "tcp", "rdma":
        guard (0...65535).contains(port) else { throw FileSystemError.invalidArgument("port \(port) out of range") }
        // Port 0 means the default, and then `host` may carry a port of its own ("HOST:PORT"): programs such as fio
        // pass only a host, and this is how their users reach a daemon on another port.
        if port == 0 { return .tcp(try ServerAddress(parsing: host)) }
        return .tcp(ServerAddress(host: host, port: Int(port)))
    case "unix":
        return .unixSocket(path: host)
    default:
        throw FileSystemError(.protocolNotSupported, "unknown transport '\(transport)'")
    }
}

/// The volume ID as 16 bytes: the UUID's own bytes when it is one, else a stable digest of the text.
func volumeIdentityBytes(_ volumeID: String) -> [UInt8] {
    let hex = volumeID.filter { $0 != "-" }
    if hex.count == 32, let bytes = Optional(stride(from: 0, to: 32, by: 2).compactMap({ offset -> UInt8? in
        let start = hex.index(hex.startIndex, offsetBy: offset)
        return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
    })), bytes.count == 16 {
        return bytes
    }
    var first: UInt64 = 0xcbf2_9ce4_8422_2325
    var second: UInt64 = 0x8422_2325_cbf2_9ce4
    for byte in volumeID.utf8 {
        first = (first ^ UInt64(byte)) &* 0x100_0000_01b3
        second = (second &* 0x100_0000_01b3) ^ UInt64(byte)
    }
    return withUnsafeBytes(of: (first, second)) { Array($0) }
}
