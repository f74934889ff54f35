import Foundation
import Synchronization

/// A real sd_notify receiver: an AF_UNIX datagram socket, as systemd binds for Type=notify
/// services. The daemon under test gets its path in NOTIFY_SOCKET.
final class NotifyReceiver: Sendable {
    let path: String
    private let messages = MessageLog()
    private let stopping = StopFlag()

    init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TimeoutError(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: Array(path.utf8.prefix(buffer.count - 1)) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TimeoutError(description: "bind \(path): errno \(errno)") }
        // A receive timeout lets the reader thread notice the stop flag without a busy loop.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [fd, messages, stopping] in
            // The reader closes the socket, not deinit: closed while this loop was between two
            // recv calls, its number went to the next descriptor the test process opened, often
            // another test's control-socket client, and this loop read that client's reply. The
            // client then timed out with the daemon idle (seen in CI: "ListPatches: read timed
            // out", the daemon's reply written, the connection held open past the client's close).
            // Nor does deinit shut the socket down: the reader may see the stop flag, close the
            // socket and a test open another under the same number before deinit's next step.
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 8192)
            while !stopping.isSet {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
            }
        }
        thread.start()
    }

    /// Ends the reader at its next receive timeout; the reader closes the socket.
    deinit { stopping.set() }

    /// Every datagram received so far, oldest first.
    var received: [String] { messages.all }

    /// Waits for a datagram with this `KEY=value` line, after the first `after` datagrams.
    @discardableResult
    func waitFor(_ line: String, after: Int = 0, timeout: Duration = .seconds(60)) async throws -> Int {
        try await eventually("\(line) on \(path)", timeout: timeout) {
            let all = received
            let index = all.indices.dropFirst(after).first { all[$0].split(separator: "\n").contains(Substring(line)) }
            return (index != nil, index ?? all.count)
        }
    }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

final class MessageLog: Sendable {
    private let messages = Mutex<[String]>([])
    func append(_ message: String) { messages.withLock { $0.append(message) } }
    var all: [String] { messages.withLock { $0 } }
}
