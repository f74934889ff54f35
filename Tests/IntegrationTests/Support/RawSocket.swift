import Foundation

/// A control-socket client driven byte by byte, for clients that misbehave on purpose:
/// they stop mid-message, send garbage, or never read.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    /// Connects (blocking: a full listen backlog waits for the daemon to accept).
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TimeoutError(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw TimeoutError(description: "connect \(path): errno \(error)")
        }
    }

    deinit { close(fd) }

    /// Whether every byte went out; false once the daemon has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads one NUL-terminated message; nil when the connection ends first or nothing comes
    /// within `timeout`.
    func readMessage(timeout: Duration = .seconds(30)) -> [UInt8]? {
        var message: [UInt8] = []
        var byte: UInt8 = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard waitReadable(until: deadline) else { return nil }
            let count = recv(fd, &byte, 1, 0)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return nil }
            if byte == 0 { return message }
            message.append(byte)
        }
        return nil
    }

    /// Waits until the daemon closes the connection, discarding what it sends first.
    func waitUntilClosed(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while waitReadable(until: deadline) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return true }
        }
        return false
    }

    private func waitReadable(until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(left.milliseconds, 60_000))
            let ready = poll(&poller, 1, max(milliseconds, 1))
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }
}
