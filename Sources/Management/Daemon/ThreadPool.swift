import MortarCore
import NIOPosix

/// Runs a blocking system call on NIO's thread pool, so that it never holds a cooperative thread, and reports
/// any failure as a ``FileSystemError``.
func onThreadPool<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws(FileSystemError)
    -> Result
{
    do {
        return try await NIOThreadPool.singleton.runIfActive(body)
    } catch {
        throw FileSystemError.wrapping(error)
    }
}
