#if canImport(Glibc)
import Glibc
#endif

/// A failed system or C-library call: what was attempted, on what, and the errno it gave.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done, e.g. "open" or "kmod_module_get_info".
    public var operation: String
    /// The path, module or socket it was done on, when there is one.
    public var subject: String?
    /// The positive errno value.
    public var errno: Int32

    public init(_ operation: String, _ subject: String? = nil, errno: Int32) {
        self.operation = operation
        self.subject = subject
        self.errno = errno
    }

    /// Captures the calling thread's current errno.
    public static func current(_ operation: String, _ subject: String? = nil) -> SystemError {
        SystemError(operation, subject, errno: Glibc.errno)
    }

    public var description: String {
        let what = subject.map { "\(operation) \($0)" } ?? operation
        return "\(what): \(String(cString: strerror(errno)))"
    }
}

/// Runs `body` until it does not fail with EINTR; a result of -1 becomes a ``SystemError``.
@discardableResult
public func retryingOnInterrupt<T: BinaryInteger>(
    _ operation: String, _ subject: String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Glibc.errno
        if error != EINTR { throw SystemError(operation, subject, errno: error) }
    }
}
