import MortarCore

/// Prometheus text expositions of several processes (the daemon and each of its bricks) merged into one scrape.
///
/// The text format allows a family's `# TYPE` once and wants its samples together, so expositions cannot simply
/// be concatenated: every brick exports `mortar_brick_operations_total`, with its own `brick` label. Each text is
/// read into families — a family is its `# TYPE` line and the samples that follow it — and families of the same
/// name are joined, in the order they were first seen.
///
/// Input is checked, since a brick is another process: its size (`Limits.metricsExpositionByteCountMax`), names
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`), types, and that every sample belongs to the family declared before it. A text
/// that fails is refused whole (the error names what was wrong and where); a family whose type differs from the
/// one already seen keeps the first and drops the newcomer's samples (``conflicts`` counts them).
public struct Exposition: Sendable {
    struct Family: Sendable {
        var type: String
        var help: String?
        var samples: [Substring] = []
    }

    private var order: [String] = []
    private var families: [String: Family] = [:]
    private var byteCount = 0
    /// Families dropped because another source declared them with another type.
    public private(set) var conflicts = 0

    public init() {}

    static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    /// Adds the families of `text`, which came from `source` (named in errors).
    public mutating func add(_ text: String, from source: String) throws(FileSystemError) {
        guard byteCount + text.utf8.count <= Limits.metricsExpositionByteCountMax else {
            throw FileSystemError.invalidArgument(
                "the metrics of \(source) take the scrape past \(Limits.metricsExpositionByteCountMax) bytes")
        }
        var parsed: [(name: String, family: Family)] = []
        var current: Int?
        var helpBeforeType: [String: String] = [:]  // HELP usually comes first
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            func refuse(_ why: String) -> FileSystemError {
                FileSystemError.invalidArgument("metrics of \(source), line \(number + 1): \(why)")
            }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard words.count >= 3, words[0] == "#" else { continue }  // a comment
                let name = String(words[2])
                guard Self.isValidName(name) else { throw refuse("'\(name)' is not a metric name") }
                switch words[1] {
                case "TYPE":
                    guard words.count == 4, Self.types.contains(String(words[3])) else {
                        throw refuse("a TYPE line needs one of \(Self.types.sorted())")
                    }
                    if let index = parsed.firstIndex(where: { $0.name == name }) {
                        guard parsed[index].family.type == String(words[3]) else {
                            throw refuse("\(name) is declared twice with different types")
                        }
                        current = index
                    } else {
                        parsed.append((name, Family(type: String(words[3]), help: helpBeforeType[name])))
                        current = parsed.count - 1
                    }
                case "HELP":
                    let help = words.count == 4 ? String(words[3]) : ""
                    if let index = parsed.firstIndex(where: { $0.name == name }) {
                        parsed[index].family.help = help
                    } else {
                        helpBeforeType[name] = help
                    }
                default:
                    continue  // another comment
                }
                continue
            }
            let sampleName = line.prefix { $0 != "{" && $0 != " " }
            guard Self.isValidName(String(sampleName)), line.count > sampleName.count else {
                throw refuse("not a sample: '\(line.prefix(80))'")
            }
            guard let index = current, Self.belongs(sampleName, to: parsed[index].name) else {
                throw refuse("sample \(sampleName) follows no TYPE line of its family")
            }
            parsed[index].family.samples.append(line)
        }
        byteCount += text.utf8.count
        for (name, family) in parsed {
            if var known = families[name] {
                guard known.type == family.type else {
                    conflicts += 1
                    continue
                }
                known.samples += family.samples
                if known.help == nil { known.help = family.help }
                families[name] = known
            } else {
                order.append(name)
                families[name] = family
            }
        }
    }

    /// The merged text: each family's HELP (the source's, else ``MetricCatalog``'s), TYPE and samples.
    public func rendered() -> String {
        var text = ""
        for name in order {
            guard let family = families[name] else { continue }
            if let help = family.help ?? MetricCatalog.help[name], !help.isEmpty {
                text += "# HELP \(name) \(help)\n"
            }
            text += "# TYPE \(name) \(family.type)\n"
            for sample in family.samples { text += sample + "\n" }
        }
        return text
    }

    /// The families' names, in order (for tests).
    public var familyNames: [String] { order }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !name.isEmpty, name.utf8.count <= 200 else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F || byte == 0x3A
        }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// A histogram's and summary's samples carry suffixes; every family's carry its name.
    static func belongs(_ sample: Substring, to family: String) -> Bool {
        guard sample.hasPrefix(family) else { return false }
        let suffix = sample.dropFirst(family.count)
        return suffix.isEmpty || suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_total"
            || suffix == "_created"
    }
}
