import Foundation
import FuzzSupport
import Varlink

/// Feeds arbitrary bytes to the Varlink framing and message decoders the way the daemon's
/// connection handler does: a `VarlinkFrameDecoder` receives the stream in chunks, and each
/// frame it yields is decoded as a `VarlinkCall` (and, as the client does, a `VarlinkReply`).
///
/// Input layout: byte 0 picks the chunk sizes (0: the whole stream at once), byte 1 the
/// message size limit (0: the server's 64 KiB, otherwise that many bytes, to reach the limit
/// with short inputs), the rest is the stream.
///
/// Invariants: chunking changes nothing (the frames equal the stream split at NULs, up to the
/// first one over the limit, which throws); no frame exceeds the limit or holds a NUL; a
/// decoded call or reply encodes to one frame that decodes to the same; a `JSONValue`
/// survives serialization.
@main
enum VarlinkFuzzer {
    static func main() {
        Fuzzer.run(varlinkTestOneInput)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func varlinkTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Fuzzer.bytes(data, size)
    guard input.count >= 2 else { return 0 }
    let limit = input[1] == 0 ? VarlinkServerDefaults.maxMessageSize : Int(input[1])
    let stream = Array(input[2...])

    let frames = checkFraming(stream, chunkSeed: input[0], limit: limit)
    for frame in frames {
        checkCall(frame)
        checkReply(frame)
        checkJSONValue(frame)
    }
    return 0
}

enum VarlinkServerDefaults {
    /// `VarlinkServer.Limits.maxMessageSize`'s default (LivepatchDaemon is not linked here).
    static let maxMessageSize = 64 * 1024
}

/// Frames the decoder yields for `stream` fed in chunks, checked against a plain split at NULs.
private func checkFraming(_ stream: [UInt8], chunkSeed: UInt8, limit: Int) -> [[UInt8]] {
    var decoder = VarlinkFrameDecoder(maxMessageSize: limit)
    var frames: [[UInt8]] = []
    var failed = false
    for chunk in chunks(of: stream, seed: chunkSeed) {
        do {
            frames += try decoder.feed(chunk)
        } catch {
            failed = true
            break
        }
    }

    let pieces = stream.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
    let complete = pieces.dropLast()
    let trailing = pieces.last ?? []
    let accepted = Array(complete.prefix(while: { $0.count <= limit }))
    let overLimit = accepted.count < complete.count || trailing.count > limit

    for frame in frames where frame.count > limit || frame.contains(0) {
        Fuzzer.fail("frame of \(frame.count) bytes with limit \(limit)")
    }
    if failed != overLimit { Fuzzer.fail("decoder threw: \(failed), a message over the limit: \(overLimit)") }
    if failed {
        // A throw drops the frames completed by the same chunk: what came before is a prefix.
        if !accepted.starts(with: frames) { Fuzzer.fail("frames before the error differ from the stream's") }
    } else {
        if frames != accepted { Fuzzer.fail("chunked frames differ from the stream split at NULs") }
        if decoder.bufferedByteCount != trailing.count || decoder.hasPartialMessage == trailing.isEmpty {
            Fuzzer.fail("\(decoder.bufferedByteCount) bytes buffered, \(trailing.count) after the last NUL")
        }
    }
    return frames
}

/// Splits `stream` into chunks of 1 to 64 bytes chosen by a small LCG seeded with `seed`.
private func chunks(of stream: [UInt8], seed: UInt8) -> [ArraySlice<UInt8>] {
    guard seed != 0 else { return [stream[...]] }
    var state = UInt32(seed)
    var result: [ArraySlice<UInt8>] = []
    var start = 0
    while start < stream.count {
        state = state &* 1_103_515_245 &+ 12345
        let length = 1 + Int((state >> 16) % 64)
        let end = min(stream.count, start + length)
        result.append(stream[start..<end])
        start = end
    }
    return result
}

private func checkCall(_ frame: [UInt8]) {
    guard let call = try? VarlinkCall(frame: frame) else { return }
    _ = (call.interface, call.member)
    let encoded = call.encodeFrame()
    checkSingleFrame(encoded)
    do {
        let again = try VarlinkCall(frame: encoded)
        if again != call { Fuzzer.fail("call decodes differently after encoding: \(call) vs \(again)") }
    } catch {
        Fuzzer.fail("encoded call is rejected: \(error)")
    }
}

private func checkReply(_ frame: [UInt8]) {
    guard let reply = try? VarlinkReply(frame: frame) else { return }
    let encoded = reply.encodeFrame()
    checkSingleFrame(encoded)
    do {
        let again = try VarlinkReply(frame: encoded)
        if again != reply { Fuzzer.fail("reply decodes differently after encoding: \(reply) vs \(again)") }
    } catch {
        Fuzzer.fail("encoded reply is rejected: \(error)")
    }
}

/// What the encoder sends is exactly one message: JSON without NUL, then NUL.
private func checkSingleFrame(_ encoded: [UInt8]) {
    guard encoded.last == 0, encoded.firstIndex(of: 0) == encoded.count - 1 else {
        Fuzzer.fail("encoded message is not one NUL-terminated frame")
    }
}

private func checkJSONValue(_ frame: [UInt8]) {
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(frame)) else { return }
    let serialized = value.serialized()
    do {
        let again = try JSONDecoder().decode(JSONValue.self, from: Data(serialized))
        if again != value { Fuzzer.fail("JSONValue changes through serialization: \(value) vs \(again)") }
    } catch {
        Fuzzer.fail("serialized JSONValue is not JSON: \(error)")
    }
}
