import Foundation
import LivepatchDaemon
import Logging
import ServiceLifecycle
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

@Suite("Control socket: calls")
struct ControlSocketTests {
    @Test("a plain call reaches the handler and its reply comes back")
    func plainCall() async throws {
        let running = try await RunningServer.start()
        let reply = try await running.call("org.example.test.Echo", ["patch": "fix_1", "count": 2])
        #expect(reply.parameters["echo"] == ["patch": "fix_1", "count": 2])
        #expect(reply.error == nil && !reply.continues)
        try await running.stop()
    }

    @Test("the handler sees the caller's real pid, uid and gid")
    func peerCredentials() async throws {
        let running = try await RunningServer.start()
        let reply = try await running.call("org.example.test.Echo")
        #expect(reply.parameters["pid"]?.intValue == Int(getpid()))
        #expect(reply.parameters["uid"]?.intValue == Int(getuid()))
        #expect(reply.parameters["gid"]?.intValue == Int(getgid()))
        try await running.stop()
    }

    @Test("a more call streams several replies, then a final one")
    func streaming() async throws {
        let running = try await RunningServer.start()
        let path = running.path
        let replies = try await offloaded {
            var replies: [VarlinkReply] = []
            try VarlinkClient(socketPath: path, timeout: .seconds(10))
                .callMore("org.example.test.Count", parameters: ["n": 3]) { replies.append($0) }
            return replies
        }
        #expect(replies.map(\.parameters) == [["i": 0], ["i": 1], ["i": 2], ["done": true]])
        #expect(replies.map(\.continues) == [true, true, true, false])
        try await running.stop()
    }

    @Test("calls on one connection are answered in order, and the connection serves the next call")
    func severalCallsOneConnection() async throws {
        let running = try await RunningServer.start()
        let raw = try RawConnection(path: running.path)
        // Pipelined: all three calls in one write.
        raw.send(
            VarlinkCall(method: "org.example.test.Echo", parameters: ["n": 1]).encodeFrame()
                + VarlinkCall(method: "org.example.test.Count", parameters: ["n": 1], more: true).encodeFrame()
                + VarlinkCall(method: "org.example.test.Echo", parameters: ["n": 2]).encodeFrame())
        var replies: [VarlinkReply] = []
        for _ in 0..<4 { replies.append(try VarlinkReply(frame: try await raw.readMessage())) }
        #expect(replies.map(\.parameters["echo"]) == [["n": 1], nil, nil, ["n": 2]])
        #expect(replies[1].parameters == ["i": 0] && replies[2].parameters == ["done": true])
        try await running.stop()
    }

    @Test("a reply the event loop can give at once never overtakes an earlier call's reply")
    func immediateRepliesKeepCallOrder() async throws {
        let running = try await RunningServer.start()
        let now = VarlinkCall(method: "org.example.test.Now").encodeFrame()
        func reply(_ raw: RawConnection) async throws -> [String: JSONValue] {
            try VarlinkReply(frame: try await raw.readMessage()).parameters
        }

        let raw = try RawConnection(path: running.path)
        raw.send(now)
        #expect(try await reply(raw) == ["immediate": true])
        // Behind a call still running, sent while it runs, and in the same write: answered
        // after it, by the call loop.
        let slow = VarlinkCall(method: "org.example.test.Slow", parameters: ["ms": 300]).encodeFrame()
        raw.send(slow)
        #expect(await eventually { await running.handler.events.contains("slow started") })
        raw.send(now)
        #expect(try await reply(raw) == ["slept": 300])
        #expect(try await reply(raw) == ["immediate": false])
        raw.send(slow + now)
        #expect(try await reply(raw) == ["slept": 300])
        #expect(try await reply(raw) == ["immediate": false])
        // Everything answered: at once again, once the call loop has counted the last one down.
        let again = try await eventually {
            raw.send(now)
            return try await reply(raw) == ["immediate": true]
        }
        #expect(again)

        // A call that asks for more, or for no reply, is the handler's.
        raw.send(VarlinkCall(method: "org.example.test.Now", more: true).encodeFrame())
        #expect(try await reply(raw) == ["immediate": false])
        // No reply at all to a oneway call: the next one read is the Echo's behind it.
        raw.send(
            VarlinkCall(method: "org.example.test.Now", oneway: true).encodeFrame()
                + VarlinkCall(method: "org.example.test.Echo", parameters: ["n": 3]).encodeFrame())
        #expect(try await reply(raw)["echo"] == ["n": 3])
        try await running.stop()
    }

    @Test("GetInfo lists org.varlink.service and the served interfaces")
    func getInfo() async throws {
        let running = try await RunningServer.start()
        let reply = try await running.call("org.varlink.service.GetInfo")
        #expect(reply.parameters == [
            "vendor": "livepatchd project", "product": "livepatchd-test", "version": "0.0-test",
            "url": "https://example.org/livepatchd", "interfaces": ["org.varlink.service", "org.example.test"],
        ])
        try await running.stop()
    }

    @Test("GetInterfaceDescription returns the IDL of served interfaces and of org.varlink.service")
    func getInterfaceDescription() async throws {
        let running = try await RunningServer.start()
        let method = "org.varlink.service.GetInterfaceDescription"
        let served = try await running.call(method, ["interface": "org.example.test"])
        #expect(served.parameters["description"] == .string(testInterfaceDescription))
        let service = try await running.call(method, ["interface": "org.varlink.service"])
        #expect(service.parameters["description"]?.stringValue?.contains("method GetInfo()") == true)
        await #expect(throws: VarlinkClientError.remote(
            name: "org.varlink.service.InterfaceNotFound", parameters: ["interface": "org.example.nope"])
        ) {
            try await running.call(method, ["interface": "org.example.nope"])
        }
        await #expect(throws: VarlinkClientError.self) { try await running.call(method, ["interface": 5]) }
        try await running.stop()
    }

    @Test("an unknown interface is InterfaceNotFound, an unknown method MethodNotFound")
    func unknownNames() async throws {
        let running = try await RunningServer.start()
        await #expect(throws: VarlinkClientError.remote(
            name: "org.varlink.service.InterfaceNotFound", parameters: ["interface": "org.example.other"])
        ) {
            try await running.call("org.example.other.Echo")
        }
        await #expect(throws: VarlinkClientError.remote(
            name: "org.varlink.service.MethodNotFound", parameters: ["method": "org.example.test.Nope"])
        ) {
            try await running.call("org.example.test.Nope")
        }
        await #expect(throws: VarlinkClientError.remote(
            name: "org.varlink.service.MethodNotFound", parameters: ["method": "org.varlink.service.Nope"])
        ) {
            try await running.call("org.varlink.service.Nope")
        }
        try await running.stop()
    }

    @Test("a oneway call gets no reply; the next call's reply is its own")
    func oneway() async throws {
        let running = try await RunningServer.start()
        let path = running.path
        let reply = try await offloaded {
            let client = try VarlinkClient(socketPath: path, timeout: .seconds(10))
            try client.callOneway("org.example.test.Record", parameters: ["x": 7])
            return try client.call("org.example.test.Echo", parameters: ["after": true])
        }
        #expect(reply.parameters["echo"] == ["after": true])
        #expect(await running.handler.events.contains("record 7"))
        try await running.stop()
    }

    @Test("a handler that forgets to reply still gets the client an answer, not a hang")
    func missingReply() async throws {
        let running = try await RunningServer.start()
        await #expect(throws: VarlinkClientError.remote(
            name: "org.varlink.service.MethodNotImplemented", parameters: ["method": "org.example.test.Silent"])
        ) {
            try await running.call("org.example.test.Silent")
        }
        try await running.stop()
    }

    @Test("a handler can demand more")
    func expectedMore() async throws {
        let running = try await RunningServer.start()
        await #expect(throws: VarlinkClientError.remote(name: "org.varlink.service.ExpectedMore", parameters: [:])) {
            try await running.call("org.example.test.Count")
        }
        try await running.stop()
    }

    @Test("a client that hangs up cancels its streaming call")
    func disconnectCancelsStream() async throws {
        let running = try await RunningServer.start()
        do {
            let raw = try RawConnection(path: running.path)
            raw.send(VarlinkCall(method: "org.example.test.Hold", more: true).encodeFrame())
            let first = try VarlinkReply(frame: try await raw.readMessage())
            #expect(first.parameters == ["state": "subscribed"] && first.continues)
        }  // the raw connection closes here
        let cancelled = await eventually { await running.handler.events.contains("hold cancelled") }
        #expect(cancelled)
        #expect(await eventually { await running.server.activeConnections == 0 })
        try await running.stop()
    }
}

@Suite("Control socket: the socket file")
struct ControlSocketFileTests {
    @Test("the socket is connectable by every user and removed on shutdown")
    func modeAndRemoval() async throws {
        let running = try await RunningServer.start()
        let mode = try #require(fileMode(running.path))
        #expect(mode & S_IFMT == S_IFSOCK)
        #expect(mode & 0o777 == 0o666)
        try await running.stop()
        #expect(fileMode(running.path) == nil)
    }

    @Test("shutdown ends open streams and removes the socket")
    func shutdownWithOpenStream() async throws {
        let running = try await RunningServer.start()
        let raw = try RawConnection(path: running.path)
        raw.send(VarlinkCall(method: "org.example.test.Hold", more: true).encodeFrame())
        _ = try await raw.readMessage()
        try await running.stop()
        #expect(try await raw.readUntilClosed().closed)
        #expect(await running.handler.events.contains("hold cancelled"))
        #expect(fileMode(running.path) == nil)
    }

    @Test("a stale socket left by a crash is replaced")
    func staleSocket() async throws {
        let directory = try TestDirectory()
        let path = directory.path + "/io.test"
        try makeStaleSocket(at: path)
        let server = RunningServer.makeServer(path: path, handler: TestHandler())
        let task = Task { try await server.run() }
        try await server.waitUntilBound()
        let reply = try await offloaded { try VarlinkClient(socketPath: path, timeout: .seconds(10)).call("org.example.test.Echo") }
        #expect(reply.error == nil)
        task.cancel()
        try await task.value
    }

    @Test("a path that is not a socket is left alone and the server does not start")
    func notASocket() async throws {
        let directory = try TestDirectory()
        let path = directory.path + "/io.test"
        try #require(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        let server = RunningServer.makeServer(path: path, handler: TestHandler())
        let task = Task { try await server.run() }
        await #expect(throws: ControlSocketError.notASocket(path: path)) { try await server.waitUntilBound() }
        await #expect(throws: ControlSocketError.notASocket(path: path)) { try await task.value }
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }

    @Test("a second server refuses a socket a live server answers on, which keeps serving")
    func socketInUse() async throws {
        let running = try await RunningServer.start()
        let second = RunningServer.makeServer(path: running.path, handler: TestHandler())
        let task = Task { try await second.run() }
        await #expect(throws: ControlSocketError.socketInUse(path: running.path)) { try await task.value }
        #expect(try await running.call("org.example.test.Echo").error == nil)
        try await running.stop()
    }
}

@Suite("Control socket: service lifecycle")
struct ControlSocketLifecycleTests {
    @Test("graceful shutdown of its ServiceGroup ends the server cleanly and removes the socket")
    func gracefulShutdown() async throws {
        let directory = try TestDirectory()
        let path = directory.path + "/io.test"
        let handler = TestHandler()
        let server = RunningServer.makeServer(path: path, handler: handler)
        let group = ServiceGroup(
            services: [server], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await group.run() }
        try await server.waitUntilBound()

        let raw = try RawConnection(path: path)
        raw.send(VarlinkCall(method: "org.example.test.Hold", more: true).encodeFrame())
        _ = try await raw.readMessage()

        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try await raw.readUntilClosed().closed)
        #expect(fileMode(path) == nil)
    }

    @Test("graceful shutdown closes at once a connection whose calls the event loop answered")
    func gracefulShutdownAfterImmediateReplies() async throws {
        let directory = try TestDirectory()
        let path = directory.path + "/io.test"
        // A deadline no loaded machine reaches by accident: closed at once is then told from
        // closed at the deadline whatever the load.
        let deadline = Duration.seconds(120)
        let server = RunningServer.makeServer(path: path, handler: TestHandler(), drainDeadline: deadline)
        let group = ServiceGroup(
            services: [server], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await group.run() }
        try await server.waitUntilBound()

        let raw = try RawConnection(path: path)
        raw.send(VarlinkCall(method: "org.example.test.Now").encodeFrame())
        #expect(try VarlinkReply(frame: try await raw.readMessage()).parameters == ["immediate": true])
        #expect(await eventually { await server.activeConnections == 1 })

        // Answered, so between calls: not kept until the drain deadline for a first call.
        let clock = ContinuousClock()
        let started = clock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(clock.now - started < deadline, "the server waited for the drain deadline")
        #expect(try await raw.readUntilClosed().closed)
    }
}
