import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchDaemon

@Suite("PatchMetrics: the Prometheus exposition")
struct PatchMetricsTests {
    static let kernel = KernelSupport(
        release: "6.1.0-sim-amd64", livepatch: true, ftrace: true, lockdown: nil, signatureEnforced: false, taint: 12288,
        simulated: true)

    static func status(counts: [String: Int] = [:], degraded: Bool = false) -> Status {
        Status(
            summary: "", degraded: degraded, problems: [], backend: "simulated", apply: "auto", kernel: kernel,
            counts: counts, daemonVersion: "0.1.0")
    }

    static func entry(_ name: String, _ state: PatchState, reason: String? = nil, time: String = "2026-12-02T10:00:00.000Z")
        -> HistoryEntry
    {
        HistoryEntry(time: time, name: name, version: "1", state: state, reason: reason)
    }

    /// The value of one series (name and labels exactly as written) in an exposition.
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func metrics(patches: [Patch] = [], counts: [String: Int] = [:]) -> PatchMetrics {
        PatchMetrics(
            source: .init(status: { Self.status(counts: counts) }, patches: { patches }), version: "0.1.0",
            startTime: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test("transition durations run from applying or reverting to the state the transition ended in")
    func transitionDurations() async {
        let metrics = metrics()
        let start = ContinuousClock.now
        await metrics.record(Self.entry("a", .staged), at: start)
        await metrics.record(Self.entry("a", .applying), at: start)
        await metrics.record(Self.entry("a", .applied), at: start + .milliseconds(700))
        await metrics.record(Self.entry("a", .reverting), at: start + .seconds(10))
        await metrics.record(Self.entry("a", .reverted), at: start + .seconds(13))
        await metrics.record(Self.entry("b", .applying), at: start)
        await metrics.record(Self.entry("b", .failed, reason: "transition did not finish"), at: start + .seconds(61))
        let text = await metrics.exposition()
        #expect(Self.value(#"livepatchd_transition_duration_seconds_count{kind="apply",outcome="applied"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_transition_duration_seconds_bucket{kind="apply",outcome="applied",le="1.0"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_transition_duration_seconds_bucket{kind="apply",outcome="applied",le="0.5"}"#, in: text) == 0)
        #expect(Self.value(#"livepatchd_transition_duration_seconds_count{kind="revert",outcome="reverted"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_transition_duration_seconds_count{kind="apply",outcome="failed"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_transition_duration_seconds_bucket{kind="apply",outcome="failed",le="60.0"}"#, in: text) == 0)
        #expect(Self.value(#"livepatchd_state_changes_total{state="applying"}"#, in: text) == 2)
    }

    @Test("rejections are counted by the check that failed (reason_code), not by the whole reason")
    func rejectionsByReason() async {
        let metrics = metrics()
        await metrics.record(Self.entry("x", .rejected, reason: "bad signature: no trusted key verifies it"), reasonCode: "bad-signature")
        await metrics.record(Self.entry("y", .rejected, reason: "bad signature: signature file empty"), reasonCode: "bad-signature")
        await metrics.record(Self.entry("z", .rejected, reason: "hash mismatch: z.ko has sha256 00"), reasonCode: "hash-mismatch")
        await metrics.record(Self.entry("w", .rejected, reason: "from an older state file"))
        let text = await metrics.exposition()
        #expect(Self.value(#"livepatchd_rejections_total{reason="bad-signature"}"#, in: text) == 2)
        #expect(Self.value(#"livepatchd_rejections_total{reason="hash-mismatch"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_rejections_total{reason="unclassified"}"#, in: text) == 1)
    }

    @Test("the last error comes from the persisted history, then from new failures")
    func lastError() async {
        let metrics = metrics()
        #expect(Self.value("livepatchd_last_error_timestamp_seconds", in: await metrics.exposition()) == 0)
        await metrics.recall([
            Self.entry("a", .failed, time: "2026-12-01T00:00:00.000Z"), Self.entry("a", .applied, time: "2026-12-01T01:00:00.000Z"),
        ])
        #expect(Self.value("livepatchd_last_error_timestamp_seconds", in: await metrics.exposition()) == 1796083200)
        await metrics.record(Self.entry("b", .rejected, reason: "x: y", time: "2026-12-02T00:00:00.000Z"))
        #expect(Self.value("livepatchd_last_error_timestamp_seconds", in: await metrics.exposition()) == 1796169600)
    }

    @Test("each patch has one series, in its current state; every state is counted, zero included")
    func presentState() async {
        let patches = [
            Patch(name: "fix_a", version: "2", state: .applied, since: "2026-12-02T10:00:00.000Z"),
            Patch(name: "fix_b", version: "1", state: .reverted, since: "2026-12-02T11:00:00.000Z"),
        ]
        let text = await metrics(patches: patches, counts: ["applied": 1, "reverted": 1]).exposition()
        #expect(Self.value(#"livepatchd_patch_state{patch="fix_a",version="2",state="applied"}"#, in: text) == 1)
        #expect(Self.value(#"livepatchd_patch_state{patch="fix_b",version="1",state="reverted"}"#, in: text) == 1)
        #expect(text.components(separatedBy: "livepatchd_patch_state{").count == 3)
        #expect(Self.value(#"livepatchd_patch_state_since_timestamp_seconds{patch="fix_a"}"#, in: text) == 1796205600)
        for state in PatchState.allCases {
            #expect(text.contains("livepatchd_patches{state=\"\(state.rawValue)\"} "), "no count for \(state)")
        }
        #expect(Self.value(#"livepatchd_patches{state="failed"}"#, in: text) == 0)
        #expect(Self.value("livepatchd_kernel_taint", in: text) == 12288)
        #expect(Self.value("livepatchd_kernel_livepatch_supported", in: text) == 1)
        #expect(Self.value("livepatchd_start_time_seconds", in: text) == 1800000000)
        #expect(Self.value(#"livepatchd_build_info{version="0.1.0"}"#, in: text) == 1)
        #expect(Self.value("livepatchd_kernel_module_signatures_enforced", in: text) == 0)
    }

    @Test("label values from manifests are escaped, never break a line")
    func escaping() async {
        let patches = [Patch(name: "odd", version: "1\"\n\\", state: .staged, since: "2026-12-02T10:00:00.000Z")]
        let text = await metrics(patches: patches).exposition()
        #expect(text.contains(#"version="1\"\n\\""#), "\(text)")
    }
}
