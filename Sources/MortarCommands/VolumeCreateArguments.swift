import MortarCore

/// The words after the volume's name in `volume create NAME [replica N] [min-in-sync K] HOST:/PATH…`: GlusterFS's
/// keywords first, then the bricks. `--replica N` and `--min-in-sync K` say the same as options.
struct VolumeCreateArguments: Equatable {
    var replicaCount: Int
    var minInSync: Int?
    var bricks: [String]

    static let usage = "volume create NAME [replica N] [min-in-sync K] HOST:/PATH… [--force]"

    private enum Keyword: String {
        case replica
        case minInSync = "min-in-sync"
    }

    /// GlusterFS volume types and options Mortar does not have; named so the user is not told "not HOST:/PATH".
    private static let unsupportedKeywords: Set = [
        "arbiter", "disperse", "disperse-data", "redundancy", "stripe", "transport",
    ]

    init(parsing words: [String], replicaOption: Int?, minInSyncOption: Int?) throws(FileSystemError) {
        var replica = replicaOption
        var minimum = minInSyncOption
        var position = 0
        while position < words.count {
            let word = words[position]
            if Self.unsupportedKeywords.contains(word) {
                throw FileSystemError.invalidArgument(
                    "'\(word)' is not supported; mortar has replica N and min-in-sync K: \(Self.usage)")
            }
            guard let keyword = Keyword(rawValue: word) else { break }
            guard position + 1 < words.count else {
                throw FileSystemError.invalidArgument("\(word) needs a number: \(Self.usage)")
            }
            guard let value = Int(words[position + 1]) else {
                throw FileSystemError.invalidArgument(
                    "'\(words[position + 1])' after \(word) is not a number: \(Self.usage)")
            }
            switch keyword {
            case .replica: try Self.set(&replica, to: value, name: word)
            case .minInSync: try Self.set(&minimum, to: value, name: word)
            }
            position += 2
        }
        bricks = Array(words[position...])
        let isKeyword = { (word: String) in Keyword(rawValue: word) != nil || Self.unsupportedKeywords.contains(word) }
        if let misplaced = bricks.first(where: isKeyword) {
            throw FileSystemError.invalidArgument("\(misplaced) goes before the bricks: \(Self.usage)")
        }
        guard !bricks.isEmpty else {
            throw FileSystemError.invalidArgument("no bricks given: \(Self.usage)")
        }
        replicaCount = replica ?? 1
        minInSync = minimum
    }

    /// Records a value given by keyword or option; the same setting twice with different values is an error.
    private static func set(_ setting: inout Int?, to value: Int, name: String) throws(FileSystemError) {
        if let earlier = setting, earlier != value {
            throw FileSystemError.invalidArgument("\(name) is given twice, as \(earlier) and as \(value)")
        }
        setting = value
    }
}
