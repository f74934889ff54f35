import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

/// What a save writes when the ledger is large: the change of one event, not the whole ledger.
@Suite("Ledger changes (what one save writes)")
struct PatchLedgerPersistenceTests {
    /// Every kind of edit an event makes, one after the other; each step's change, through JSON
    /// as the state directory keeps it, turns the previous ledger into the next.
    @Test("each step's change, encoded and decoded, turns the previous ledger into the next")
    func changesReplay() throws {
        var steps: [(String, (inout PatchLedger) -> Void)] = [
            ("arrive a", { _ = $0.arrive(verified("a", sequence: 5), now: t0) }),
            ("note a's sequence", { $0.noteSequence($0["a"]!.descriptor) }),
            ("arrive b pending", { _ = $0.arrive(.incomplete(PatchDescriptor(name: "b", manifestFile: "b.json"), waitingFor: "b.ko"), now: t0) }),
            ("apply a", { $0.applyFully("a", at: t0 + .seconds(1)) }),
            ("b settles rejected", { _ = $0.settle(now: t0 + .seconds(60), settleTimeout: .seconds(30)) }),
            ("b's files removed", { _ = $0.forgetRemoved(keeping: ["a.json"]) }),
            ("a clean stop", { $0.cleanStop(bootID: "boot-1", now: t0 + .seconds(70)) }),
            ("revert a", {
                _ = $0.beginRevert("a", now: t0 + .seconds(80))
                _ = $0.finishRevert("a", now: t0 + .seconds(81))
            }),
        ]
        // Past the history's limit: trimmed entries must not come back, new ones must not be lost.
        for round in 0..<(PatchLedger.historyLimit / 2 + 5) {
            steps.append(("round \(round)", { $0.applyFully("a", at: t0 + .seconds(100 + round)); _ = $0.beginRevert("a", now: t0); _ = $0.finishRevert("a", now: t0) }))
        }
        var ledger = PatchLedger()
        for (what, edit) in steps {
            var next = ledger
            edit(&next)
            let change = try #require(PatchLedger.Change(from: ledger, to: next), "\(what): no change taken")
            let decoded = try JSONDecoder().decode(PatchLedger.Change.self, from: JSONEncoder().encode(change))
            var replayed = ledger
            replayed.apply(decoded)
            #expect(replayed == next, "\(what)")
            ledger = next
        }
        #expect(ledger.history.count == PatchLedger.historyLimit)
        #expect(ledger.historyCount > PatchLedger.historyLimit)
    }

    @Test("the same ledger twice: no change to write")
    func noChange() {
        var ledger = PatchLedger()
        _ = ledger.arrive(verified("a"), now: t0)
        #expect(PatchLedger.Change(from: ledger, to: ledger) == nil)
    }

    @Test("one patch applied among 1000: the change holds that record and its history entries alone")
    func oneAmongMany() throws {
        var ledger = PatchLedger()
        for index in 0..<1000 { _ = ledger.arrive(verified(String(format: "p%04d", index)), now: t0) }
        var next = ledger
        next.applyFully("p0500", at: t0 + .seconds(1))
        let change = try #require(PatchLedger.Change(from: ledger, to: next))
        #expect(Array(change.records.keys) == ["p0500"])
        #expect(change.removed.isEmpty && change.highestSequence.isEmpty)
        #expect(change.history.map(\.state) == [.applying, .applied])
        #expect(try JSONEncoder().encode(change).count < 4096)
    }
}
