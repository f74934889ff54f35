#if canImport(Glibc)
import Glibc
#endif

/// One owner per directory: an exclusive `flock(2)` on `<directory>/lock`, held as long as this
/// object lives (the kernel drops it when the process dies, `kill -9` included). The owner writes
/// who it is into the file, so the next one can say whom it found.
public final class DirectoryLock: Sendable {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Someone holds it; `owner` is what they wrote (empty if they had not yet).
        case held(path: String, owner: String)
        case system(SystemError)

        public var description: String {
            switch self {
            case .held(let path, let owner): "\(path) is locked by \(owner.isEmpty ? "another process" : owner)"
            case .system(let error): "\(error)"
            }
        }
    }

    public let path: String
    private let descriptor: Int32

    /// Takes the lock without waiting, then writes `owner` into the file.
    public init(directory: String, owner: String) throws(Failure) {
        let path = "\(directory)/lock"
        let fd: Int32
        do { fd = try retryingOnInterrupt("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) } } catch {
            throw .system(error)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            let owner = Self.contents(fd)
            close(fd)
            if error == EWOULDBLOCK { throw .held(path: path, owner: owner) }
            throw .system(SystemError("flock", path, errno: error))
        }
        let text = Array("\(owner)\n".utf8)
        guard ftruncate(fd, 0) == 0, text.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == text.count else {
            let error = SystemError.current("write", path)
            close(fd)
            throw .system(error)
        }
        self.path = path
        descriptor = fd
    }

    deinit { close(descriptor) }

    private static func contents(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "" }
        return String(decoding: buffer[0..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
