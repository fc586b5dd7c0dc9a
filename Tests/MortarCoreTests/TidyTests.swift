import Foundation
import Testing

/// Style rules that hold only if something checks them (docs/ARCHITECTURE.md, aesthetics rule 13): small files,
/// no `try!`, no unstructured tasks, no printing from library modules.
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
                if !isExecutable {
                    #expect(!code.contains("print("), "\(file.path):\(number + 1) prints from a library")
                }
            }
        }
    }

    // MARK: Structured concurrency

    /// The only files under Sources/ that may start a task nobody's task group owns, each with why. Every other
    /// task is a child of a task group (or an `async let`), so it is cancelled and awaited when its owner is done.
    static let unstructuredTaskAllowList: [String: String] = [
        "Sources/Mortar/Blocking.swift":
            "Blocking.run, the bridge from a C thread into async code: the calling thread runs the task and waits for it",
        "Sources/FUSE/MortarFUSE/RequestTracker.swift":
            "the mount's bridge from libfuse's C threads: every request task is tracked, cancelled and waited for "
            + "when the mount ends",
        "Sources/GFAPI/Library/Descriptor+Calls.swift":
            "the drop-in's asynchronous calls (glfs_*_async): the C caller does not wait; the descriptor's activity "
            + "count makes close and fini wait until the task's callback has returned",
    ]

    /// The line numbers (from 1) of `lines` that start an unstructured task: `Task {`, `Task(…)`, `Task.detached`
    /// or `Task.immediate`, outside comments. (`Task.sleep`, `Task.isCancelled`, `Task<…>` as a type and a group's
    /// `addTask` are fine.)
    static func unstructuredTaskLines(_ lines: [Substring]) -> [Int] {
        let pattern = #/\bTask\s*(\{|\(|\.detached|\.immediate)/#
        return lines.enumerated().compactMap { number, line in
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return code.contains(pattern) ? number + 1 : nil
        }
    }

    @Test func noUnstructuredTasksInLibraries() throws {
        var used: Set<String> = []
        for file in try Self.sourceFiles() {
            let found = Self.unstructuredTaskLines(file.lines)
            guard !found.isEmpty else { continue }
            if Self.unstructuredTaskAllowList[file.path] != nil {
                used.insert(file.path)
                continue
            }
            for line in found {
                let advice = "make it a child of its owner's task group, or allow-list the file here with the reason"
                Issue.record("\(file.path):\(line) starts an unstructured task: \(advice)")
            }
        }
        // An allow-list entry whose task is gone must go too, or it would quietly allow the next one.
        for path in Self.unstructuredTaskAllowList.keys.sorted() where !used.contains(path) {
            Issue.record("\(path) is allow-listed for an unstructured task but starts none")
        }
    }

    /// The check itself must be able to fail.
    @Test func unstructuredTaskCheckFindsEveryForm() {
        let lines: [Substring] = [
            "let a = Task { await work() }",
            "Task(executorPreference: executor) {",
            "let b = Task.detached { }",
            "        Task {",
            "Task.immediate(executorPreference: executor) {",
            "try await Task.sleep(for: .seconds(1))",
            "guard !Task.isCancelled else { return }",
            "var tasks: [UInt64: Task<Void, Never>] = [:]",
            "group.addTask { await work() }",
            "await withTaskGroup(of: Void.self) { group in }",
            "// Task { in a comment }",
        ]
        #expect(Self.unstructuredTaskLines(lines) == [1, 2, 3, 4, 5])
    }
}
