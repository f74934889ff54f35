import Synchronization
import Varlink

/// The reply last encoded for a value: encoded again only when the value changed, and sent
/// without computing the value at all while it is fresh.
///
/// Monitoring polls GetStatus on every host and its answer rarely changes between two polls;
/// encoding it (Codable to JSON, to ``JSONValue``, to the wire) cost more than computing it,
/// and computing it (a hop to the engine from the event loop and back) more than both.
/// ListPatches likewise: with 1000 patches, JSONEncoder took 19 of the daemon's 32 ms per call
/// (perf), comparing the list with the last one about half a millisecond.
/// ``reply(for:events:computed:encode:)`` compares the value itself, so what depends on time
/// or on the kernel (its taint) is always encoded as it is; ``fresh(events:maxAge:now:)`` trusts
/// the last reply only while no event came and for `maxAge`, the bound on how late such a change
/// shows.
final class LastEncodedReply<Value: Equatable & Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var reply: VarlinkReply.Encoded
        /// The source's ``EventCount`` when the value was computed.
        var events: UInt64
        var computed: ContinuousClock.Instant
    }

    private let last = Mutex<Entry?>(nil)

    /// The reply for `value`, computed at `computed` when the source's event count was `events`.
    /// Those two order callers racing and date the reply for ``fresh(events:maxAge:now:)``; a value
    /// that is only ever compared (ListPatches, computed on every call) can leave them out.
    func reply(
        for value: Value, events: UInt64 = 0, computed: ContinuousClock.Instant = .now,
        encode: (Value) -> VarlinkReply.Encoded
    ) -> VarlinkReply.Encoded {
        let cached = last.withLock { last in last.flatMap { $0.value == value ? $0.reply : nil } }
        // Encoded outside the lock: two callers racing on a change both encode, and either result is right.
        let encoded = cached ?? encode(value)
        last.withLock { last in
            // Callers racing keep the value computed last.
            if let newer = last, (newer.events, newer.computed) > (events, computed) { return }
            last = Entry(value: value, reply: encoded, events: events, computed: computed)
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
