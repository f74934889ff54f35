import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore


@Suite("Arrivals from the patch directory")
struct ArrivalTests {
    @Test("each verification outcome gives its state and reason")
    func outcomes() {
        var l = PatchLedger()
        let pending = l.arrive(.incomplete(PatchDescriptor(name: "a", manifestDigest: "x"), waitingFor: "a.ko"), now: t0)
        #expect(pending.map(\.to) == [.pending])
        #expect(l["a"]?.reason?.message == "waiting for a.ko")
        let rejected = l.arrive(.rejected(PatchDescriptor(name: "b"), reason: PatchReason(.hashMismatch, "hash mismatch")), now: t0)
        #expect(rejected.map(\.to) == [.rejected])
        #expect(l["b"]?.reason?.message == "hash mismatch")
        #expect(l.arrive(verified("c"), now: t0).map(\.to) == [.staged])
    }

    @Test("the same arrival twice changes nothing")
    func idempotent() {
        var l = ledger(verified("a"))
        #expect(l.arrive(verified("a"), now: t0 + .seconds(5)).isEmpty)
        #expect(l.history.count == 1)
    }

    @Test("pending becomes staged when the files complete; its settle clock is kept while waiting")
    func pendingThenStaged() {
        var l = PatchLedger()
        let waiting = PatchDescriptor(name: "a", manifestDigest: "m-a")
        _ = l.arrive(.incomplete(waiting, waitingFor: "a.ko, a.json.sig"), now: t0)
        _ = l.arrive(.incomplete(waiting, waitingFor: "a.json.sig"), now: t0 + .seconds(3))
        #expect(l["a"]?.since == t0)
        #expect(l.arrive(verified("a"), now: t0 + .seconds(4)).map(\.to) == [.staged])
    }

    @Test("pending past settle_timeout is rejected, saying what was missing")
    func settleTimeout() {
        var l = PatchLedger()
        _ = l.arrive(.incomplete(PatchDescriptor(name: "a"), waitingFor: "a.ko"), now: t0)
        #expect(l.settle(now: t0 + .seconds(29), settleTimeout: .seconds(30)).isEmpty)
        let settled = l.settle(now: t0 + .seconds(30), settleTimeout: .seconds(30))
        #expect(settled.map(\.to) == [.rejected])
        #expect(l["a"]?.reason?.message.contains("settle timeout") == true)
        #expect(l["a"]?.reason?.message.contains("a.ko") == true)
    }

    @Test("a bundle rejected by the settle timeout stays rejected while its files are still missing")
    func settledStaysRejected() {
        var l = PatchLedger()
        let waiting = PatchLedger.Arrival.incomplete(PatchDescriptor(name: "a"), waitingFor: "a.ko")
        _ = l.arrive(waiting, now: t0)
        _ = l.settle(now: t0 + .seconds(30), settleTimeout: .seconds(30))
        #expect(l.arrive(waiting, now: t0 + .seconds(31)).isEmpty)
        #expect(l["a"]?.state == .rejected)
        #expect(l.arrive(verified("a"), now: t0 + .seconds(32)).map(\.to) == [.staged])
    }

    @Test("a loaded patch is never replaced by a new arrival")
    func loadedKeepsItsRecord() {
        var l = ledger(verified("a"))
        l.applyFully("a")
        #expect(l.arrive(verified("a", digest: "new"), now: t0).isEmpty)
        #expect(l["a"]?.state == .applied)
    }

    @Test("a failed patch comes back only as a new version")
    func failedNeedsNewVersion() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        _ = l.failApply("a", reason: PatchReason(.loadFailed, "load failed"), now: t0)
        #expect(l.arrive(verified("a"), now: t0).isEmpty)
        #expect(l.arrive(verified("a", digest: "v2"), now: t0).map(\.to) == [.staged])
    }

    @Test(
        "a verified bundle whose files are removed one by one keeps its record, in every order",
        arguments: [PatchState.staged, .reverted, .failed, .halted, .applied]
    )
    func filesRemovedOneByOne(state: PatchState) {
        let files = ["a.json", "a.json.sig", "a.ko"]
        for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]].map({ $0.map { files[$0] } }) {
            var l = ledger(verified("a"))
            switch state {
            case .reverted:
                l.applyFully("a")
                _ = l.beginRevert("a", now: t0)
                _ = l.finishRevert("a", now: t0)
            case .failed:
                _ = l.beginApply("a", now: t0)
                _ = l.failApply("a", reason: PatchReason(.loadFailed, "load failed"), now: t0)
            case .halted: _ = l.halt("a", reason: PatchReason(.halted, "halted"), now: t0)
            case .applied: l.applyFully("a")
            default: break
            }
            let before = l["a"]
            #expect(before?.state == state)
            var removed: Set<String> = []
            for file in order {
                removed.insert(file)
                // What the scanner reports for what is left: nothing without the manifest, else
                // the same manifest (same digest) waiting for the files that went.
                if !removed.contains("a.json") {
                    var descriptor = PatchDescriptor(name: "a", manifestDigest: "m-a", manifestFile: "a.json")
                    descriptor.version = "1"
                    let missing = files.dropFirst().filter(removed.contains).joined(separator: ", ")
                    #expect(l.arrive(.incomplete(descriptor, waitingFor: missing), now: t0 + .seconds(1)).isEmpty, "\(order)")
                }
                #expect(l.forgetRemoved(keeping: removed.contains("a.json") ? [] : ["a.json"]).isEmpty, "\(order)")
                #expect(l["a"] == before, "after removing \(removed.sorted()) in the order \(order)")
            }
        }
    }

    @Test("pending and rejected records leave with their manifest; staged ones stay (they are in the store)")
    func manifestRemoved() {
        var l = ledger(.rejected(PatchDescriptor(name: "r", manifestFile: "r.json"), reason: PatchReason(.badSignature, "bad")), verified("s"))
        #expect(l.forgetRemoved(keeping: ["s.json"]) == ["r"])
        #expect(l.forgetRemoved(keeping: []).isEmpty)
        #expect(l["s"]?.state == .staged)
    }
}
