import CMortarGFAPI
import Glibc
import Mortar
import MortarCore
import NIOCore

/// The shapes of the calls made through a descriptor handle.
enum DescriptorCall {
    /// Runs a blocking call on the open file behind `handle`: EBADF for a handle that is not open, EISDIR for a
    /// directory stream. The call counts as in flight, so a concurrent `glfs_close` waits for it.
    static func onFile<T: Sendable>(
        _ handle: UnsafeMutableRawPointer?, returning failure: T,
        _ body: @escaping @Sendable (File, Descriptor) async throws -> T
    ) -> T {
        onDescriptor(handle, returning: failure) { descriptor in try await body(try descriptor.file(), descriptor) }
    }

    /// Runs a blocking call on what `handle` stands for, an open file or a directory (attribute calls).
    static func onObject<T: Sendable>(
        _ handle: UnsafeMutableRawPointer?, returning failure: T,
        _ body: @escaping @Sendable (any OpenObject, Descriptor) async throws -> T
    ) -> T {
        onDescriptor(handle, returning: failure) { descriptor in try await body(descriptor.object, descriptor) }
    }

    /// Runs a blocking call on the directory stream behind `handle` (ENOTDIR for an open file).
    static func onDirectory<T: Sendable>(
        _ handle: UnsafeMutableRawPointer?, returning failure: T,
        _ body: @escaping @Sendable (DirectoryStream, Descriptor) async throws -> T
    ) -> T {
        onDescriptor(handle, returning: failure) { descriptor in
            try await body(try descriptor.directory(), descriptor)
        }
    }

    private static func onDescriptor<T: Sendable>(
        _ handle: UnsafeMutableRawPointer?, returning failure: T,
        _ body: @escaping @Sendable (Descriptor) async throws -> T
    ) -> T {
        guard let descriptor = Registry.descriptors.lookup(handle), descriptor.activity.begin() else {
            mortar_set_errno(EBADF)
            return failure
        }
        defer { descriptor.activity.end() }
        return CallBridge.blocking(returning: failure) { try await body(descriptor) }
    }

    /// Starts an asynchronous call on the file behind `handle` and returns 0; `callback` then runs exactly once,
    /// on a library thread, with the result (or -1 with errno set in that thread). Returns -1 with errno — and
    /// never calls back — when the call cannot start.
    static func submit(
        _ handle: UnsafeMutableRawPointer?, callback: mortar_glfs_io_callback?, data: UnsafeMutableRawPointer?,
        _ body: @escaping @Sendable (File) async throws -> Int
    ) -> CInt {
        guard let callback else {
            mortar_set_errno(EINVAL)
            return -1
        }
        guard let descriptor = Registry.descriptors.lookup(handle), descriptor.activity.begin() else {
            mortar_set_errno(EBADF)
            return -1
        }
        let file: File
        do {
            file = try descriptor.file()
        } catch {
            descriptor.activity.end()
            CallBridge.setErrorNumber(for: error)
            return -1
        }
        let credentials = CallBridge.threadCredentials()
        let token = CallerPointer(value: handle)
        let userData = CallerPointer(value: data)
        let submitter = pthread_self()
        // Unstructured on purpose: the caller does not wait. The descriptor's activity count keeps close and fini
        // waiting until the callback has returned. The task starts right here, on the submitting thread, so the
        // request is on its way before this returns (one thread switch fewer); it continues on a callback thread.
        Task.immediate(executorPreference: LibraryRuntime.current.callbackExecutor) {
            var result = -1
            var errorNumber: Int32 = 0
            do {
                result = try await Volume.$callerCredentials.withValue(credentials) { try await body(file) }
            } catch {
                errorNumber = CallBridge.errorNumber(for: error)
            }
            let (finalResult, finalErrorNumber) = (result, errorNumber)
            let deliver: @Sendable () -> Void = {
                mortar_set_current_callback_descriptor(token.value)
                mortar_set_errno(finalErrorNumber)
                callback(token.value, finalResult, nil, nil, userData.value)
                mortar_set_current_callback_descriptor(nil)
                descriptor.activity.end()
            }
            // A call that finished without waiting — an early error, or a write that write-behind acknowledged at
            // once — is still on the submitter's thread, and callbacks always come from a library thread (the
            // submitter may hold a lock its callback takes). Handed to a callback thread explicitly: a Task.yield
            // here did not reliably leave the submitting thread (api-test caught a callback on it).
            if pthread_equal(pthread_self(), submitter) != 0 {
                LibraryRuntime.current.callbackExecutor.execute(deliver)
            } else {
                deliver()
            }
        }
        return 0
    }

    /// Copies caller memory into a buffer for the wire (one copy; the caller may reuse its memory on return).
    static func buffer(from memory: UnsafeRawPointer?, count: Int) throws -> ByteBuffer {
        guard count >= 0 else { throw FileSystemError.invalidArgument("negative byte count \(count)") }
        guard count > 0 else { return ByteBuffer() }
        guard let memory else { throw FileSystemError(.badAddress, "buffer is NULL") }
        return ByteBuffer(bytes: UnsafeRawBufferPointer(start: memory, count: count))
    }

    /// Gathers an iovec array into one buffer.
    static func buffer(from vectors: UnsafePointer<iovec>?, count: CInt) throws -> ByteBuffer {
        let parts = try vectorList(vectors, count: count)
        var gathered = ByteBuffer()
        gathered.reserveCapacity(parts.reduce(0) { $0 + $1.iov_len })
        for part in parts where part.iov_len > 0 {
            guard let base = part.iov_base else { throw FileSystemError(.badAddress, "iovec base is NULL") }
            gathered.writeBytes(UnsafeRawBufferPointer(start: base, count: part.iov_len))
        }
        return gathered
    }

    static func vectorList(_ vectors: UnsafePointer<iovec>?, count: CInt) throws -> [iovec] {
        guard count >= 0, count <= 1024 else { throw FileSystemError.invalidArgument("iovec count \(count)") }
        guard count > 0 else { return [] }
        guard let vectors else { throw FileSystemError(.badAddress, "iovec array is NULL") }
        return Array(UnsafeBufferPointer(start: vectors, count: Int(count)))
    }

    /// Scatters `data` over the iovecs in order; returns the bytes placed.
    static func scatter(_ data: ByteBuffer, over vectors: [iovec]) -> Int {
        var remaining = data
        var placed = 0
        for part in vectors where part.iov_len > 0 && remaining.readableBytes > 0 {
            let count = min(part.iov_len, remaining.readableBytes)
            remaining.readWithUnsafeReadableBytes { source in
                part.iov_base!.copyMemory(from: source.baseAddress!, byteCount: count)
                return count
            }
            placed += count
        }
        return placed
    }

    /// Makes a write durable when the write's flags ask for it (O_SYNC/O_DSYNC) and the file was not already
    /// opened that way (its writes are then durable on the brick already).
    static func writeThrough(_ file: File, flags: CInt) async throws {
        let requested = OpenFlags(posixFlags: flags)
        let fullSync = requested.contains(.synchronous)
        guard fullSync || requested.contains(.dataSynchronous) else { return }
        if file.flags.contains(.synchronous) || (!fullSync && file.flags.contains(.dataSynchronous)) { return }
        try await file.synchronize(dataOnly: !fullSync)
    }
}
