#if canImport(Glibc)
import Glibc
#endif
import LivepatchSystem
import Varlink

/// The control socket's file system entry: replaced only when it is a dead socket, made
/// connectable by every local user, and removed only while it is still the one bound here.
enum SocketFile {
    /// Removes a socket left by a previous run. Refuses when a server still answers on it
    /// (two daemons must not steal each other's socket) or when the path is not a socket.
    static func removeStale(at path: String) throws(ControlSocketError) {
        guard let status = try fileStatus(path) else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
        if (try? VarlinkClient(socketPath: path, timeout: .seconds(1))) != nil {
            throw .socketInUse(path: path)
        }
        do {
            try retryingOnInterrupt("unlink", path) { unlink(path) }
        } catch {
            throw .system(error)
        }
    }

    /// Authorization is by SO_PEERCRED per method, so every local user may connect.
    /// Returns the inode, to recognise the socket at removal time.
    static func makeConnectableByAll(_ path: String) throws(ControlSocketError) -> ino_t {
        do {
            try retryingOnInterrupt("chmod", path) { chmod(path, 0o666) }
        } catch {
            throw .system(error)
        }
        guard let status = try fileStatus(path) else {
            throw .system(SystemError("stat", path, errno: ENOENT))
        }
        return status.st_ino
    }

    /// Removes the socket unless something else has replaced it since (another daemon
    /// started by mistake must keep its socket).
    static func remove(_ path: String, ifInode inode: ino_t) throws(ControlSocketError) {
        guard let status = try fileStatus(path), status.st_ino == inode, status.st_mode & S_IFMT == S_IFSOCK else {
            return
        }
        do {
            try retryingOnInterrupt("unlink", path) { unlink(path) }
        } catch {
            throw .system(error)
        }
    }

    private static func fileStatus(_ path: String) throws(ControlSocketError) -> stat? {
        var status = stat()
        if lstat(path, &status) == 0 { return status }
        let error = errno
        if error == ENOENT { return nil }
        throw .system(SystemError("lstat", path, errno: error))
    }
}
