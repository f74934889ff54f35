import FoundationEssentials
import LivepatchAPI

/// What the daemon knows and wants of every patch, as persisted in the state directory: the
/// records, their history and the stacking order. It changes only as ``PatchMachine`` decides;
/// no I/O, no clock (callers pass `now`).
public struct PatchLedger: Codable, Sendable, Equatable {
    public internal(set) var records: [String: PatchRecord] = [:]
    /// Oldest first, at most ``historyLimit`` entries.
    public internal(set) var history: [HistoryEntry] = []
    /// How many entries the history ever had, the trimmed ones included: what tells a saved
    /// ledger's history from a newer one's (``Change``).
    public internal(set) var historyCount = 0
    var lastSequence = 0
    /// The highest manifest `sequence` verified for each patch name, kept when the record goes:
    /// a bundle with a lower one is an older bundle replayed.
    public internal(set) var highestSequence: [String: Int] = [:]
    /// The daemon's last clean stop: a boot that ended without one soon after an enable
    /// quarantines the patch.
    public internal(set) var lastCleanStop: CleanStop?

    public static let historyLimit = 1000

    public init() {}

    /// Which boot the daemon last stopped cleanly in, and when.
    public struct CleanStop: Codable, Sendable, Equatable {
        public var bootID: String
        public var at: Date
    }

    private enum CodingKeys: String, CodingKey { case records, history, historyCount, lastSequence, highestSequence, lastCleanStop }

    /// State files written before the rollout fields (and the history count) lack them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        records = try container.decode([String: PatchRecord].self, forKey: .records)
        history = try container.decode([HistoryEntry].self, forKey: .history)
        historyCount = try container.decodeIfPresent(Int.self, forKey: .historyCount) ?? history.count
        lastSequence = try container.decode(Int.self, forKey: .lastSequence)
        highestSequence = try container.decodeIfPresent([String: Int].self, forKey: .highestSequence) ?? [:]
        lastCleanStop = try container.decodeIfPresent(CleanStop.self, forKey: .lastCleanStop)
    }

    public subscript(name: String) -> PatchRecord? { records[name] }

    /// The names ordered by `key`, then by name. The names are sorted, not the records: a record
    /// is large, and the machine orders them on every event (1000 patches made that count).
    func names<Key: Comparable>(orderedBy key: (PatchRecord) -> Key) -> [String] {
        records.map { (key($0.value), $0.key) }.sorted { $0 < $1 }.map(\.1)
    }

    /// The records ordered by `key`, then by name, as they are now (changes made while going
    /// through them do not show).
    func records<Key: Comparable>(orderedBy key: (PatchRecord) -> Key) -> [PatchRecord] {
        let records = self.records
        return names(orderedBy: key).compactMap { records[$0] }
    }

    /// The records in name order, as they are now.
    var recordsByName: [PatchRecord] {
        let records = self.records
        return records.keys.sorted().compactMap { records[$0] }
    }

    /// What verification found in the patch directory for one manifest.
    public enum Arrival: Sendable, Equatable {
        case incomplete(PatchDescriptor, waitingFor: String)
        case rejected(PatchDescriptor, reason: PatchReason)
        /// `note` explains a verified patch that is held, e.g. built for another kernel.
        case verified(PatchDescriptor, note: PatchReason?)

        var descriptor: PatchDescriptor {
            switch self {
            case .incomplete(let d, _), .rejected(let d, _), .verified(let d, _): d
            }
        }

        var state: PatchState {
            switch self {
            case .incomplete: .pending
            case .rejected: .rejected
            case .verified: .staged
            }
        }

        var reason: PatchReason? {
            switch self {
            case .incomplete(_, let missing): PatchReason(.waitingForFiles, "waiting for \(missing)")
            case .rejected(_, let reason): reason
            case .verified(_, let note): note
            }
        }
    }

    // MARK: - Arrivals from the patch directory

    /// Records what the verifier found. A loaded patch is never replaced by a new arrival;
    /// a failed, reverted or superseded patch only by a different manifest (a new version).
    /// The same manifest seen again keeps what the daemon knows of it: whether it is desired
    /// (an operator's apply survives a reboot) and its place in the stacking order.
    mutating func arrive(_ arrival: Arrival, now: Date) -> [StateChange] {
        let incoming = arrival.descriptor
        guard let existing = records[incoming.name] else {
            return [set(PatchRecord(descriptor: incoming, state: arrival.state, reason: arrival.reason, since: now), from: nil, now: now)]
        }
        let sameManifest = existing.descriptor.manifestDigest == incoming.manifestDigest
        if existing.state.isLoaded {
            switch arrival {
            case .verified where sameManifest:
                update(incoming.name) { $0.refusedArrival = nil }
            case .verified:
                update(incoming.name) {
                    $0.refusedArrival = nil
                    if $0.heldUpgrade?.manifestDigest != incoming.manifestDigest { $0.heldUpgrade = incoming }
                }
            case .rejected(_, let reason):
                // The loaded one stays; what arrived is reported with it.
                update(incoming.name) { $0.refusedArrival = reason }
            case .incomplete:
                break
            }
            return []
        }
        // An older bundle replayed never displaces a verified one: the newer stays (staged, or
        // desired and applied again after a reboot), and the refusal is reported with it.
        if case .rejected(_, let reason) = arrival, reason.code == .downgrade, !sameManifest,
            existing.descriptor.storedModulePath != nil, existing.state != .rejected
        {
            update(incoming.name) { $0.refusedArrival = reason }
            return []
        }
        // Still incomplete after the settle timeout rejected it: it stays rejected (and
        // degraded) until its files change into something that verifies or fails otherwise.
        if existing.state == .rejected, case .incomplete = arrival { return [] }
        // A verified bundle's files leaving one by one (`dpkg -r`, `rm`): removing a bundle
        // removes its files, not what the daemon knows of the patch (its stored copy stays).
        if case .incomplete = arrival, sameManifest, existing.descriptor.storedModulePath != nil { return [] }
        switch existing.state {
        case .failed, .reverted, .superseded, .halted, .quarantined:
            if sameManifest { return [] }
        case .pending, .staged:
            // Still waiting, or still staged: a new detail is not a new state.
            if sameManifest && existing.state == arrival.state {
                update(incoming.name) {
                    $0.reason = arrival.reason
                    $0.refusedArrival = nil
                }
                return []
            }
        case .rejected:
            if sameManifest && arrival.state == .rejected && existing.reason == arrival.reason { return [] }
        default:
            break
        }
        var record = PatchRecord(descriptor: incoming, state: arrival.state, reason: arrival.reason, since: now)
        if sameManifest {
            record.desired = existing.desired
            record.enabledSequence = existing.enabledSequence
        }
        return [set(record, from: existing.state, now: now)]
    }

    /// Manifests that left the patch directory: what only existed there (pending, rejected)
    /// goes too, also when they left while the daemon was not running.
    mutating func forgetRemoved(keeping manifestFiles: Set<String>) -> [String] {
        let gone = records.values.filter {
            guard let file = $0.descriptor.manifestFile else { return false }
            return !manifestFiles.contains(file) && ($0.state == .pending || $0.state == .rejected)
        }.map(\.name)
        for name in gone { records[name] = nil }
        return gone.sorted()
    }

    /// Pending patches whose files did not all arrive within `settleTimeout` are rejected.
    mutating func settle(now: Date, settleTimeout: Duration) -> [StateChange] {
        records.values.filter { $0.state == .pending && now >= $0.since + settleTimeout }
            .sorted { $0.name < $1.name }
            .map { record in
                let waiting = record.reason.map { " (\($0.message))" } ?? ""
                let reason = PatchReason(.settleTimeout, "settle timeout: the bundle was incomplete for \(settleTimeout.seconds)s\(waiting)")
                return move(record.name, to: .rejected, reason: reason, now: now)
            }
    }

    // MARK: - Operator requests

    public enum RequestError: Error, Sendable, Equatable {
        case noSuchPatch(String)
        case invalidState(name: String, state: PatchState, reason: String)
        /// The kernel cannot live patch: nothing is applied.
        case notSupported(reason: String)
    }

    /// `Apply(name)`: the patch becomes desired; the next step applies it.
    mutating func requestApply(_ name: String, runningRelease: String) throws(RequestError) {
        guard var record = records[name] else { throw .noSuchPatch(name) }
        switch record.state {
        case .applied, .applying:
            return
        case .halted:
            throw .invalidState(
                name: name, state: record.state,
                reason: "\(record.reason?.message ?? "a halt file stops it"); remove the halt file from the patch directory to resume its rollout")
        case .staged, .failed, .reverted, .superseded, .quarantined:
            if let release = record.descriptor.release, release != runningRelease {
                throw .invalidState(
                    name: name, state: record.state,
                    reason: "built for kernel \(release), the running kernel is \(runningRelease); it stays staged for that kernel")
            }
            record.desired = true
            record.disabledOutside = nil
            records[name] = record
        case .pending, .rejected:
            throw .invalidState(
                name: name, state: record.state,
                reason: "it was not verified (\(record.reason?.message ?? record.state.rawValue)); ship a corrected bundle")
        case .reverting:
            throw .invalidState(name: name, state: record.state, reason: "a revert is running; apply it again once it is reverted")
        case .foreign:
            throw .invalidState(name: name, state: record.state, reason: "it was loaded by someone else and is already in the kernel")
        }
    }

    /// `Revert(name)`: refused while another applied patch is stacked on top of this one.
    mutating func requestRevert(_ name: String) throws(RequestError) {
        guard var record = records[name] else { throw .noSuchPatch(name) }
        switch record.state {
        case .applied, .foreign:
            let above = stackedAbove(name)
            if !above.isEmpty {
                let list = above.joined(separator: ", ")
                throw .invalidState(
                    name: name, state: record.state,
                    reason: "\(list) \(above.count == 1 ? "is" : "are") stacked on top of it and patch the same functions; revert \(list) first, or ship a replace patch")
            }
            record.desired = false
            record.revertRequested = true
            records[name] = record
        case .reverted, .reverting:
            return
        case .applying:
            throw .invalidState(name: name, state: record.state, reason: "its transition is still running; revert it once it is applied")
        default:
            throw .invalidState(name: name, state: record.state, reason: "it is not applied")
        }
    }

    /// Applied (or applying) patches enabled after `name` that patch at least one same function.
    public func stackedAbove(_ name: String) -> [String] {
        records[name].map { stacking.above($0) } ?? []
    }

    /// Every record's stacking at once: asked record by record, a listing of 1000 applied
    /// patches went over all records for each of them.
    public var stacking: Stacking { Stacking(records) }

    /// The applied (or applying, or foreign) patches by the functions they patch, in the order
    /// they were enabled.
    public struct Stacking: Sendable {
        private var byFunction: [String: [(sequence: Int, name: String)]] = [:]

        init(_ records: [String: PatchRecord]) {
            for record in records.values where [.applied, .applying, .foreign].contains(record.state) {
                guard let sequence = record.enabledSequence else { continue }
                for function in Set(record.descriptor.functions) { byFunction[function, default: []].append((sequence, record.name)) }
            }
        }

        /// Those enabled after `record` that patch at least one same function, by name.
        public func above(_ record: PatchRecord) -> [String] {
            guard let sequence = record.enabledSequence else { return [] }
            var names: Set<String> = []
            for function in Set(record.descriptor.functions) {
                for other in byFunction[function] ?? [] where other.sequence > sequence && other.name != record.name {
                    names.insert(other.name)
                }
            }
            return names.sorted()
        }
    }
}

extension Duration {
    /// Whole and fractional seconds, for messages.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}

extension Date {
    static func + (date: Date, duration: Duration) -> Date {
        date.addingTimeInterval(duration.seconds)
    }
}
