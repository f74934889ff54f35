import Foundation
import LivepatchSystem
import Testing

@Suite("Unix listener")
struct UnixListenerTests {
    /// A nonblocking connect() (what many clients do, Python's with a timeout among them) fails
    /// with EAGAIN at once when the backlog is full: with the old backlog of 128, the 130th
    /// client of a burst was refused while the daemon was busy.
    @Test("a burst of 600 clients all get into the queue before one is accepted")
    func burstFitsTheBacklog() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("burst.sock")
        let listener = try UnixListener.bind(path: path)
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        var refused: [Int32] = []
        for _ in 0..<600 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            try #require(fd >= 0)
            clients.append(fd)
            if connectUnix(fd, path) != 0 { refused.append(errno) }
        }
        #expect(refused.isEmpty, "\(refused.count) of 600 connects refused, first with errno \(refused.first ?? 0)")

        // And each one is then taken, in turn.
        for _ in 0..<3 { #expect(try listener.accept().map { close($0) } != nil) }
    }

    private func connectUnix(_ fd: Int32, _ path: String) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
