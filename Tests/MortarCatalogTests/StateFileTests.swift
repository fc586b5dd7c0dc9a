import Foundation
import MortarCatalog
import MortarCore
import MortarDaemon
import Testing

/// The catalog's file: atomic replacement, a format version, and a loud refusal of anything unreadable.
@Suite struct StateFileTests {
    @Test func catalogRoundTripsThroughTheFile() throws {
        let directory = try makeTemporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = StateFile<Catalog>(path: directory + "/catalog.json")
        #expect(try file.load() == nil)
        var catalog = Catalog(managerHost: "node1")
        _ = try catalog.apply(.createVolume(name: "data", id: "id", bricks: [BrickLocation(host: "node1", path: "/a")],
                                            force: false))
        try file.save(catalog)
        #expect(try file.load() == catalog)
        _ = try catalog.apply(.startVolume(name: "data"))
        try file.save(catalog)
        #expect(try file.load() == catalog)
        #expect(!FileManager.default.fileExists(atPath: directory + "/catalog.json.tmp"))
        let text = try String(contentsOfFile: directory + "/catalog.json", encoding: .utf8)
        #expect(text.contains("\"formatVersion\" : 1"))
    }

    @Test(arguments: ["not json at all", "{\"formatVersion\": 1, \"content\": {\"version\": \"x\"}}", "{}"])
    func corruptFileIsRefusedWithItsPath(contents: String) throws {
        let directory = try makeTemporaryDirectory("corrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/catalog.json"
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: FileSystemError.self) { try StateFile<Catalog>(path: path).load() }
        #expect(error.message.contains(path))
        #expect(error.message.contains("corrupt"))
    }

    @Test func newerFormatIsRefused() throws {
        let directory = try makeTemporaryDirectory("format")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/catalog.json"
        try Data("{\"formatVersion\": 99, \"content\": {}}".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: FileSystemError.self) { try StateFile<Catalog>(path: path).load() }
        #expect(error.message.contains("format version 99"))
    }

    @Test func daemonRefusesToStartOnACorruptCatalog() async throws {
        let directory = try makeTemporaryDirectory("corrupt-daemon")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: directory + "/catalog.json"))
        let configuration = DaemonConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, stateDirectory: directory, tlsDirectory: nil)
        await #expect(throws: FileSystemError.self) { _ = try await Daemon.start(configuration: configuration) }
    }
}
