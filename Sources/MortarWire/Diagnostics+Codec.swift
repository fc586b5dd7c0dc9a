import MortarCore
import NIOCore

// The replies of `volume profile`, `volume top` and `volume status VOL clients` (see BrickDiagnostics.swift).
// Every list is bounded on both sides: the brick's encoder writes at most the bound (a longer list is cut, a longer
// string clipped to whole characters), and the reader refuses more before it allocates anything, so neither a bug
// nor a hostile peer can make a reply outgrow a frame.

extension ByteBuffer {
    /// `text`, cut to at most `byteCountMax` bytes of whole characters.
    mutating func writeBoundedString(_ text: String, byteCountMax: Int) {
        guard text.utf8.count > byteCountMax else { return writeWireString(text) }
        // The longest prefix of whole characters within the bound, in one pass (dropping the last character until
        // it fit counted the rest again each time: quadratic, and seconds of CPU for one long path).
        var end = text.startIndex
        var byteCount = 0
        for character in text {
            byteCount += character.utf8.count
            guard byteCount <= byteCountMax else { break }
            end = text.index(after: end)
        }
        writeWireString(String(text[..<end]))
    }

    mutating func writeBrickProfile(_ profile: BrickProfile) {
        writeBool(profile.profiling)
        writeProfileInterval(profile.cumulative)
        writeProfileInterval(profile.interval)
    }

    private mutating func writeProfileInterval(_ interval: ProfileInterval) {
        writeInteger(interval.nanoseconds)
        let operations = interval.operations.prefix(Limits.profileOperationsMax)
        writeInteger(UInt16(operations.count))
        for operation in operations {
            writeBoundedString(operation.operation, byteCountMax: Limits.profileOperationNameByteCountMax)
            for value in [
                operation.calls, operation.errors, operation.totalNanoseconds, operation.minNanoseconds,
                operation.maxNanoseconds, operation.p99Nanoseconds, operation.bytesRead, operation.bytesWritten,
            ] {
                writeInteger(value)
            }
        }
    }

    mutating func writeBrickTop(_ top: BrickTop) {
        writeBool(top.profiling)
        let entries = top.entries.prefix(Limits.profileTopCountMax)
        writeInteger(UInt16(entries.count))
        for entry in entries {
            writeFileID(entry.id)
            writeOptional(entry.path) { $0.writeBoundedString($1, byteCountMax: Limits.pathByteCountMax) }
            writeInteger(entry.count)
            writeInteger(entry.bytes)
        }
    }

    mutating func writeBrickClients(_ clients: BrickClients) {
        let listed = clients.clients.prefix(Limits.brickClientsReportedMax)
        // Never fewer in total than listed: the reader refuses that.
        writeInteger(UInt32(clamping: max(clients.total, listed.count)))
        writeInteger(UInt16(listed.count))
        for client in listed {
            writeBoundedString(client.address, byteCountMax: Limits.clientAddressByteCountMax)
            writeBoundedString(client.name, byteCountMax: Limits.nameByteCountMax)
            writeOptional(client.certificate) { $0.writeBoundedString($1, byteCountMax: Limits.nameByteCountMax) }
            for value in [
                client.openFiles, client.requests, client.bytesRead, client.bytesWritten, client.connectedSeconds,
            ] {
                writeInteger(value)
            }
        }
    }
}

extension WireReader {
    mutating func brickProfile() throws(WireError) -> BrickProfile {
        let profiling = try bool("profiling")
        let cumulative = try profileInterval()
        return BrickProfile(profiling: profiling, cumulative: cumulative, interval: try profileInterval())
    }

    private mutating func profileInterval() throws(WireError) -> ProfileInterval {
        let nanoseconds = try integer(UInt64.self, "profile interval")
        let count = Int(try integer(UInt16.self, "profiled operation count"))
        guard count <= Limits.profileOperationsMax else {
            throw WireError("\(count) profiled operations exceed \(Limits.profileOperationsMax)")
        }
        var operations: [OperationProfile] = []
        operations.reserveCapacity(count)
        for _ in 0..<count {
            let name = try string("operation name", byteCountMax: Limits.profileOperationNameByteCountMax)
            var values: [UInt64] = []
            for _ in 0..<8 { values.append(try integer(UInt64.self, "operation profile")) }
            operations.append(
                OperationProfile(
                    operation: name, calls: values[0], errors: values[1], totalNanoseconds: values[2],
                    minNanoseconds: values[3], maxNanoseconds: values[4], p99Nanoseconds: values[5],
                    bytesRead: values[6], bytesWritten: values[7]))
        }
        return ProfileInterval(nanoseconds: nanoseconds, operations: operations)
    }

    mutating func brickTop() throws(WireError) -> BrickTop {
        let profiling = try bool("profiling")
        let count = Int(try integer(UInt16.self, "top entry count"))
        guard count <= Limits.profileTopCountMax else {
            throw WireError("\(count) top entries exceed \(Limits.profileTopCountMax)")
        }
        var entries: [TopEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = try fileID("top file")
            let path = try optional("top path") { (r) throws(WireError) in try r.string("top path") }
            entries.append(
                TopEntry(
                    id: id, path: path, count: try integer(UInt64.self, "top count"),
                    bytes: try integer(UInt64.self, "top bytes")))
        }
        return BrickTop(profiling: profiling, entries: entries)
    }

    mutating func brickClients() throws(WireError) -> BrickClients {
        let total = Int(try integer(UInt32.self, "client total"))
        let count = Int(try integer(UInt16.self, "client count"))
        guard count <= Limits.brickClientsReportedMax, count <= total else {
            throw WireError("\(count) clients listed of \(total) (at most \(Limits.brickClientsReportedMax))")
        }
        var clients: [ConnectedClient] = []
        clients.reserveCapacity(count)
        for _ in 0..<count {
            let address = try string("client address", byteCountMax: Limits.clientAddressByteCountMax)
            let name = try string("client name", byteCountMax: Limits.nameByteCountMax)
            let certificate = try optional("client certificate") { (r) throws(WireError) in
                try r.string("client certificate", byteCountMax: Limits.nameByteCountMax)
            }
            var values: [UInt64] = []
            for _ in 0..<5 { values.append(try integer(UInt64.self, "client counts")) }
            clients.append(
                ConnectedClient(
                    address: address, name: name, certificate: certificate, openFiles: values[0],
                    requests: values[1], bytesRead: values[2], bytesWritten: values[3], connectedSeconds: values[4]))
        }
        return BrickClients(total: total, clients: clients)
    }
}
