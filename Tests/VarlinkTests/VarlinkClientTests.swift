import Foundation
import Testing
@testable import Varlink

#if canImport(Glibc)
import Glibc
#endif

@Suite("VarlinkClient")
struct VarlinkClientTests {
    @Test("a call sends one NUL-terminated message and returns the reply")
    func plainCall() throws {
        let peer = try ScriptedPeer()
        peer.send(VarlinkReply(parameters: ["summary": "2 applied"]))
        let reply = try peer.client.call("io.livepatchd.GetStatus", parameters: ["verbose": true])
        #expect(reply.parameters == ["summary": "2 applied"])
        let sent = try VarlinkCall(frame: peer.received())
        #expect(sent == VarlinkCall(method: "io.livepatchd.GetStatus", parameters: ["verbose": true]))
    }

    @Test("an error reply is thrown with its name and parameters, and the connection stays usable")
    func remoteError() throws {
        let peer = try ScriptedPeer()
        peer.send(.error("io.livepatchd.NoSuchPatch", parameters: ["name": "nope"]))
        peer.send(VarlinkReply(parameters: ["ok": true]))
        #expect(throws: VarlinkClientError.remote(name: "io.livepatchd.NoSuchPatch", parameters: ["name": "nope"])) {
            try peer.client.call("io.livepatchd.GetPatch", parameters: ["name": "nope"])
        }
        #expect(try peer.client.call("io.livepatchd.GetStatus").parameters == ["ok": true])
    }

    @Test("callMore hands over every reply and stops after the last, also when it says continues false")
    func streaming() throws {
        let peer = try ScriptedPeer()
        // Two replies in one write, the final one in the explicit form Python servers send.
        peer.send(#"{"parameters":{"n":1},"continues":true}"# + "\0" + #"{"parameters":{"n":2},"continues":true}"#)
        peer.send(#"{"parameters":{"n":3},"continues":false}"#)
        peer.send(VarlinkReply(parameters: ["next": "call"]))
        var seen: [Int] = []
        try peer.client.callMore("io.livepatchd.Apply", parameters: ["name": "fix"]) { reply in
            seen.append(reply.parameters["n"]?.intValue ?? -1)
        }
        #expect(seen == [1, 2, 3])
        #expect(try VarlinkCall(frame: peer.received()).more)
        #expect(try peer.client.call("io.livepatchd.GetStatus").parameters == ["next": "call"])
    }

    @Test("an error in the middle of a stream ends it with the remote error")
    func streamError() throws {
        let peer = try ScriptedPeer()
        peer.send(VarlinkReply(parameters: ["state": "applying"], continues: true))
        peer.send(.error("io.livepatchd.Failed", parameters: ["name": "fix", "reason": "timeout"]))
        var count = 0
        #expect(throws: VarlinkClientError.remote(name: "io.livepatchd.Failed", parameters: ["name": "fix", "reason": "timeout"])) {
            try peer.client.callMore("io.livepatchd.Apply") { _ in count += 1 }
        }
        #expect(count == 1)
    }

    @Test("typed calls encode parameters and decode replies with the given coders")
    func typedCalls() throws {
        struct Parameters: Encodable { var patchName: String }
        struct Reply: Decodable, Equatable { var blockingTasks: [Int] }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase

        let peer = try ScriptedPeer()
        peer.send(VarlinkReply(parameters: ["blocking_tasks": [1, 2]]))
        let reply = try peer.client.call(
            "org.example.Get", parameters: Parameters(patchName: "x"), returning: Reply.self,
            encoder: encoder, decoder: decoder)
        #expect(reply == Reply(blockingTasks: [1, 2]))
        #expect(try VarlinkCall(frame: peer.received()).parameters == ["patch_name": "x"])

        peer.send(VarlinkReply(parameters: ["blocking_tasks": "wrong"]))
        #expect {
            try peer.client.call("org.example.Get", returning: Reply.self, decoder: decoder)
        } throws: { error in
            guard case VarlinkClientError.typeMismatch(let detail) = error else { return false }
            return detail.contains("org.example.Get")
        }
    }

    @Test("a typed stream passes each decoded reply and whether more follow")
    func typedStream() throws {
        struct Reply: Decodable { var n: Int }
        let peer = try ScriptedPeer()
        peer.send(VarlinkReply(parameters: ["n": 1], continues: true))
        peer.send(VarlinkReply(parameters: ["n": 2]))
        var seen: [String] = []
        try peer.client.callMore("org.example.Watch", parameters: [String: String](), returning: Reply.self) { reply, continues in
            seen.append("\(reply.n):\(continues)")
        }
        #expect(seen == ["1:true", "2:false"])
    }

    @Test("a service closing mid-reply is connectionClosed, and the client stays closed")
    func closedMidReply() throws {
        let peer = try ScriptedPeer()
        peer.send(#"{"parameters":{"#, terminate: false)
        peer.closeWriting()
        #expect(throws: VarlinkClientError.connectionClosed) { try peer.client.call("org.example.Get") }
        #expect(throws: VarlinkClientError.connectionClosed) { try peer.client.call("org.example.Get") }
    }

    @Test("garbage from the service is a protocol violation that names the problem")
    func garbageReply() throws {
        let peer = try ScriptedPeer()
        peer.send(#"{"parameters":[]}"#)
        #expect(throws: VarlinkClientError.protocolViolation(#""parameters" must be an object, found an array"#)) {
            try peer.client.call("org.example.Get")
        }
        #expect(throws: VarlinkClientError.connectionClosed) { try peer.client.call("org.example.Get") }
    }

    @Test("a reply that continues to a call without more is a protocol violation")
    func unexpectedContinues() throws {
        let peer = try ScriptedPeer()
        peer.send(VarlinkReply(continues: true))
        #expect { try peer.client.call("org.example.Get") } throws: { error in
            guard case VarlinkClientError.protocolViolation(let detail) = error else { return false }
            return detail.contains("did not ask for more")
        }
    }

    @Test("a reply larger than the client's limit is refused")
    func replyTooLarge() throws {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]) }
        let client = VarlinkClient(
            connection: UnixStreamConnection(adopting: fds[1]), socketPath: "socketpair", maxReplySize: 16)
        let reply = VarlinkReply(parameters: ["text": .string(String(repeating: "x", count: 64))]).encodeFrame()
        #expect(reply.withUnsafeBytes { send(fds[0], $0.baseAddress, $0.count, 0) } == reply.count)
        #expect { try client.call("org.example.Get") } throws: { error in
            guard case VarlinkClientError.protocolViolation(let detail) = error else { return false }
            return detail.contains("limit of 16 bytes")
        }
    }

    @Test("a oneway call sends the flag and waits for nothing")
    func oneway() throws {
        let peer = try ScriptedPeer()
        try peer.client.callOneway("org.example.Poke", parameters: ["x": 1])
        #expect(try VarlinkCall(frame: peer.received()).oneway)
    }
}

@Suite("VarlinkClient connecting")
struct VarlinkClientConnectTests {
    @Test("a missing socket is unreachable, with a hint to start the daemon")
    func missingSocket() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/io.livepatchd"
        #expect(throws: VarlinkClientError.unreachable(path: path, errno: ENOENT)) {
            try VarlinkClient(socketPath: path)
        }
        let text = VarlinkClientError.unreachable(path: path, errno: ENOENT).description
        #expect(text == "cannot connect to \(path): No such file or directory — is livepatchd running? (systemctl start livepatchd)")
    }

    @Test("a socket nobody listens on is unreachable (ECONNREFUSED)")
    func deadSocket() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/dead"
        let socket = try SilentListener(path: path, listening: false)  // the file exists, nobody listens
        #expect(throws: VarlinkClientError.unreachable(path: path, errno: ECONNREFUSED)) {
            try VarlinkClient(socketPath: path)
        }
        withExtendedLifetime(socket) {}
    }

    @Test("a path through a regular file is unreachable (ENOTDIR)")
    func notADirectory() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/file"
        try #require(FileManager.default.createFile(atPath: file, contents: Data()))
        #expect(throws: VarlinkClientError.unreachable(path: file + "/sock", errno: ENOTDIR)) {
            try VarlinkClient(socketPath: file + "/sock")
        }
    }

    @Test("a path too long for sun_path is an error, not a truncated connect")
    func pathTooLong() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: VarlinkClientError.io(operation: "connect to \(path)", errno: ENAMETOOLONG)) {
            try VarlinkClient(socketPath: path)
        }
    }

    @Test("a service that accepts but never answers times out when a timeout is set")
    func timeout() throws {
        let directory = try TemporaryDirectory()
        let listener = try SilentListener(path: directory.path + "/silent")
        let client = try VarlinkClient(socketPath: directory.path + "/silent", timeout: .milliseconds(200))
        #expect(throws: VarlinkClientError.timedOut(operation: "read")) { try client.call("org.example.Get") }
        _ = listener
    }

    @Test("failed connects leave no file descriptor behind")
    func noDescriptorLeak() throws {
        let directory = try TemporaryDirectory()
        let before = try openFileDescriptorCount()
        for _ in 0..<50 { _ = try? VarlinkClient(socketPath: directory.path + "/missing") }
        #expect(try openFileDescriptorCount() <= before + 2)  // slack for descriptors other tests open meanwhile
    }

    @Test("each error says what to do")
    func descriptions() {
        #expect(VarlinkClientError.permissionDenied(path: "/run/x").description.contains("run as root"))
        #expect(VarlinkClientError.connectionClosed.description.contains("journalctl"))
        #expect(VarlinkClientError.remote(name: "org.varlink.service.PermissionDenied", parameters: [:])
            .description.contains("needs root"))
        #expect(VarlinkClientError.remote(name: "io.livepatchd.NoSuchPatch", parameters: ["name": "x"])
            .description == #"io.livepatchd.NoSuchPatch {"name":"x"}"#)
        #expect(VarlinkClientError.timedOut(operation: "read").description.contains("not answering"))
    }
}
