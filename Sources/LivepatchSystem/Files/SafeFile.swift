#if canImport(Glibc)
import Glibc
#endif

/// A regular file opened from a directory others write to (the patch directory),
/// so that what is checked is what is read: no symlink is followed, no FIFO blocks,
/// no device is opened, and the size is known before a byte is read.
public final class SafeFile {
    public let path: String
    /// Size when opened (fstat).
    public let size: Int64
    let descriptor: Int32

    /// Opens `path` read-only after checking, both before and after `open`, that it is a regular file.
    public init(path: String) throws(SafeFileError) {
        // lstat first so a device or FIFO is never opened at all (opening some devices has effects).
        var status = stat()
        if lstat(path, &status) != 0 { throw Self.error(errno: errno, operation: "lstat", path: path) }
        let kind = FileKind(mode: status.st_mode)
        if kind == .symlink { throw .symlink(path: path) }
        if kind != .regular { throw .notRegular(path: path, kind: kind) }

        // The file may have been swapped since lstat: O_NOFOLLOW, O_NONBLOCK and fstat close that window.
        let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
        var fd: Int32 = -1
        repeat { fd = open(path, flags) } while fd == -1 && errno == EINTR
        if fd == -1 { throw Self.error(errno: errno, operation: "open", path: path) }
        if fstat(fd, &status) != 0 {
            let error = SystemError.current("fstat", path)
            close(fd)
            throw .system(error)
        }
        let openedKind = FileKind(mode: status.st_mode)
        guard openedKind == .regular else {
            close(fd)
            throw .notRegular(path: path, kind: openedKind)
        }
        self.path = path
        self.descriptor = fd
        self.size = Int64(status.st_size)
    }

    deinit { close(descriptor) }

    /// Fails with `tooLarge` when the file is bigger than `limit`.
    public func checkSize(limit: Int64) throws(SafeFileError) {
        if size > limit { throw .tooLarge(path: path, size: size, limit: limit) }
    }

    /// Reads the whole file, never more than `limit` bytes, even if it grows while being read.
    public func readAll(limit: Int64) throws(SafeFileError) -> [UInt8] {
        try checkSize(limit: limit)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(size))
        try readChunks(limit: limit) { chunk in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Reads from the current offset to the end in chunks, failing once more than `limit` bytes were seen.
    public func readChunks(limit: Int64, _ body: (UnsafeRawBufferPointer) throws(SafeFileError) -> Void)
        throws(SafeFileError)
    {
        let chunkSize = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, chunkSize)
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(.current("read", path))
            }
            total += Int64(count)
            if total > limit { throw .tooLarge(path: path, size: total, limit: limit) }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// Reads `path` whole, with every check of ``init(path:)``.
    public static func read(path: String, limit: Int64) throws(SafeFileError) -> [UInt8] {
        try SafeFile(path: path).readAll(limit: limit)
    }

    static func error(errno: Int32, operation: String, path: String) -> SafeFileError {
        switch errno {
        case ENOENT: .missing(path: path)
        // O_NOFOLLOW on a symlink that appeared after lstat.
        case ELOOP: .symlink(path: path)
        default: .system(SystemError(operation, path, errno: errno))
        }
    }
}
