/// Splits a byte stream into Varlink messages, each ended by a NUL byte.
///
/// The size limit is checked as bytes arrive, so a peer that never sends a NUL cannot make
/// the buffer grow past `maxMessageSize`.
public struct VarlinkFrameDecoder: Sendable {
    /// The largest message accepted, in bytes, not counting its NUL.
    public let maxMessageSize: Int
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already known to hold no NUL: each byte is scanned once.
    private var scanned = 0

    public init(maxMessageSize: Int = 64 * 1024) {
        precondition(maxMessageSize > 0, "maxMessageSize must be positive")
        self.maxMessageSize = maxMessageSize
    }

    /// Bytes of a message begun but not yet ended.
    public var bufferedByteCount: Int { buffer.count }

    /// A message has begun and is not complete.
    public var hasPartialMessage: Bool { !buffer.isEmpty }

    /// Appends `bytes` and returns every message they complete, without their NULs.
    /// Throws as soon as a message exceeds the limit; the decoder is then unusable, as the
    /// stream cannot be resynchronised without trusting the peer.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(VarlinkFrameError) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var frames: [[UInt8]] = []
        var start = 0
        while let nul = buffer[scanned...].firstIndex(of: 0) {
            let length = nul - start
            guard length <= maxMessageSize else { throw .messageTooLarge(size: length, limit: maxMessageSize) }
            frames.append(Array(buffer[start..<nul]))
            start = nul + 1
            scanned = start
        }
        if start > 0 { buffer.removeFirst(start) }
        scanned = buffer.count
        if buffer.count > maxMessageSize {
            throw .messageTooLarge(size: buffer.count, limit: maxMessageSize)
        }
        return frames
    }
}

public enum VarlinkFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `size` is what had arrived when the limit was crossed: possibly less than the whole message.
    case messageTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .messageTooLarge(let size, let limit):
            "message exceeds the limit of \(limit) bytes (\(size) bytes received)"
        }
    }
}
