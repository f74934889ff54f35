import Synchronization
import Varlink

/// The reply last encoded for a value, sent again as long as the value stays equal.
///
/// Monitoring polls GetStatus on every host and its answer rarely changes between two polls;
/// encoding it (Codable to JSON, to ``JSONValue``, to the wire) cost more than computing it.
/// Keyed by the value itself rather than by a change counter, so a reply that depends on time
/// (a patch pending past its settle timeout) or on the kernel (its taint) is never stale.
final class LastEncodedReply<Value: Equatable & Sendable>: Sendable {
    private let last = Mutex<(value: Value, reply: VarlinkReply.Encoded)?>(nil)

    func reply(for value: Value, encode: (Value) -> VarlinkReply) -> VarlinkReply.Encoded {
        if let cached = last.withLock({ last in last.flatMap { $0.value == value ? $0.reply : nil } }) {
            return cached
        }
        // Encoded outside the lock: two callers racing on a change both encode, and either result is right.
        let encoded = encode(value).encodedFinal()
        last.withLock { $0 = (value, encoded) }
        return encoded
    }
}
