#if canImport(Glibc)
import Glibc
#endif

/// Writes that are all-or-nothing across crashes: temporary file in the same directory,
/// fsync, rename over the target, fsync the directory (DESIGN.md "States").
public enum AtomicFile {
    /// What a write must survive: readers see the old file or the new one either way.
    public enum Durability: Sendable {
        /// The machine going down: the file and its directory are fsynced (the daemon's state).
        case machineCrash
        /// The process being killed: the rename alone, the bytes left to the page cache. For
        /// state that stands for memory, like the simulated kernel's, which a real machine's
        /// crash would lose anyway (it spared that kernel two fsyncs per file written).
        case processCrash
    }

    /// - Parameter failpoints: crash injection around the rename (see ``Failpoint``).
    public static func write(
        _ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644, durability: Durability = .machineCrash,
        failpoints: CommitFailpoints = .none
    ) throws(SystemError) {
        let temporary = try TemporaryFile(inDirectory: Path.directory(of: path), mode: mode)
        do throws(SystemError) {
            try temporary.write(Array(bytes))
            try temporary.commit(to: path, durability: durability, failpoints: failpoints)
        } catch {
            temporary.discard()
            throw error
        }
    }

    /// fsyncs a directory so a rename or a new entry in it survives a crash.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try retryingOnInterrupt("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try retryingOnInterrupt("fsync", path) { fsync(fd) }
    }
}

/// A new file with a unique name in a directory, written then renamed into place or discarded.
public final class TemporaryFile {
    public let path: String
    private var descriptor: Int32
    private var finished = false

    /// - Parameter prefix: the start of the file name; libkmod derives a module name from a
    ///   file name up to its first dot, so a module staged here needs a prefix without one.
    public static let defaultPrefix = ".tmp-"

    public init(inDirectory directory: String, prefix: String = defaultPrefix, mode: mode_t = 0o644) throws(SystemError) {
        var template = Array("\(directory)/\(prefix)XXXXXX".utf8CString)
        // mkostemp needs _GNU_SOURCE, which Swift's Glibc module does not define.
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        if fd == -1 { throw .current("mkstemp", directory) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        descriptor = fd
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        // mkostemp creates 0600; set the final mode exactly, whatever the umask.
        if fchmod(fd, mode) != 0 {
            let error = SystemError.current("fchmod", path)
            discard()
            throw error
        }
    }

    deinit { discard() }

    public func write(_ bytes: [UInt8]) throws(SystemError) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemError) in try write(buffer) }
        }
        try result.get()
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < buffer.count {
            let written = try retryingOnInterrupt("write", path) {
                Glibc.write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            offset += written
        }
    }

    /// fsyncs, renames over `target` and fsyncs the target's directory (the rename alone for
    /// ``AtomicFile/Durability/processCrash``).
    public func commit(
        to target: String, durability: AtomicFile.Durability = .machineCrash, failpoints: CommitFailpoints = .none
    ) throws(SystemError) {
        if durability == .machineCrash { try retryingOnInterrupt("fsync", path) { fsync(descriptor) } }
        close(descriptor)
        descriptor = -1
        failpoints.beforeRename?.hit()
        try retryingOnInterrupt("rename", target) { rename(path, target) }
        finished = true
        failpoints.afterRename?.hit()
        if durability == .machineCrash { try AtomicFile.syncDirectory(Path.directory(of: target)) }
    }

    /// Removes what writers killed before commit or discard left in `directory`: regular files
    /// named `prefix` and mkstemp's six characters. Only for start-up, when no writer of the
    /// process is running. Returns the names removed.
    public static func removeLeftovers(inDirectory directory: String, prefix: String) throws(SystemError) -> [String] {
        let names: [String]
        do { names = try Directory.entries(directory) } catch {
            if error.errno == ENOENT { return [] }
            throw error
        }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) && name.utf8.count == prefix.utf8.count + 6 {
            let path = "\(directory)/\(name)"
            var status = stat()
            guard lstat(path, &status) == 0, FileKind(mode: status.st_mode) == .regular else { continue }
            if unlink(path) != 0, errno != ENOENT { throw .current("unlink", path) }
            removed.append(name)
        }
        return removed
    }

    /// Removes the file; safe to call more than once.
    public func discard() {
        if descriptor != -1 {
            close(descriptor)
            descriptor = -1
        }
        if !finished {
            unlink(path)
            finished = true
        }
    }
}

/// Where a commit may be cut by crash injection: the file is complete and fsynced but not
/// renamed, or renamed but its directory not fsynced.
public struct CommitFailpoints: Sendable {
    public var beforeRename: Failpoint?
    public var afterRename: Failpoint?

    public init(beforeRename: Failpoint? = nil, afterRename: Failpoint? = nil) {
        self.beforeRename = beforeRename
        self.afterRename = afterRename
    }

    public static let none = CommitFailpoints()
}

enum Path {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
