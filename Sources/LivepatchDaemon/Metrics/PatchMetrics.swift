import FoundationEssentials
import Glibc
import LivepatchAPI
import Prometheus

/// The daemon's Prometheus text exposition, for node_exporter's textfile collector
/// (`metrics_file`) and `lpclient metrics`.
///
/// Two halves. What the engine reports now (each patch's state, counts by state, kernel support,
/// degraded) is read from its public API at every rendering, into a registry made for that
/// rendering, so a patch that is gone leaves no series behind. What only the stream of state
/// changes can tell (transition durations, rejections by reason, state changes, the last error)
/// accumulates in a registry that lives as long as the daemon: counters restart with it, as
/// Prometheus expects, and `livepatchd_start_time_seconds` says when.
public actor PatchMetrics {
    /// The engine's present, read at each rendering.
    public struct Source: Sendable {
        public var status: @Sendable () async -> Status
        public var patches: @Sendable () async -> [Patch]

        public init(status: @escaping @Sendable () async -> Status, patches: @escaping @Sendable () async -> [Patch]) {
            self.status = status
            self.patches = patches
        }
    }

    /// Apply and revert transitions take about 50 ms to 2 s on a quiet kernel; a stalled one
    /// runs until `transition_timeout` (1 min by default, configurable beyond).
    static let transitionBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(900),
    ]

    private let source: Source
    private let cumulative = PrometheusCollectorRegistry()
    private var transitionStarts: [String: (kind: String, started: ContinuousClock.Instant)] = [:]
    private var lastError: Date?

    public init(source: Source, version: String, startTime: Date = Date()) {
        self.source = source
        cumulative.makeGauge(
            descriptor: .init(
                namespace: "livepatchd", metricName: "start_time", unitName: "seconds",
                helpText: "When this livepatchd process started, in seconds since the epoch.")
        ).set(to: startTime.timeIntervalSince1970)
        cumulative.makeGauge(
            descriptor: .init(
                namespace: "livepatchd", metricName: "build", unitName: "info",
                helpText: "Always 1; the labels say which livepatchd this is."),
            labels: [("version", version)]
        ).set(to: 1)
    }

    // MARK: - State changes

    /// The last error before this start, from the engine's persisted history.
    public func recall(_ history: [HistoryEntry]) {
        if let time = history.last(where: { Self.isError($0.state) }).flatMap({ Self.date($0.time) }) {
            lastError = max(lastError ?? time, time)
        }
    }

    /// Records each state change until the stream ends, calling `recorded` after each.
    /// Subscribe before the engine runs, so that the changes of its first scan are counted.
    public func follow(_ changes: AsyncStream<SubscribeReply>, recorded: @Sendable () async -> Void = {}) async {
        for await change in changes {
            record(change.entry, reasonCode: change.patch.reasonCode)
            await recorded()
        }
    }

    /// What one state change adds up to; `reasonCode` is the patch's `reason_code` with it.
    func record(_ entry: HistoryEntry, reasonCode: String? = nil, at now: ContinuousClock.Instant = .now) {
        cumulative.makeCounter(
            descriptor: .init(
                namespace: "livepatchd", metricName: "state_changes", unitName: "total",
                helpText: "State changes since livepatchd started, by the state entered."),
            labels: [("state", entry.state.rawValue)]
        ).increment()

        if let started = transitionStarts.removeValue(forKey: entry.name), !entry.state.isInTransition {
            cumulative.makeDurationHistogram(
                descriptor: .init(
                    namespace: "livepatchd", metricName: "transition_duration", unitName: "seconds",
                    helpText: "Kernel transitions from applying or reverting to the state they ended in."),
                labels: [("kind", started.kind), ("outcome", entry.state.rawValue)],
                buckets: Self.transitionBuckets
            ).record(now - started.started)
        }
        switch entry.state {
        case .applying: transitionStarts[entry.name] = ("apply", now)
        case .reverting: transitionStarts[entry.name] = ("revert", now)
        default: break
        }

        if entry.state == .rejected {
            cumulative.makeCounter(
                descriptor: .init(
                    namespace: "livepatchd", metricName: "rejections", unitName: "total",
                    helpText: "Bundles rejected since livepatchd started, by the check that failed."),
                labels: [("reason", reasonCode ?? "unclassified")]
            ).increment()
        }
        if Self.isError(entry.state) { lastError = Self.date(entry.time) ?? Date() }
    }

    private static func isError(_ state: PatchState) -> Bool { state == .failed || state == .rejected }

    private static func date(_ text: String) -> Date? {
        try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    // MARK: - Rendering

    /// The whole exposition, in the Prometheus text format (version 0.0.4).
    public func exposition() async -> String {
        let status = await source.status()
        let patches = await source.patches()
        return cumulative.emitToString() + Self.present(status: status, patches: patches, lastError: lastError).emitToString()
    }

    /// The engine's present as gauges.
    static func present(status: Status, patches: [Patch], lastError: Date?) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String = "", _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            let descriptor = MetricNameDescriptor(namespace: "livepatchd", metricName: name, unitName: unit, helpText: help)
            return labels.isEmpty ? registry.makeGauge(descriptor: descriptor) : registry.makeGauge(descriptor: descriptor, labels: labels)
        }

        for patch in patches {
            gauge(
                "patch_state", "", "Always 1: the state each patch is in (lpclient list).",
                [("patch", patch.name), ("version", patch.version), ("state", patch.state.rawValue)]
            ).set(to: 1)
            if let since = date(patch.since) {
                gauge(
                    "patch_state_since", "timestamp_seconds", "When each patch entered its state.",
                    [("patch", patch.name)]
                ).set(to: since.timeIntervalSince1970)
            }
        }
        for state in PatchState.allCases {
            gauge("patches", "", "Patches in each state.", [("state", state.rawValue)])
                .set(to: Double(status.counts[state.rawValue] ?? 0))
        }
        gauge("degraded", "", "1 when lpclient status would exit 1: a patch failed, was rejected or is stuck.")
            .set(to: status.degraded ? 1 : 0)

        let kernel = status.kernel
        gauge(
            "kernel", "info", "Always 1; the running kernel and how livepatchd drives it.",
            [
                ("release", kernel.release), ("lockdown", kernel.lockdown ?? ""), ("backend", status.backend),
                ("apply", status.apply),
            ]
        ).set(to: 1)
        gauge("kernel_livepatch_supported", "", "1 when /sys/kernel/livepatch exists and ftrace is on: patches can be applied.")
            .set(to: kernel.unsupportedReason == nil ? 1 : 0)
        if let ftrace = kernel.ftrace {
            gauge("kernel_ftrace_enabled", "", "/proc/sys/kernel/ftrace_enabled.").set(to: ftrace ? 1 : 0)
        }
        if let enforced = kernel.signatureEnforced {
            gauge("kernel_module_signatures_enforced", "", "1 when the kernel refuses unsigned modules (sig_enforce).")
                .set(to: enforced ? 1 : 0)
        }
        if let taint = kernel.taint {
            gauge("kernel_taint", "", "/proc/sys/kernel/tainted: out-of-tree livepatch modules set O, E and K.")
                .set(to: Double(taint))
        }
        gauge(
            "last_error", "timestamp_seconds",
            "When a patch last failed or was rejected (from the persisted history); 0 when never."
        ).set(to: lastError?.timeIntervalSince1970 ?? 0)
        return registry
    }
}
