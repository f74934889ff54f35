import FoundationEssentials
import LivepatchAPI

extension PatchLedger {
    /// What one saved event changed, so that saving costs what changed rather than the whole
    /// ledger: the records it set or removed, the history entries it added and the small
    /// ledger-wide values. Applied in order to the ledger it was taken from, it gives the new one.
    public struct Change: Codable, Sendable, Equatable {
        /// Set or replaced, whole.
        public var records: [String: PatchRecord]
        public var removed: [String]
        /// Appended to the history, oldest first.
        public var history: [HistoryEntry]
        public var historyCount: Int
        public var lastSequence: Int
        /// Raised or new entries.
        public var highestSequence: [String: Int]
        public var lastCleanStop: CleanStop?

        /// What turns `old` into `new`, or nil when they are the same. A record the new ledger
        /// did not touch shares its storage with the old one, so comparing it costs little.
        public init?(from old: PatchLedger, to new: PatchLedger) {
            records = new.records.filter { name, record in old.records[name] != record }
            removed = old.records.keys.filter { new.records[$0] == nil }.sorted()
            let added = min(new.historyCount - old.historyCount, new.history.count)
            history = added > 0 ? Array(new.history.suffix(added)) : []
            historyCount = new.historyCount
            lastSequence = new.lastSequence
            highestSequence = new.highestSequence.filter { name, sequence in old.highestSequence[name] != sequence }
            lastCleanStop = new.lastCleanStop
            let same =
                records.isEmpty && removed.isEmpty && history.isEmpty && highestSequence.isEmpty
                && (historyCount, lastSequence) == (old.historyCount, old.lastSequence) && lastCleanStop == old.lastCleanStop
            if same { return nil }
        }
    }

    /// Applies a change taken from this ledger (``Change/init(from:to:)``).
    public mutating func apply(_ change: Change) {
        records.merge(change.records) { _, new in new }
        for name in change.removed { records[name] = nil }
        history.append(contentsOf: change.history)
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
        historyCount = change.historyCount
        lastSequence = change.lastSequence
        highestSequence.merge(change.highestSequence) { _, new in new }
        lastCleanStop = change.lastCleanStop
    }
}
