import Foundation

/// Debian's prometheus-node-exporter, started by a test on 127.0.0.1 with only its textfile
/// collector, and scraped over HTTP the way Prometheus does. Killed when released.
final class NodeExporter {
    static let executable = "/usr/bin/prometheus-node-exporter"
    let port: UInt16
    private let process: LaunchedProcess

    init(textfileDirectory: String) throws {
        var lastError: (any Error)?
        // A free port can be taken between the probe and node_exporter's bind: try a few.
        for _ in 0..<5 {
            let port = try Self.freePort()
            let process = try LaunchedProcess(
                [
                    Self.executable, "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults",
                    "--collector.textfile", "--collector.textfile.directory=\(textfileDirectory)",
                ],
                environment: ["PATH": "/usr/bin:/bin"], logFile: "\(textfileDirectory)/node-exporter-\(port).log")
            do {
                _ = try Self.waitForAnswer(port: port, process: process)
                self.port = port
                self.process = process
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TimeoutError(description: "node_exporter did not start")
    }

    /// GET /metrics: the body of a 200 answer.
    func scrape() throws -> String { try Self.get(port: port) }

    private static func waitForAnswer(port: UInt16, process: LaunchedProcess) throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw TimeoutError(description: "node_exporter exited:\n\(process.log)") }
            if let body = try? get(port: port) { return body }
            usleep(50_000)
        }
        throw TimeoutError(description: "node_exporter on 127.0.0.1:\(port) did not answer within 30 s:\n\(process.log)")
    }

    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimeoutError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TimeoutError(description: "bind 127.0.0.1:0: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A plain HTTP/1.0 GET: the connection ends with the body.
    private static func get(port: UInt16, path: String = "/metrics") throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimeoutError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TimeoutError(description: "connect 127.0.0.1:\(port): errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { throw TimeoutError(description: "write: errno \(errno)") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 { throw TimeoutError(description: "read: errno \(errno)") }
            if count == 0 { break }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { throw TimeoutError(description: "no HTTP header in: \(text.prefix(200))") }
        guard text.hasPrefix("HTTP/1.0 200") || text.hasPrefix("HTTP/1.1 200") else {
            throw TimeoutError(description: "HTTP answer: \(text.prefix(200))")
        }
        return String(text[end.upperBound...])
    }
}
