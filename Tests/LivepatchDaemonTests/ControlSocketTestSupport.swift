import Foundation
import LivepatchDaemon
import Logging
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

let testInterface = "org.example.test"
let testInterfaceDescription = """
    # Test interface of the control socket tests.
    interface org.example.test

    method Echo() -> ()
    # Needs more: streams n replies, then a final one.
    method Count(n: ?int) -> (i: ?int, done: ?bool)
    method Silent() -> ()
    method Flood() -> (data: string)
    method Hold() -> (state: string)
    method Record(x: int) -> ()
    # Answered at once by the event loop when it can, else by the handler.
    method Now() -> (immediate: bool)
    # Answers after ms milliseconds.
    method Slow(ms: int) -> ()
    """

/// What the test handler did, for tests to wait on.
actor HandlerEvents {
    private(set) var events: [String] = []
    func record(_ event: String) { events.append(event) }
    func contains(_ event: String) -> Bool { events.contains(event) }
}

/// Answers `org.example.test`: Echo (parameters and peer), Count (a `more` stream), Silent (no
/// reply, a handler bug), Flood (streams until the client is gone), Hold (a subscription that
/// waits until cancelled), Record (notes its parameter, for oneway calls), Now (says whether
/// the event loop answered it), Slow (answers after `ms` milliseconds).
struct TestHandler: VarlinkRequestHandler {
    let events = HandlerEvents()

    func immediateReply(to call: VarlinkCall) -> VarlinkReply.Encoded? {
        call.method == "\(testInterface).Now" ? VarlinkReply(parameters: ["immediate": true]).encodedFinal() : nil
    }

    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: any VarlinkReplySink) async {
        switch call.member {
        case "Echo":
            await replies.send(VarlinkReply(parameters: [
                "echo": .object(call.parameters), "pid": .int(Int(peer.pid)), "uid": .int(Int(peer.uid)),
                "gid": .int(Int(peer.gid)),
            ]))
        case "Count":
            guard call.more else {
                await replies.send(.expectedMore)
                return
            }
            for index in 0..<(call.parameters["n"]?.intValue ?? 3) {
                await replies.send(VarlinkReply(parameters: ["i": .int(index)], continues: true))
            }
            await replies.send(VarlinkReply(parameters: ["done": true]))
        case "Silent":
            return
        case "Flood":
            let payload = JSONValue.string(String(repeating: "x", count: 16 * 1024))
            while await replies.send(VarlinkReply(parameters: ["data": payload], continues: true)) {}
            await events.record("flood stopped")
        case "Hold":
            await replies.send(VarlinkReply(parameters: ["state": "subscribed"], continues: true))
            await events.record("hold started")
            try? await Task.sleep(for: .seconds(3600))
            await events.record(Task.isCancelled ? "hold cancelled" : "hold ended")
        case "Now":
            await replies.send(VarlinkReply(parameters: ["immediate": false]))
        case "Slow":
            await events.record("slow started")
            try? await Task.sleep(for: .milliseconds(call.parameters["ms"]?.intValue ?? 0))
            await replies.send(VarlinkReply(parameters: ["slept": call.parameters["ms"] ?? 0]))
        case "Record":
            await events.record("record \(call.parameters["x"]?.intValue ?? -1)")
            await replies.send(VarlinkReply())
        default:
            await replies.send(.methodNotFound(call.method))
        }
    }
}

/// A ``VarlinkServer`` running on a socket in a fresh temporary directory.
struct RunningServer {
    let server: VarlinkServer
    let task: Task<Void, any Error>
    let directory: TestDirectory
    let handler: TestHandler

    var path: String { server.socketPath }

    static func start(limits: VarlinkServer.Limits = .init(), socketName: String = "io.test") async throws -> RunningServer {
        let directory = try TestDirectory()
        let handler = TestHandler()
        let server = makeServer(path: directory.path + "/" + socketName, handler: handler, limits: limits)
        let task = Task { try await server.run() }
        try await server.waitUntilBound()
        return RunningServer(server: server, task: task, directory: directory, handler: handler)
    }

    static func makeServer(
        path: String, handler: TestHandler, limits: VarlinkServer.Limits = .init(),
        extraInterfaces: [(name: String, description: String)] = [], drainDeadline: Duration = .seconds(5)
    ) -> VarlinkServer {
        VarlinkServer(
            socketPath: path,
            interfaces: [(name: testInterface, description: testInterfaceDescription)] + extraInterfaces,
            vendor: "livepatchd project", product: "livepatchd-test", version: "0.0-test",
            url: "https://example.org/livepatchd", handler: handler,
            logger: Logger(label: "control-socket-test", factory: { _ in SwiftLogNoOpLogHandler() }),
            limits: limits, drainDeadline: drainDeadline)
    }

    func stop() async throws {
        task.cancel()
        try await task.value
    }

    /// Makes a blocking client call off the cooperative thread pool, which the server's
    /// handlers need while the client blocks.
    func call(_ method: String, _ parameters: [String: JSONValue] = [:]) async throws -> VarlinkReply {
        let path = path
        return try await offloaded {
            try VarlinkClient(socketPath: path, timeout: .seconds(10)).call(method, parameters: parameters)
        }
    }
}

func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

final class TestDirectory: Sendable {
    let path: String

    init() throws {
        // Short: sun_path holds only 107 bytes.
        path = "/tmp/cs-" + UUID().uuidString.prefix(12)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A client that speaks raw bytes, to misbehave in ways ``VarlinkClient`` never would.
final class RawConnection: Sendable {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = unixAddress(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(result == 0, "connect: errno \(errno)")
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(written == bytes.count)
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads until the server closes the connection (or 10 s pass): what it sent, and whether it closed.
    func readUntilClosed() async throws -> (bytes: [UInt8], closed: Bool) {
        let fd = fd
        return try await offloaded {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { return (received, true) }
                if count < 0 { return (received, errno == ECONNRESET) }
                received += buffer[..<count]
            }
        }
    }

    /// Reads one NUL-terminated message.
    func readMessage() async throws -> [UInt8] {
        let fd = fd
        return try await offloaded {
            var message: [UInt8] = []
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) == 1 {
                if byte == 0 { return message }
                message.append(byte)
            }
            return message
        }
    }
}

func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return address
}

/// Leaves a socket file nobody listens on, as a crashed daemon does.
func makeStaleSocket(at path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var address = unixAddress(path)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(result == 0)
}

func fileMode(_ path: String) -> mode_t? {
    var status = stat()
    return lstat(path, &status) == 0 ? status.st_mode : nil
}
