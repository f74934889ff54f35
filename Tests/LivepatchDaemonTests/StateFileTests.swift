import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore
@testable import LivepatchDaemon

/// The ledger on disk: `state.json` and, once it is large, one change file per save.
@Suite("State file")
struct StateFileTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lp-state-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func arrived(_ names: [String], at second: Int = 0) -> PatchLedger {
        var ledger = PatchLedger()
        for name in names {
            _ = ledger.arrive(
                .verified(
                    PatchDescriptor(
                        name: name, version: "1", sha256: String(repeating: "a", count: 64), manifestDigest: "m-\(name)",
                        kernels: ["6.1.0-test"], release: "6.1.0-test", storedModulePath: "/store/\(name).ko", manifestFile: "\(name).json"),
                    note: nil), now: Date(timeIntervalSince1970: 1_800_000_000 + Double(second)))
        }
        return ledger
    }

    func changeFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/state.changes")) ?? []).sorted()
    }

    func loaded() throws -> PatchLedger {
        var fresh = StateFile(stateDirectory: directory)
        return try fresh.load()
    }

    /// A state file that writes every save after the first as a change, and what it saved:
    /// "a" and "b" arrived (state.json), then "a" applied (change 1).
    func savedWithOneChange() throws -> (StateFile, PatchLedger) {
        var file = StateFile(stateDirectory: directory, wholeBelow: 0)
        var ledger = arrived(["a", "b"])
        try file.save(ledger)
        ledger.applyFully("a")
        try file.save(ledger)
        return (file, ledger)
    }

    @Test("saves as changes, then a restart reads state.json and every change after it")
    func changesThenRestart() throws {
        var file = StateFile(stateDirectory: directory, wholeBelow: 0)
        var ledger = arrived(["a", "b", "c"])
        try file.save(ledger)
        #expect(changeFiles().isEmpty, "the first save writes state.json whole")
        for (index, name) in ["a", "b", "c"].enumerated() {
            ledger.applyFully(name, at: Date(timeIntervalSince1970: 1_800_000_100 + Double(index)))
            try file.save(ledger)
        }
        #expect(changeFiles() == ["1.json", "2.json", "3.json"])
        #expect(try loaded() == ledger)
    }

    @Test("with 1000 patches, one more change writes a small file and leaves state.json alone")
    func constantCostPerChange() throws {
        var file = StateFile(stateDirectory: directory)
        var ledger = arrived((0..<1000).map { String(format: "p%04d", $0) })
        try file.save(ledger)
        let whole = try FileManager.default.attributesOfItem(atPath: "\(directory)/state.json")
        #expect((whole[.size] as? Int ?? 0) > 64 * 1024, "1000 records outweigh the whole-file threshold")
        ledger.applyFully("p0500")
        try file.save(ledger)
        let after = try FileManager.default.attributesOfItem(atPath: "\(directory)/state.json")
        #expect(after[.systemFileNumber] as? Int == whole[.systemFileNumber] as? Int, "state.json was not rewritten")
        #expect(changeFiles() == ["1.json"])
        let size = try FileManager.default.attributesOfItem(atPath: "\(directory)/state.changes/1.json")[.size] as? Int ?? 0
        #expect(size < 4096, "the change is \(size) bytes")
        #expect(try loaded() == ledger)
    }

    @Test("once the changes outweigh state.json, it is written anew with them and they go")
    func folding() throws {
        var file = StateFile(stateDirectory: directory, wholeBelow: 0)
        var ledger = arrived(["a"])
        try file.save(ledger)
        var sawChanges = false
        for round in 0..<50 {
            ledger.applyFully("a", at: Date(timeIntervalSince1970: 1_800_000_000 + Double(round)))
            try file.save(ledger)
            sawChanges = sawChanges || !changeFiles().isEmpty
        }
        #expect(sawChanges)
        #expect(changeFiles().count < 10, "folded along the way: \(changeFiles())")
        #expect(try loaded() == ledger)
        try file.foldChanges(ledger)
        #expect(changeFiles().isEmpty, "a clean stop leaves state.json the whole truth")
        #expect(try loaded() == ledger)
    }

    @Test("a fold cut short by a crash (changes it already includes left behind) loads the same")
    func foldCutShort() throws {
        var (file, ledger) = try savedWithOneChange()
        let leftover = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/state.changes/1.json"))
        try file.saveWhole(ledger)
        #expect(changeFiles().isEmpty)
        try leftover.write(to: URL(fileURLWithPath: "\(directory)/state.changes/1.json"))
        #expect(try loaded() == ledger)
        ledger.applyFully("b")
        var restarted = StateFile(stateDirectory: directory, wholeBelow: 0)
        _ = try restarted.load()
        try restarted.save(ledger)
        #expect(changeFiles() == ["1.json", "2.json"])
        #expect(try loaded() == ledger)
    }

    @Test("a missing change stops the load with what is missing and what to do")
    func missingChange() throws {
        var (file, ledger) = try savedWithOneChange()
        ledger.applyFully("b")
        try file.save(ledger)
        try FileManager.default.removeItem(atPath: "\(directory)/state.changes/1.json")
        #expect {
            _ = try loaded()
        } throws: { error in
            "\(error)".contains("no change 1 before 2") && "\(error)".contains("move")
        }
    }

    @Test("a save that fails keeps the state on disk whole; the next one writes both changes")
    func failedSave() throws {
        var file = StateFile(stateDirectory: directory, wholeBelow: 0)
        var ledger = arrived(["a", "b"])
        try file.save(ledger)
        let saved = ledger
        // A file where the changes directory goes: the change cannot be written.
        try #require(FileManager.default.createFile(atPath: "\(directory)/state.changes", contents: Data()))
        ledger.applyFully("a")
        #expect(throws: (any Error).self) { try file.save(ledger) }
        try FileManager.default.removeItem(atPath: "\(directory)/state.changes")
        #expect(try loaded() == saved)
        ledger.applyFully("b")
        try file.save(ledger)
        #expect(changeFiles() == ["1.json"])
        #expect(try loaded() == ledger)
    }

    @Test("a small ledger is written whole every time, as state.json alone")
    func smallStaysWhole() throws {
        var file = StateFile(stateDirectory: directory)
        var ledger = arrived(["a", "b"])
        try file.save(ledger)
        ledger.applyFully("a")
        try file.save(ledger)
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/state.changes"))
        #expect(try loaded() == ledger)
    }

    @Test("a state.json of format 1 (written before changes existed) is read")
    func formatOne() throws {
        var ledger = arrived(["a"])
        ledger.applyFully("a")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601WithFractionalSeconds
        var object = try JSONSerialization.jsonObject(with: encoder.encode(ledger)) as! [String: Any]
        object["historyCount"] = nil  // format 1 had no history count
        let data = try JSONSerialization.data(withJSONObject: ["format": 1, "ledger": object])
        try data.write(to: URL(fileURLWithPath: "\(directory)/state.json"))
        #expect(try loaded() == ledger)
    }
}

extension PatchLedger {
    /// An apply start to finish, as the machine records one.
    fileprivate mutating func applyFully(_ name: String, at time: Date = Date(timeIntervalSince1970: 1_800_000_050)) {
        _ = beginApply(name, now: time)
        _ = finishApply(name, functions: nil, now: time)
    }
}
