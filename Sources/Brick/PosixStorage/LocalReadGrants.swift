import Glibc
import MortarCore
import NIOCore
import Synchronization

/// Descriptors a brick offers to clients on its own host (short-circuit local reads), each claimable once by the
/// token ``PosixStorage/grantLocalRead(of:context:)`` answered with.
///
/// Invariants: at most `capacity` offers are held (an offer beyond that is refused with EAGAIN, and the client
/// reads over the socket); an offer not claimed within `lifetime` is closed at the next offer or claim; a claim
/// removes its offer, so a token works once. The registry owns every descriptor it holds until a claim hands one
/// over (the claimer then owns it) or the registry goes.
public final class LocalReadGrants: Sendable {
    private struct Offer {
        let descriptor: Int32
        let deadline: NIODeadline
    }

    private let offers = Mutex<[UInt128: Offer]>([:])
    private let capacity: Int
    private let lifetime: TimeAmount

    public init(
        capacity: Int = Limits.localReadGrantsMax,
        lifetime: TimeAmount = .milliseconds(Limits.localReadGrantMilliseconds)
    ) {
        precondition(capacity > 0, "a grant registry needs room for one offer")
        self.capacity = capacity
        self.lifetime = lifetime
    }

    deinit {
        for offer in offers.withLock({ $0.values }) { close(offer.descriptor) }
    }

    /// Offers `descriptor` (which the registry now owns: it is closed here if the offer is refused).
    func offer(_ descriptor: Int32) throws(FileSystemError) -> LocalReadGrant {
        var generator = SystemRandomNumberGenerator()
        let token = UInt128(generator.next() as UInt64) << 64 | UInt128(generator.next() as UInt64)
        let now = NIODeadline.now()
        let (accepted, expired) = offers.withLock { offers -> (Bool, [Int32]) in
            let expired = Self.removeExpired(&offers, now: now)
            guard offers.count < capacity, offers[token] == nil else { return (false, expired) }
            offers[token] = Offer(descriptor: descriptor, deadline: now + lifetime)
            return (true, expired)
        }
        for old in expired { close(old) }
        guard accepted else {
            close(descriptor)
            throw FileSystemError(.wouldBlock, "\(capacity) local read grants are waiting to be claimed")
        }
        return LocalReadGrant(token: token)
    }

    /// The descriptor offered under `token`, which the caller now owns and must close; nil for a token that was
    /// never issued, was claimed already or expired.
    public func claim(_ token: UInt128) -> Int32? {
        let now = NIODeadline.now()
        let (claimed, expired) = offers.withLock { offers -> (Offer?, [Int32]) in
            let expired = Self.removeExpired(&offers, now: now)
            return (offers.removeValue(forKey: token), expired)
        }
        for old in expired { close(old) }
        return claimed?.descriptor
    }

    /// Offers waiting to be claimed (for tests).
    public var waitingCount: Int { offers.withLock { $0.count } }

    private static func removeExpired(_ offers: inout [UInt128: Offer], now: NIODeadline) -> [Int32] {
        let expired = offers.filter { $0.value.deadline <= now }
        for token in expired.keys { offers[token] = nil }
        return expired.values.map(\.descriptor)
    }
}
