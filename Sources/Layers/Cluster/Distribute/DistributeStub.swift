import Logging
import MortarCore
import MortarVolumeSpec

/// Temporary stand-in until the distribute layer lands: forwards to the first child.
public final class Distribute: Layer {
    public let next: any FileOperations
    public init(children: [any FileOperations], options: DistributeOptions, logger: Logger) {
        next = children[0]
    }
}
