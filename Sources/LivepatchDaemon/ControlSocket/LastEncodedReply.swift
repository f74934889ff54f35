import Synchronization
import Varlink

/// The reply last encoded for a value, sent again as long as the value stays equal, and while
/// fresh sent without computing the value at all.
///
/// Monitoring polls GetStatus on every host and its answer rarely changes between two polls;
/// encoding it (Codable to JSON, to ``JSONValue``, to the wire) cost more than computing it,
/// and computing it (a hop to the engine from the event loop and back) more than both.
/// Keyed by the value itself rather than by a change counter, so a reply that depends on time
/// (a patch pending past its settle timeout) or on the kernel (its taint) is never stale.
final class LastEncodedReply<Value: Equatable & Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var reply: VarlinkReply.Encoded
        /// The source's ``EventCount`` when the value was computed.
        var events: UInt64
        var computed: ContinuousClock.Instant
    }

    private let last = Mutex<Entry?>(nil)

    /// The reply for `value`, computed when the source's event count was `events`.
    func reply(
        for value: Value, events: UInt64 = 0, now: ContinuousClock.Instant = .now, encode: (Value) -> VarlinkReply
    ) -> VarlinkReply.Encoded {
        let cached = last.withLock { last in last.flatMap { $0.value == value ? $0.reply : nil } }
        // Encoded outside the lock: two callers racing on a change both encode, and either result is right.
        let encoded = cached ?? encode(value).encodedFinal()
        last.withLock { last in
            // A caller that computed its value before another's keeps the newer one.
            if let newer = last, newer.events > events { return }
            last = Entry(value: value, reply: encoded, events: events, computed: now)
        }
        return encoded
    }

    /// The last reply if its value cannot have changed: no event since it was computed
    /// (`events` is the source's count now), and computed less than `maxAge` ago, the bound
    /// on what changes without an event (the clock, the kernel's taint).
    func fresh(events: UInt64, maxAge: Duration, now: ContinuousClock.Instant = .now) -> VarlinkReply.Encoded? {
        last.withLock { last in
            guard let last, last.events == events, now - last.computed < maxAge else { return nil }
            return last.reply
        }
    }
}
