
/// The opaque pointers handed to C callers (`glfs_t *`, `glfs_fd_t *`) and the objects behind them.
///
/// A handle is not an address: it encodes a slot, the slot's generation and the kind of object, so a handle that
/// was closed, belongs to another kind, or was never issued is recognised and answered with EBADF/EINVAL instead
/// of being dereferenced. Callers only ever compare handles with NULL.
final class HandleTable<Object: AnyObject & Sendable>: Sendable {
    private struct Slot {
        var generation: UInt32 = 0
        var object: Object?
    }

    private struct State {
        var slots: [Slot] = []
        var freeSlots: [Int] = []
        var liveCount = 0
    }

    private let kind: UInt8
    private let capacity: Int
    private let state = ForkSafeMutex(State())

    /// `kind` tells the tables apart (it is part of every handle); `capacity` bounds the live handles.
    init(kind: UInt8, capacity: Int) {
        precondition(capacity < 1 << 24, "slots are 24 bits of a handle")
        self.kind = kind
        self.capacity = capacity
    }

    /// A new handle for `object`, or nil when `capacity` handles are live.
    func insert(_ object: Object) -> UnsafeMutableRawPointer? {
        state.withLock { state -> UnsafeMutableRawPointer? in
            guard state.liveCount < capacity else { return nil }
            let index: Int
            if let reused = state.freeSlots.popLast() {
                index = reused
            } else {
                index = state.slots.count
                state.slots.append(Slot())
            }
            state.slots[index].generation &+= 1
            state.slots[index].object = object
            state.liveCount += 1
            return encode(index: index, generation: state.slots[index].generation)
        }
    }

    /// The object behind a live handle.
    func lookup(_ handle: UnsafeRawPointer?) -> Object? {
        guard let (index, generation) = decode(handle) else { return nil }
        return state.withLock { state in
            guard index < state.slots.count, state.slots[index].generation == generation else { return nil }
            return state.slots[index].object
        }
    }

    /// Retires a handle; later lookups of it fail. Returns the object it named.
    func remove(_ handle: UnsafeRawPointer?) -> Object? {
        guard let (index, generation) = decode(handle) else { return nil }
        return state.withLock { state -> Object? in
            guard index < state.slots.count, state.slots[index].generation == generation,
                let object = state.slots[index].object
            else { return nil }
            state.slots[index].object = nil
            state.freeSlots.append(index)
            state.liveCount -= 1
            return object
        }
    }

    // Layout of a handle's 64 bits: kind (8) | generation (32) | slot + 1 (24). Never zero.
    private func encode(index: Int, generation: UInt32) -> UnsafeMutableRawPointer {
        let bits = UInt(kind) << 56 | UInt(generation) << 24 | UInt(index + 1)
        return UnsafeMutableRawPointer(bitPattern: bits)!
    }

    private func decode(_ handle: UnsafeRawPointer?) -> (index: Int, generation: UInt32)? {
        guard let handle else { return nil }
        let bits = UInt(bitPattern: handle)
        guard UInt8(truncatingIfNeeded: bits >> 56) == kind, bits & 0xFF_FFFF != 0 else { return nil }
        return (Int(bits & 0xFF_FFFF) - 1, UInt32(truncatingIfNeeded: bits >> 24))
    }
}
