#if canImport(Glibc)
import Glibc
#endif

/// A regular file opened from a directory others write to (the patch directory),
/// so that what is checked is what is read: no symlink is followed, no FIFO blocks,
/// no device is opened, and the size is known before a byte is read.
public final class SafeFile: @unchecked Sendable {
    public let path: String
    /// Size when opened (fstat).
    public let size: Int64
    let descriptor: Int32

    /// Opens `path` read-only if, and only if, it is a regular file.
    ///
    /// The path is resolved once, with O_PATH | O_NOFOLLOW: that opens nothing (no device driver's
    /// open runs, a FIFO cannot block) and returns a symlink as itself. fstat on that descriptor
    /// says what is there, and the file is then opened through `/proc/self/fd`, which reaches that
    /// same inode: a swap after the check cannot put something else under the read.
    public init(path: String) throws(SafeFileError) {
        var located: Int32 = -1
        repeat { located = open(path, Self.pathOnly | O_NOFOLLOW | O_CLOEXEC) } while located == -1 && errno == EINTR
        if located == -1 { throw Self.error(errno: errno, operation: "open", path: path) }
        defer { close(located) }
        var status = stat()
        if fstat(located, &status) != 0 { throw .system(.current("fstat", path)) }
        let kind = FileKind(mode: status.st_mode)
        if kind == .symlink { throw .symlink(path: path) }
        if kind != .regular { throw .notRegular(path: path, kind: kind) }

        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
        var fd: Int32 = -1
        repeat { fd = open("/proc/self/fd/\(located)", flags) } while fd == -1 && errno == EINTR
        if fd == -1 { throw .system(SystemError("open", "\(path) (through /proc/self/fd)", errno: errno)) }
        var opened = stat()
        guard fstat(fd, &opened) == 0, opened.st_dev == status.st_dev, opened.st_ino == status.st_ino else {
            close(fd)
            throw .system(SystemError("open", "\(path) (not the file that was checked)", errno: ESTALE))
        }
        self.path = path
        self.descriptor = fd
        self.size = Int64(opened.st_size)
    }

    /// O_PATH (Linux): Swift's Glibc module leaves it out, as it is declared under _GNU_SOURCE.
    /// The value is the generic one, used by x86_64 and arm64.
    static let pathOnly: Int32 = 0o10000000
    #if !(arch(x86_64) || arch(arm64))
    #error("SafeFile.pathOnly: check O_PATH's value for this architecture")
    #endif

    deinit { close(descriptor) }

    /// The same open inode, for libraries that take a path (libkmod): a swap of the name in the
    /// directory does not change what this reaches.
    public var pathOfOpenFile: String { "/proc/self/fd/\(descriptor)" }

    /// Back to the first byte, to read the file again.
    public func rewind() throws(SafeFileError) {
        if lseek(descriptor, 0, SEEK_SET) < 0 { throw .system(.current("lseek", path)) }
    }

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
        // Symlinks that loop in the directory part of the path.
        case ELOOP: .symlink(path: path)
        default: .system(SystemError(operation, path, errno: errno))
        }
    }
}
