#if canImport(Glibc)
import Glibc
#endif

/// A connected AF_UNIX stream socket, owned: closed when released.
///
/// Blocking on purpose: the client makes one call and exits, and a blocking socket needs no
/// event loop, which keeps `lpclient` start-up fast.
final class UnixStreamConnection {
    private let fd: Int32

    /// Connects to `path`; with a `timeout`, connecting, each read and each write give up after it.
    init(path: String, timeout: Duration?) throws(VarlinkClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else {
            throw .io(operation: "connect to \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "socket", errno: errno) }
        self.fd = fd

        if let timeout {
            // On Linux, SO_SNDTIMEO also bounds a blocking connect to a full listen backlog.
            try setTimeout(SO_RCVTIMEO, timeout)
            try setTimeout(SO_SNDTIMEO, timeout)
        }

        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + 1)
        while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
            if result == 0 { return }
            let error = errno
            switch error {
            case EINTR: continue
            case ENOENT, ECONNREFUSED, ENOTDIR: throw .unreachable(path: path, errno: error)
            case EACCES, EPERM: throw .permissionDenied(path: path)
            case EAGAIN, EINPROGRESS: throw .timedOut(operation: "connect to \(path)")
            default: throw .io(operation: "connect to \(path)", errno: error)
            }
        }
    }

    /// Takes ownership of an already connected socket (tests use one end of a socketpair).
    init(adopting fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    func writeAll(_ bytes: [UInt8]) throws(VarlinkClientError) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a daemon that went away must give EPIPE, not kill the client with SIGPIPE.
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written >= 0 {
                offset += written
                continue
            }
            let error = errno
            switch error {
            case EINTR: continue
            case EPIPE, ECONNRESET: throw .connectionClosed
            case EAGAIN: throw .timedOut(operation: "write")
            default: throw .io(operation: "write", errno: error)
            }
        }
    }

    /// Reads what is available, at most `buffer.count` bytes; 0 means the peer closed.
    func read(into buffer: inout [UInt8]) throws(VarlinkClientError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return count }
            let error = errno
            switch error {
            case EINTR: continue
            case ECONNRESET: throw .connectionClosed
            case EAGAIN: throw .timedOut(operation: "read")
            default: throw .io(operation: "read", errno: error)
            }
        }
    }

    private func setTimeout(_ option: Int32, _ timeout: Duration) throws(VarlinkClientError) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        // A zero timeval means "block forever"; the smallest real timeout is one microsecond.
        if value.tv_sec == 0 && value.tv_usec == 0 { value.tv_usec = 1 }
        let result = setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
        guard result == 0 else { throw .io(operation: "setsockopt", errno: errno) }
    }
}
