#if canImport(Glibc)
import Glibc
#endif

/// What a file is when it is not a regular file.
public enum FileKind: String, Sendable, Equatable {
    case regular = "regular file"
    case symlink = "symbolic link"
    case fifo = "FIFO"
    case characterDevice = "character device"
    case blockDevice = "block device"
    case directory
    case socket
    case unknown = "special file"

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFLNK: self = .symlink
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFDIR: self = .directory
        case S_IFSOCK: self = .socket
        default: self = .unknown
        }
    }
}

/// Why a file from an untrusted directory was not read.
public enum SafeFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(path: String)
    /// The last path component is a symbolic link (refused, never followed).
    case symlink(path: String)
    case notRegular(path: String, kind: FileKind)
    case tooLarge(path: String, size: Int64, limit: Int64)
    case system(SystemError)

    public var description: String {
        switch self {
        case .missing(let path): "\(path) does not exist"
        case .symlink(let path): "\(path) is a symbolic link, which is never followed"
        case .notRegular(let path, let kind): "\(path) is a \(kind.rawValue), not a regular file"
        case .tooLarge(let path, let size, let limit): "\(path) is \(size) bytes, more than the \(limit) allowed"
        case .system(let error): error.description
        }
    }
}
