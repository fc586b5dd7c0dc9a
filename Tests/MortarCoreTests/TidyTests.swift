import Foundation
import Testing

/// Style rules that hold only if something checks them (docs/ARCHITECTURE.md, aesthetics rule 13): small files,
/// no `try!`, no detached tasks, no printing from library modules.
@Suite("Tidy")
struct TidyTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func sourceFiles() throws -> [(path: String, lines: [Substring])] {
        let sources = packageRoot.appendingPathComponent("Sources")
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        var files: [(String, [Substring])] = []
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: url, encoding: .utf8)
            files.append((url.path.replacingOccurrences(of: packageRoot.path + "/", with: ""), text.split(
                separator: "\n", omittingEmptySubsequences: false)))
        }
        return files
    }

    static let fileLinesMax = 400

    @Test func sourceFilesStaySmall() throws {
        let files = try Self.sourceFiles()
        #expect(files.count > 50, "the tidy test must actually see the sources")
        for file in files {
            #expect(file.lines.count <= Self.fileLinesMax, "\(file.path) has \(file.lines.count) lines")
        }
    }

    @Test func noBannedConstructs() throws {
        for file in try Self.sourceFiles() {
            let isExecutable = file.path.hasPrefix("Sources/MortarCommands") || file.path.hasPrefix("Sources/mortar/")
            for (number, line) in file.lines.enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                #expect(!code.contains("try!"), "\(file.path):\(number + 1) uses try!")
                #expect(!code.contains("Task.detached"), "\(file.path):\(number + 1) detaches a task")
                if !isExecutable {
                    #expect(!code.contains("print("), "\(file.path):\(number + 1) prints from a library")
                }
            }
        }
    }
}
