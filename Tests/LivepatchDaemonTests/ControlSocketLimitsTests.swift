import Foundation
import LivepatchDaemon
import Testing
import Varlink

@Suite("Control socket: misbehaving clients")
struct ControlSocketLimitsTests {
    /// The error reply a disconnected client received, and that it was disconnected.
    private func errorThenClose(_ raw: RawConnection) async throws -> VarlinkReply {
        let (bytes, closed) = try await raw.readUntilClosed()
        #expect(closed)
        #expect(bytes.last == 0)
        return try VarlinkReply(frame: bytes)
    }

    @Test("invalid JSON gets InvalidParameter and a disconnect; another client is still answered")
    func invalidJSON() async throws {
        let running = try await RunningServer.start()
        let other = try RawConnection(path: running.path)
        let raw = try RawConnection(path: running.path)
        raw.send(Array("this is not json".utf8) + [0])
        let reply = try await errorThenClose(raw)
        #expect(reply.error == "org.varlink.service.InvalidParameter")
        #expect(reply.parameters["parameter"] == "message")
        #expect(reply.parameters["reason"]?.stringValue?.contains("not valid JSON") == true)

        other.send(VarlinkCall(method: "org.example.test.Echo", parameters: ["still": "here"]).encodeFrame())
        #expect(try VarlinkReply(frame: try await other.readMessage()).parameters["echo"] == ["still": "here"])
        try await running.stop()
    }

    @Test("a malformed call names the bad field; calls before it are still answered first")
    func malformedCallAfterGoodOne() async throws {
        let running = try await RunningServer.start()
        let raw = try RawConnection(path: running.path)
        raw.send(
            VarlinkCall(method: "org.example.test.Echo", parameters: ["first": true]).encodeFrame()
                + Array(#"{"method":"org.example.test.Echo","parameters":[1,2]}"#.utf8) + [0]
                + VarlinkCall(method: "org.example.test.Echo", parameters: ["never": true]).encodeFrame())
        let (bytes, closed) = try await raw.readUntilClosed()
        #expect(closed)
        let frames = bytes.split(separator: 0).map { try? VarlinkReply(frame: $0) }
        #expect(frames.count == 2)
        #expect(frames.first??.parameters["echo"] == ["first": true])
        #expect(frames.last??.error == "org.varlink.service.InvalidParameter")
        #expect(frames.last??.parameters["parameter"] == "parameters")
        try await running.stop()
    }

    @Test("an oversized message gets an error and a disconnect, without waiting for its end")
    func oversized() async throws {
        let running = try await RunningServer.start(limits: .init(maxMessageSize: 1024))
        let raw = try RawConnection(path: running.path)
        raw.send(#"{"method":"org.example.test.Echo","parameters":{"x":""# + String(repeating: "a", count: 4096))
        let reply = try await errorThenClose(raw)
        #expect(reply.error == "org.varlink.service.InvalidParameter")
        #expect(reply.parameters["reason"]?.stringValue?.contains("limit of 1024 bytes") == true)
        #expect(try await running.call("org.example.test.Echo").error == nil)
        try await running.stop()
    }

    @Test("a client stalled mid-message does not block others and is disconnected after the timeout")
    func stalledClient() async throws {
        let running = try await RunningServer.start(limits: .init(partialMessageTimeout: .milliseconds(300)))
        let stalled = try RawConnection(path: running.path)
        stalled.send(#"{"method":"org.example.test.Ec"#)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await running.call("org.example.test.Echo").error == nil)
        let reply = try await errorThenClose(stalled)
        #expect(reply.error == "org.varlink.service.InvalidParameter")
        #expect(reply.parameters["reason"]?.stringValue?.contains("not completed") == true)
        #expect(clock.now - start >= .milliseconds(300))
        try await running.stop()
    }

    @Test("an idle connection between calls is not timed out")
    func idleIsFine() async throws {
        let running = try await RunningServer.start(limits: .init(partialMessageTimeout: .milliseconds(100)))
        let raw = try RawConnection(path: running.path)
        raw.send(VarlinkCall(method: "org.example.test.Echo").encodeFrame())
        _ = try await raw.readMessage()
        // A negative check, so a plain wait: idle for several timeouts, which a timer wrongly
        // running between messages would have used to close the connection.
        try await Task.sleep(for: .milliseconds(400))
        raw.send(VarlinkCall(method: "org.example.test.Echo", parameters: ["again": true]).encodeFrame())
        #expect(try VarlinkReply(frame: try await raw.readMessage()).parameters["echo"] == ["again": true])
        try await running.stop()
    }

    @Test("connections beyond the limit are closed at once; a freed slot is usable again")
    func connectionLimit() async throws {
        let running = try await RunningServer.start(limits: .init(maxConnections: 2))
        var first: RawConnection? = try RawConnection(path: running.path)
        let second = try RawConnection(path: running.path)
        #expect(await eventually { await running.server.activeConnections == 2 })

        let third = try RawConnection(path: running.path)
        let (bytes, closed) = try await third.readUntilClosed()
        #expect(closed && bytes.isEmpty)

        first = nil
        #expect(await eventually { await running.server.activeConnections == 1 })
        #expect(try await running.call("org.example.test.Echo").error == nil)
        _ = (first, second)
        try await running.stop()
    }

    @Test("a client that never reads its stream is disconnected and its handler stops; others are served")
    func slowReader() async throws {
        let running = try await RunningServer.start(
            limits: .init(maxPendingOutputBytes: 64 * 1024, writeStallTimeout: .milliseconds(300)))
        let raw = try RawConnection(path: running.path)
        raw.send(VarlinkCall(method: "org.example.test.Flood", more: true).encodeFrame())
        #expect(try await running.call("org.example.test.Echo").error == nil)
        #expect(await eventually { await running.handler.events.contains("flood stopped") })
        #expect(await eventually { await running.server.activeConnections == 0 })
        _ = raw
        try await running.stop()
    }
}
