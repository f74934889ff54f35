#if canImport(Glibc)
import Glibc
#endif
import LivepatchSystem

/// The file system side of loading: read one file, list one drop-in directory, keeping errno.
enum ConfigFiles {
    /// A config file is a few KiB; anything this big is a mistake (a wrong path, a device).
    static let maximumSize = 1 << 20

    /// Why a config file was not read.
    enum ReadError: Error, CustomStringConvertible {
        case system(SystemError)
        /// A FIFO would block the reload forever, a device has no end: regular files only.
        case notRegular(FileKind)
        case tooLarge(Int64)

        var description: String {
            switch self {
            case .system(let error): "\(error)"
            case .notRegular(let kind): "it is a \(kind.rawValue), not a regular file"
            case .tooLarge(let size): "it is \(size) bytes; a config file is at most \(ConfigFiles.maximumSize)"
            }
        }
    }

    /// The bytes of `path`, or nil when it does not exist. Only a regular file (a symlink to one
    /// counts: /etc is root's) of at most ``maximumSize`` bytes is read; opening never blocks.
    static func read(_ path: String) throws(ReadError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system(.current("open", path))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system(.current("fstat", path)) }
        let kind = FileKind(mode: status.st_mode)
        guard kind == .regular else { throw .notRegular(kind) }
        guard status.st_size <= maximumSize else { throw .tooLarge(Int64(status.st_size)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count: Int
            do {
                count = try retryingOnInterrupt("read", path) {
                    chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                }
            } catch {
                throw .system(error)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > maximumSize { throw .tooLarge(Int64(bytes.count)) }
        }
    }

    /// Names of the `*.toml` entries of `directory` in byte order, or nil when it does not exist.
    /// Hidden files (editor backups, `.#name.toml`) are skipped.
    static func dropIns(in directory: String) throws(SystemError) -> [String]? {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return nil }
            throw SystemError.current("opendir", directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw SystemError.current("readdir", directory) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".toml"), !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
