import FoundationEssentials
import Glibc
import LivepatchCore
import LivepatchSystem

/// The ledger on disk, in the state directory: `state.json`, a whole ledger, and, once that has
/// grown large, `state.changes/SERIAL.json` after it, one file per save holding what that save
/// changed (``PatchLedger/Change``). Every file is written atomically (write, fsync, rename,
/// fsync the directory), so a crash at any point leaves each one whole or absent, never torn.
///
/// Why changes: rewriting a ledger of 1000 patches on every state change made each change cost
/// more the more patches there were. A change costs what it changed; when the changes together
/// outweigh `state.json`, it is written anew with all of them and they are removed, so every
/// byte is rewritten about once more (amortised constant cost per change). A small ledger (most
/// hosts) is still written whole each time: that costs no more than a change, and keeps
/// `state.json` the whole truth for anyone who reads it.
public struct StateFile: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    public let stateDirectory: String
    public let path: String
    public let changesDirectory: String
    /// Below this size `state.json` is written whole on every save.
    let wholeBelow: Int
    private static let format = 2
    private static let formatWithoutChanges = 1
    /// More changes than this are folded into `state.json` whatever their size, so a restart
    /// never reads an unbounded directory.
    private static let maxChanges = 4096

    /// The ledger the disk holds now: what the next change is taken from. Nil until loaded or saved.
    private var onDisk: PatchLedger?
    /// The serial of the last change on disk (the one `state.json` includes, if none follow it).
    private var serial = 0
    private var wholeBytes = 0
    private var changeBytes = 0
    private var changeFiles = 0

    /// `wholeBelow`: `LIVEPATCHD_STATE_WHOLE_BELOW` (bytes) when set, so tests can take the
    /// change path with a handful of patches; else 64 KiB (about 40 patches).
    public init(stateDirectory: String, wholeBelow: Int? = nil) {
        self.stateDirectory = stateDirectory
        path = "\(stateDirectory)/state.json"
        changesDirectory = "\(stateDirectory)/state.changes"
        self.wholeBelow =
            wholeBelow ?? ProcessInfo.processInfo.environment["LIVEPATCHD_STATE_WHOLE_BELOW"].flatMap { Int($0) } ?? 64 * 1024
    }

    private struct Whole: Codable {
        var format: Int
        /// The last change folded in; changes up to it may still be on disk (a cut compaction).
        var serial: Int?
        var ledger: PatchLedger
    }

    private struct ChangeFile: Codable {
        var format: Int
        var serial: Int
        var change: PatchLedger.Change
    }

    // MARK: - Loading

    /// `state.json` and the changes after it. A missing state is a first start; one that cannot
    /// be read or makes no sense stops the daemon rather than forget what it applied.
    public mutating func load() throws(Error) -> PatchLedger {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw Error(description: "\(path) exists but cannot be read") }
            let changes = try changeSerials()
            guard changes.isEmpty else {
                throw Error(
                    description: "\(path) is missing but \(changesDirectory) holds \(changes.count) changes that build on it: "
                        + "restore \(path), or move both aside to start afresh (the kernel's view will be reconciled)")
            }
            return PatchLedger()
        }
        let whole: Whole
        do {
            whole = try JSONDecoder.stateDecoder.decode(Whole.self, from: data)
        } catch {
            throw Error(
                description: "\(path) is not a valid state file (\(error)); move it and \(changesDirectory) aside to start afresh, "
                    + "the kernel's view will be reconciled")
        }
        guard whole.format == Self.format || whole.format == Self.formatWithoutChanges else {
            throw Error(description: "\(path) has format \(whole.format); this livepatchd reads formats 1 and \(Self.format)")
        }
        var ledger = whole.ledger
        serial = whole.serial ?? 0
        wholeBytes = data.count
        changeBytes = 0
        changeFiles = 0
        for next in try changeSerials() where next > serial {
            guard next == serial + 1 else {
                throw Error(
                    description: "\(changesDirectory) has no change \(serial + 1) before \(next): a change is missing, "
                        + "so the state cannot be rebuilt; move \(path) and \(changesDirectory) aside to start afresh")
            }
            let file = changePath(next)
            guard let bytes = FileManager.default.contents(atPath: file) else { throw Error(description: "\(file) cannot be read") }
            do {
                let change = try JSONDecoder.stateDecoder.decode(ChangeFile.self, from: bytes)
                guard change.serial == next else { throw Error(description: "\(file) holds change \(change.serial)") }
                ledger.apply(change.change)
            } catch let error as Error {
                throw error
            } catch {
                throw Error(description: "\(file) is not a valid state change (\(error)); move \(path) and \(changesDirectory) aside to start afresh")
            }
            serial = next
            changeBytes += bytes.count
            changeFiles += 1
        }
        onDisk = ledger
        return ledger
    }

    /// The serials of the change files, in order; names that are not a serial (a temporary file
    /// a crash left) are not changes.
    private func changeSerials() throws(Error) -> [Int] {
        guard FileManager.default.fileExists(atPath: changesDirectory) else { return [] }
        do {
            return try Directory.entries(changesDirectory).compactMap { name in
                name.hasSuffix(".json") ? Int(name.dropLast(5)) : nil
            }.sorted()
        } catch {
            throw Error(description: "\(changesDirectory) cannot be listed: \(error)")
        }
    }

    /// Temporary files a daemon killed mid-write left beside `state.json` and among the changes.
    public func removeLeftovers() throws(SystemError) -> [String] {
        var removed: [String] = []
        for directory in [stateDirectory, changesDirectory] {
            removed += try TemporaryFile.removeLeftovers(inDirectory: directory, prefix: TemporaryFile.defaultPrefix)
                .map { "\(directory)/\($0)" }
        }
        return removed
    }

    private func changePath(_ serial: Int) -> String { "\(changesDirectory)/\(serial).json" }

    // MARK: - Saving

    /// Writes what changed since the last save (or the whole ledger). On failure the disk keeps
    /// the previous state, whole, and the next save writes this change with its own.
    public mutating func save(_ ledger: PatchLedger) throws {
        guard let onDisk, wholeBytes >= wholeBelow, changeBytes < max(wholeBytes, wholeBelow), changeFiles < Self.maxChanges
        else {
            try saveWhole(ledger)
            return
        }
        guard let change = PatchLedger.Change(from: onDisk, to: ledger) else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601WithFractionalSeconds
        let data = try encoder.encode(ChangeFile(format: Self.format, serial: serial + 1, change: change))
        if !FileManager.default.fileExists(atPath: changesDirectory) {
            try Directory.create(changesDirectory)
            try AtomicFile.syncDirectory(stateDirectory)
        }
        try AtomicFile.write(data, to: changePath(serial + 1), mode: 0o600, failpoints: Self.failpoints)
        serial += 1
        changeBytes += data.count
        changeFiles += 1
        self.onDisk = ledger
    }

    /// `state.json` written anew with every change folded in, then the changes removed (a crash
    /// in between leaves changes the new file already includes: loading skips them by serial).
    public mutating func saveWhole(_ ledger: PatchLedger) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601WithFractionalSeconds
        let data = try encoder.encode(Whole(format: Self.format, serial: serial, ledger: ledger))
        try AtomicFile.write(data, to: path, mode: 0o600, failpoints: Self.failpoints)
        wholeBytes = data.count
        onDisk = ledger
        if changeFiles > 0 || FileManager.default.fileExists(atPath: changesDirectory) {
            for old in (try? changeSerials()) ?? [] where old <= serial { unlink(changePath(old)) }
        }
        changeBytes = 0
        changeFiles = 0
    }

    /// At a clean stop: `state.json` alone holds the whole state again.
    public mutating func foldChanges(_ ledger: PatchLedger) throws {
        if changeFiles > 0 { try saveWhole(ledger) }
    }

    private static let failpoints = CommitFailpoints(beforeRename: .stateWriteBeforeRename, afterRename: .stateWriteAfterRename)
}

extension JSONDecoder {
    static var stateDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601WithFractionalSeconds
        return decoder
    }
}

extension JSONEncoder.DateEncodingStrategy {
    static let iso8601WithFractionalSeconds = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date))
    }
}

extension JSONDecoder.DateDecodingStrategy {
    static let iso8601WithFractionalSeconds = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        return date
    }
}
