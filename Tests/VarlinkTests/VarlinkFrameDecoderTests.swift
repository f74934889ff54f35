import Testing
import Varlink

@Suite("VarlinkFrameDecoder")
struct VarlinkFrameDecoderTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a message split across reads comes out whole, once")
    func splitMessage() throws {
        var decoder = VarlinkFrameDecoder()
        #expect(try decoder.feed(bytes("{\"me")) == [])
        #expect(decoder.hasPartialMessage)
        #expect(try decoder.feed(bytes("thod\":1}")) == [])
        #expect(try decoder.feed([0]) == [bytes("{\"method\":1}")])
        #expect(!decoder.hasPartialMessage)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("several messages in one read come out in order, keeping the tail")
    func severalMessages() throws {
        var decoder = VarlinkFrameDecoder()
        let frames = try decoder.feed(bytes("{\"a\":1}") + [0] + bytes("{}") + [0] + bytes("{\"b"))
        #expect(frames == [bytes("{\"a\":1}"), bytes("{}")])
        #expect(decoder.bufferedByteCount == 3)
        #expect(try decoder.feed(bytes("\":2}") + [0]) == [bytes("{\"b\":2}")])
    }

    @Test("an empty message is a frame of its own (and then invalid JSON)")
    func emptyMessage() throws {
        var decoder = VarlinkFrameDecoder()
        #expect(try decoder.feed([0, 0]) == [[], []])
    }

    @Test("a message of exactly the limit is accepted")
    func exactlyAtLimit() throws {
        var decoder = VarlinkFrameDecoder(maxMessageSize: 8)
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
        #expect(try decoder.feed(message) == [])
        #expect(try decoder.feed([0]) == [message])
    }

    @Test("a message growing past the limit is refused before its NUL arrives")
    func tooLargeWithoutNUL() throws {
        var decoder = VarlinkFrameDecoder(maxMessageSize: 8)
        #expect(try decoder.feed(bytes("12345")) == [])
        #expect(throws: VarlinkFrameError.messageTooLarge(size: 10, limit: 8)) {
            try decoder.feed(bytes("67890"))
        }
    }

    @Test("a complete message over the limit is refused too")
    func tooLargeComplete() {
        var decoder = VarlinkFrameDecoder(maxMessageSize: 4)
        #expect(throws: VarlinkFrameError.messageTooLarge(size: 5, limit: 4)) {
            try decoder.feed(bytes("12345") + [0])
        }
    }

    @Test("the limit applies per message, not to the whole read")
    func limitPerMessage() throws {
        var decoder = VarlinkFrameDecoder(maxMessageSize: 4)
        let input = Array(repeating: bytes("1234") + [0], count: 10).flatMap { $0 }
        #expect(try decoder.feed(input).count == 10)
    }

    @Test("the error says the limit")
    func description() {
        #expect(VarlinkFrameError.messageTooLarge(size: 70000, limit: 65536).description.contains("65536"))
    }
}
