import FoundationEssentials
import Testing
import Varlink

@Suite("Varlink messages")
struct VarlinkMessageTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a call survives encoding and parsing")
    func callRoundTrip() throws {
        let call = VarlinkCall(method: "io.livepatchd.Apply", parameters: ["name": "fix_1"], more: true)
        let frame = call.encodeFrame()
        #expect(frame.last == 0)
        #expect(frame.dropLast().contains(0) == false)
        #expect(try VarlinkCall(frame: frame) == call)
        #expect(call.interface == "io.livepatchd")
        #expect(call.member == "Apply")
    }

    @Test("false flags are left out of the wire form")
    func compactCall() {
        let frame = VarlinkCall(method: "io.livepatchd.GetStatus").encodeFrame()
        #expect(frame == bytes(#"{"method":"io.livepatchd.GetStatus","parameters":{}}"#) + [0])
    }

    @Test("a final reply framed from an encoder's bytes reads back as the same reply, NUL only at the end")
    func encodedFromEncoder() throws {
        struct Listing: Encodable {
            var names: [String]
            var note: String
        }
        let value = Listing(names: ["a", "b/c"], note: "nul \u{0} and \"quotes\"")
        let encoded = try VarlinkReply.Encoded(parameters: value, encoder: JSONEncoder())
        #expect(encoded.frame.last == 0 && !encoded.frame.dropLast().contains(0))
        #expect(try VarlinkReply(frame: encoded.frame) == VarlinkReply(parameters: try JSONValue.object(encoding: value)))
        #expect(throws: EncodingError.self) { try VarlinkReply.Encoded(parameters: ["not", "an", "object"], encoder: JSONEncoder()) }
    }

    @Test("a reply survives encoding and parsing")
    func replyRoundTrip() throws {
        let replies = [
            VarlinkReply(parameters: ["patch": ["state": "applying"]], continues: true),
            VarlinkReply(parameters: [:]),
            VarlinkReply.error("io.livepatchd.NoSuchPatch", parameters: ["name": "nope"]),
        ]
        for reply in replies {
            #expect(try VarlinkReply(frame: reply.encodeFrame()) == reply)
        }
    }

    @Test("other implementations' forms are accepted: continues false, null fields, no parameters")
    func lenientReplies() throws {
        let reply = try VarlinkReply(frame: bytes(#"{"parameters":{"a":1},"continues":false}"#))
        #expect(reply == VarlinkReply(parameters: ["a": 1], continues: false))
        #expect(try VarlinkReply(frame: bytes(#"{"error":null,"parameters":null}"#)) == VarlinkReply())
        #expect(try VarlinkReply(frame: bytes("{}")) == VarlinkReply())
    }

    @Test("unknown top-level keys are ignored, as the specification asks")
    func unknownKeysIgnored() throws {
        let call = try VarlinkCall(frame: bytes(#"{"method":"org.example.Ping","future":{"x":1},"parameters":{}}"#))
        #expect(call.method == "org.example.Ping")
    }

    @Test(
        "malformed calls are refused with a precise reason",
        arguments: [
            ("not json", VarlinkMessageError.invalidJSON("")),
            ("", .invalidJSON("")),
            (#"[1]"#, .notAnObject(found: "an array")),
            (#""text""#, .notAnObject(found: "a string")),
            (#"{}"#, .missingField("method")),
            (#"{"parameters":{}}"#, .missingField("method")),
            (#"{"method":1}"#, .wrongType(field: "method", expected: "a string", found: "a number")),
            (#"{"method":"GetStatus"}"#, .invalidMethodName("GetStatus")),
            (#"{"method":"io.livepatchd.getStatus"}"#, .invalidMethodName("io.livepatchd.getStatus")),
            (#"{"method":"livepatchd.Get-Status"}"#, .invalidMethodName("livepatchd.Get-Status")),
            (#"{"method":"-io.livepatchd.GetStatus"}"#, .invalidMethodName("-io.livepatchd.GetStatus")),
            (#"{"method":"io..livepatchd.GetStatus"}"#, .invalidMethodName("io..livepatchd.GetStatus")),
            (#"{"method":"1io.livepatchd.GetStatus"}"#, .invalidMethodName("1io.livepatchd.GetStatus")),
            (#"{"method":"io.GetStatus."}"#, .invalidMethodName("io.GetStatus.")),
            (#"{"method":"a.b.C","parameters":[]}"#, .wrongType(field: "parameters", expected: "an object", found: "an array")),
            (#"{"method":"a.b.C","parameters":"x"}"#, .wrongType(field: "parameters", expected: "an object", found: "a string")),
            (#"{"method":"a.b.C","more":"yes"}"#, .wrongType(field: "more", expected: "a boolean", found: "a string")),
            (#"{"method":"a.b.C","oneway":1}"#, .wrongType(field: "oneway", expected: "a boolean", found: "a number")),
            (#"{"method":"a.b.C","upgrade":{}}"#, .wrongType(field: "upgrade", expected: "a boolean", found: "an object")),
        ]
    )
    func malformedCalls(text: String, expected: VarlinkMessageError) {
        #expect {
            try VarlinkCall(frame: Array(text.utf8))
        } throws: { error in
            guard let error = error as? VarlinkMessageError else { return false }
            if case .invalidJSON = expected, case .invalidJSON(let detail) = error { return !detail.isEmpty }
            return error == expected
        }
    }

    @Test("valid method names of several shapes are accepted")
    func validNames() throws {
        for name in ["io.livepatchd.GetStatus", "org.varlink.service.GetInfo", "com.example-corp.v2.Do2"] {
            #expect(try VarlinkCall(frame: VarlinkCall(method: name).encodeFrame()).method == name)
        }
    }

    @Test("a NUL inside a message is named with its offset")
    func embeddedNUL() {
        #expect(throws: VarlinkMessageError.embeddedNUL(offset: 2)) {
            try VarlinkCall(frame: [UInt8(ascii: "{"), UInt8(ascii: "}"), 0, UInt8(ascii: " "), 0])
        }
    }

    @Test(
        "malformed replies are refused with a precise reason",
        arguments: [
            (#"{"error":"NoSuchPatch"}"#, VarlinkMessageError.invalidErrorName("NoSuchPatch")),
            (#"{"error":5}"#, .wrongType(field: "error", expected: "a string", found: "a number")),
            (#"{"continues":"no"}"#, .wrongType(field: "continues", expected: "a boolean", found: "a string")),
            (#"{"parameters":[]}"#, .wrongType(field: "parameters", expected: "an object", found: "an array")),
            (#"null"#, .notAnObject(found: "null")),
        ]
    )
    func malformedReplies(text: String, expected: VarlinkMessageError) {
        #expect(throws: expected) { try VarlinkReply(frame: Array(text.utf8)) }
    }

    @Test("errors name the field a server reports in InvalidParameter, and say what is wrong")
    func errorDescriptions() {
        let error = VarlinkMessageError.wrongType(field: "parameters", expected: "an object", found: "an array")
        #expect(error.field == "parameters")
        #expect(error.description == #""parameters" must be an object, found an array"#)
        #expect(VarlinkMessageError.invalidJSON("x").field == "message")
        #expect(VarlinkMessageError.invalidMethodName("x").description.contains("interface.Method"))
    }

    @Test("standard error replies carry the standard parameters")
    func standardErrors() {
        #expect(VarlinkReply.interfaceNotFound("a.b") == VarlinkReply(
            parameters: ["interface": "a.b"], error: "org.varlink.service.InterfaceNotFound"))
        #expect(VarlinkReply.methodNotFound("a.b.C").error == "org.varlink.service.MethodNotFound")
        #expect(VarlinkReply.invalidParameter("name", reason: "empty").parameters == ["parameter": "name", "reason": "empty"])
        #expect(VarlinkReply.permissionDenied.error == "org.varlink.service.PermissionDenied")
        #expect(VarlinkReply.expectedMore.error == "org.varlink.service.ExpectedMore")
    }
}
