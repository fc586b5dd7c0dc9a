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

    static let names = ["a", "b", "c", "d e", "été", "f"]
    static let attributeNames = ["user.one", "user.two"]

    /// Runs the sequence under a fresh directory `random-<seed>` of the root of both file systems.
    public func run(subject: any FileOperations, reference: any FileOperations) async throws {
        var generator = SplitMix64(seed: seed)
        let base = generator.fileID()
        let baseName = "random-\(String(seed, radix: 16))-\(String(base.low & 0xFFFF, radix: 16))"
        for fileSystem in [subject, reference] {
            _ = try await fileSystem.makeDirectory(baseName, in: .root, id: base, permissions: 0o755, context: .init())
        }
        var directories = [base]
        var objects = [base]
        for step in 0..<stepCount {
            let operation = nextOperation(&generator, directories: directories, objects: objects)
            let expected = await Self.outcome(of: operation, on: reference)
            let got = await Self.outcome(of: operation, on: subject)
            guard got == expected else {
                throw ConformanceFailure(
                    "random sequence seed=\(seed) step=\(step) operation=\(operation.summary): "
                        + "subject gave \(got), reference gave \(expected)")
            }
            if case .success = expected, let id = operation.createdID {
                objects.append(id)
                if case .makeDirectory = operation { directories.append(id) }
            }
        }
    }

    // MARK: Choosing operations

    func nextOperation(_ generator: inout SplitMix64, directories: [FileID], objects: [FileID]) -> RandomOperation {
        let name = generator.pick(Self.names)
        let directory = generator.pick(directories)
        // Now and then an object that never existed, to compare error paths.
        let object = generator.below(20) == 0 ? generator.fileID() : generator.pick(objects)
        let attributeName = generator.pick(Self.attributeNames)
        switch generator.below(20) {
        case 0, 1, 2:
            return .create(name: name, in: directory, id: generator.fileID(), exclusive: generator.below(2) == 0)
        case 3, 4:
            let bytes = generator.bytes(generator.below(600))
            return .write(object, at: UInt64(generator.below(20_000)), bytes: bytes, append: generator.below(4) == 0)
        case 5, 6: return .read(object, at: UInt64(generator.below(20_000)), count: generator.below(3_000))
        case 7: return .resize(object, to: UInt64(generator.below(20_000)))
        case 8, 9:
            var flags: [RenameFlags] = [[], [], [], .noReplace]
            if includesExchange { flags.append(.exchange) }
            return .rename(
                name, in: directory, to: generator.pick(Self.names), newParent: generator.pick(directories),
                flags: generator.pick(flags))
        case 10: return .link(object, as: name, in: directory)
        case 11:
            return .makeSymbolicLink(name, in: directory, id: generator.fileID(), target: generator.pick(Self.names))
        case 12: return .unlink(name, in: directory)
        case 13: return .makeDirectory(name, in: directory, id: generator.fileID())
        case 14: return .removeDirectory(name, in: directory)
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
        case 18: return .lookup(name, in: directory)
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
