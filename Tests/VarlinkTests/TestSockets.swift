import Foundation
import Testing
@testable import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The server end of a socketpair whose other end a ``VarlinkClient`` uses: tests script
/// the service's bytes and read what the client sent.
final class ScriptedPeer {
    let fd: Int32
    let client: VarlinkClient

    init() throws {
        var fds: [Int32] = [0, 0]
        let result = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        try #require(result == 0, "socketpair: errno \(errno)")
        fd = fds[0]
        client = VarlinkClient(connection: UnixStreamConnection(adopting: fds[1]), socketPath: "socketpair")
    }

    deinit { close(fd) }

    func send(_ text: String, terminate: Bool = true) {
        let bytes = Array(text.utf8) + (terminate ? [0] : [])
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(written == bytes.count)
    }

    func send(_ reply: VarlinkReply) {
        let bytes = reply.encodeFrame()
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(written == bytes.count)
    }

    /// What the client has sent so far (non-blocking).
    func received() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count > 0 ? Array(buffer[..<count]) : []
    }

    func closeWriting() {
        shutdown(fd, Int32(SHUT_WR))
    }
}

/// A temporary directory, removed with its content when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        // Short: sun_path holds only 107 bytes.
        path = "/tmp/vl-" + UUID().uuidString.prefix(12)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A listening Unix socket that never accepts: connections succeed (backlog) and stay unanswered.
final class SilentListener {
    let fd: Int32

    /// `listening: false` binds without listen(2): connecting is refused (ECONNREFUSED) for as
    /// long as the socket exists, with no window in which a forked child still holds a listener.
    init(path: String, listening: Bool = true) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0, "bind: errno \(errno)")
        if listening { try #require(listen(fd, 8) == 0) }
    }

    deinit { close(fd) }
}

func openFileDescriptorCount() throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
}
