import MortarCore
import NIOCore

/// A seeded, replayable sequence of random operations over a small namespace, applied to a subject and a
/// reference in lock step (a model-based test, as JuiceFS's `fsMachine`).
///
/// Each step's results are normalised before they are compared: times, `blocks`, `blockSize`, device numbers and
/// the sizes of directories are ignored; types, permissions, owners, link counts, FileIDs, file sizes, data,
/// names and error codes must agree. The first divergence throws a ``ConformanceFailure`` naming the seed, the
/// step and both results, so `RandomOperationSequence(seed:stepCount:)` replays it exactly.
public struct RandomOperationSequence: Sendable {
    public let seed: UInt64
    public let stepCount: Int
    /// Whether to generate RENAME_EXCHANGE, which some layers do not support across their children.
    public var includesExchange: Bool

    public init(seed: UInt64, stepCount: Int, includesExchange: Bool = true) {
        self.seed = seed
        self.stepCount = stepCount
        self.includesExchange = includesExchange
    }

    /// Names for files and for directories; renames and lookups mix them, so types collide now and then.
    static let fileNames = ["a", "b", "c", "été"]
    static let directoryNames = ["d e", "f"]
    static let names = fileNames + directoryNames
    static let attributeNames = ["user.one", "user.two"]

    /// Runs the sequence under a fresh directory `random-<seed>` of the root of both file systems.
    /// - Returns: how many steps of each kind succeeded and failed on both, so tests can check that a sequence
    ///   is not vacuous (every step failing alike proves little).
    @discardableResult
    public func run(subject: any FileOperations, reference: any FileOperations) async throws -> Summary {
        var generator = SplitMix64(seed: seed)
        let base = generator.fileID()
        let baseName = "random-\(String(seed, radix: 16))-\(String(base.low & 0xFFFF, radix: 16))"
        for fileSystem in [subject, reference] {
            _ = try await fileSystem.makeDirectory(baseName, in: .root, id: base, permissions: 0o755, context: .init())
        }
        var directories = [base]
        var objects = [base]
        var files: [FileID] = []
        var summary = Summary()
        for step in 0..<stepCount {
            let operation = nextOperation(&generator, directories: directories, objects: objects, files: files)
            let expected = await Self.outcome(of: operation, on: reference)
            let got = await Self.outcome(of: operation, on: subject)
            guard got == expected else {
                throw ConformanceFailure(
                    "random sequence seed=\(seed) step=\(step) operation=\(operation.summary): "
                        + "subject gave \(got), reference gave \(expected)")
            }
            guard case .success = expected else {
                summary.failures[operation.kind, default: 0] += 1
                // An object gone on both sides stays gone: stop picking it, so later steps do more than fail.
                if expected == .failure(.notFound), let gone = operation.addressedID, gone != base {
                    objects.removeAll { $0 == gone }
                    files.removeAll { $0 == gone }
                }
                continue
            }
            summary.successes[operation.kind, default: 0] += 1
            if let id = operation.createdID {
                objects.append(id)
                if case .makeDirectory = operation { directories.append(id) }
                if case .create = operation { files.append(id) }
            }
        }
        return summary
    }

    /// Steps per kind of operation (`"rename"`, `"write"`, …) that succeeded, and that failed alike on both.
    public struct Summary: Sendable, CustomStringConvertible {
        public var successes: [String: Int] = [:]
        public var failures: [String: Int] = [:]

        public var description: String {
            Set(successes.keys).union(failures.keys).sorted()
                .map { "\($0): \(successes[$0, default: 0]) ok, \(failures[$0, default: 0]) failed" }
                .joined(separator: "; ")
        }
    }

    // MARK: Choosing operations

    func nextOperation(
        _ generator: inout SplitMix64, directories: [FileID], objects: [FileID], files: [FileID]
    ) -> RandomOperation {
        let name = generator.pick(Self.fileNames)
        let directoryName = generator.pick(Self.directoryNames)
        let directory = generator.pick(directories)
        // Mostly a file that was created; sometimes any object, or one that never existed, for the error paths.
        let object: FileID
        switch generator.below(20) {
        case 0: object = generator.fileID()
        case 1...4: object = generator.pick(objects)
        default: object = files.isEmpty ? generator.pick(objects) : generator.pick(files)
        }
        let attributeName = generator.pick(Self.attributeNames)
        switch generator.below(20) {
        case 0, 1, 2:
            return .create(name: name, in: directory, id: generator.fileID(), exclusive: generator.below(2) == 0)
        case 3, 4:
            let bytes = generator.bytes(generator.below(600))
            return .write(object, at: UInt64(generator.below(20_000)), bytes: bytes, append: generator.below(4) == 0)
        case 5, 6:
            switch generator.below(8) {
            case 0: return .openAndRead(object, count: generator.below(3_000))
            case 1: return .lookupAndRead(name, in: directory, count: generator.below(3_000))
            default: return .read(object, at: UInt64(generator.below(20_000)), count: generator.below(3_000))
            }
        case 7: return .resize(object, to: UInt64(generator.below(20_000)))
        case 8, 9:
            var flags: [RenameFlags] = [[], [], [], .noReplace]
            if includesExchange { flags.append(.exchange) }
            return .rename(
                generator.pick(Self.names), in: directory, to: generator.pick(Self.names),
                newParent: generator.pick(directories),
                flags: generator.pick(flags))
        case 10: return .link(object, as: name, in: directory)
        case 11:
            return .makeSymbolicLink(name, in: directory, id: generator.fileID(), target: generator.pick(Self.names))
        case 12: return .unlink(name, in: directory)
        case 13: return .makeDirectory(directoryName, in: directory, id: generator.fileID())
        case 14: return .removeDirectory(directoryName, in: directory)
        case 15:
            let modes: [ExtendedAttributeMode] = [.createOrReplace, .createOnly, .replaceOnly]
            return .setExtendedAttribute(
                attributeName, of: object, value: generator.bytes(generator.below(8)), mode: generator.pick(modes))
        case 16:
            return generator.below(3) == 0
                ? .removeExtendedAttribute(attributeName, of: object)
                : generator.below(2) == 0
                    ? .extendedAttribute(attributeName, of: object) : .extendedAttributeNames(of: object)
        case 17: return .readDirectory(directory, countMax: 1 + generator.below(4))
        case 18: return .lookup(generator.pick(Self.names), in: directory)
        default: return generator.below(4) == 0 ? .readSymbolicLink(object) : .attributes(of: object)
        }
    }
}

/// What one step produced, normalised for comparison.
enum Outcome: Equatable, Sendable, CustomStringConvertible {
    case success(String)
    case failure(FileSystemError.Code)
    case unexpected(String)

    var description: String {
        switch self {
        case .success(let text): "success(\(text))"
        case .failure(let code): "error \(code.rawValue) (\(code))"
        case .unexpected(let text): "non-file-system error \(text)"
        }
    }
}
