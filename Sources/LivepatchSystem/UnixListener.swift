// The socket constants (SOCK_STREAM, …) come through CSystemd in this module: its headers
// include sys/socket.h, so the importer gives those declarations to it, not to Glibc.
import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// A listening Unix stream socket whose connections are taken one `accept()` at a time, and
/// whose accepting can be stopped without closing it.
///
/// Stopping without closing is what a restart under socket activation needs: every connection
/// accepted here is answered here, and every one not yet accepted stays in the socket's queue
/// for the next daemon. (Closing an event loop's server channel instead races with connections
/// it has accepted but not yet handed over, which are then dropped unanswered.)
public final class UnixListener: @unchecked Sendable {
    public let fd: CInt
    /// A pipe whose write end ``stop()`` writes to, waking a blocked ``accept()``.
    private let wake: (read: CInt, write: CInt)

    /// Adopts a socket that is already bound and listening (the service manager's).
    public init(adopting fd: CInt) throws(SystemError) {
        self.fd = fd
        var ends: [CInt] = [-1, -1]
        try retryingOnInterrupt("pipe") { pipe(&ends) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wake = (ends[0], ends[1])
    }

    /// Binds `path` (which must not exist) and listens.
    ///
    /// The backlog is SOMAXCONN (4096, as sd-varlink servers take): with 128, a burst of a few
    /// hundred `lpclient status` (a fleet's monitoring firing at once, a restart) saw EAGAIN
    /// from connect(). The kernel caps it at net.core.somaxconn.
    public static func bind(path: String, backlog: Int32 = SOMAXCONN) throws(SystemError) -> UnixListener {
        let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try retryingOnInterrupt("socket", path) { socket(AF_UNIX, streamType, 0) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SystemError("bind", path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        do throws(SystemError) {
            try retryingOnInterrupt("bind", path) {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            try retryingOnInterrupt("listen", path) { listen(fd, backlog) }
            return try UnixListener(adopting: fd)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        close(wake.read)
        close(wake.write)
        close(fd)
    }

    /// Waits for the next connection and returns it (close-on-exec), or nil once
    /// ``stop()`` was called. Blocks the calling thread.
    public func accept() throws(SystemError) -> CInt? {
        while true {
            var descriptors = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            try retryingOnInterrupt("poll") { poll(&descriptors, 2, -1) }
            if descriptors[1].revents != 0 { return nil }
            guard descriptors[0].revents != 0 else { continue }
            // The daemon starts no programs, so close-on-exec set just after accept() is soon enough.
            let connection = Glibc.accept(fd, nil, nil)
            if connection >= 0 {
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                return connection
            }
            switch errno {
            // The client left before it was accepted, or another process took it.
            case EINTR, EAGAIN, ECONNABORTED, EPROTO: continue
            default: throw SystemError.current("accept4")
            }
        }
    }

    /// Makes ``accept()`` return nil, now and from now on. The socket stays open.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }
}
