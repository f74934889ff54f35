import FoundationEssentials
import Glibc
import LivepatchSystem
import Logging

/// Keeps `metrics_file` up to date for node_exporter's textfile collector: written after state
/// changes and every ``refreshInterval``, always whole (a temporary file renamed over it), so
/// the collector never reads half a file.
///
/// The periodic rewrite carries what changes without a state change (kernel taint, a stuck
/// transition's age), and keeps `node_textfile_mtime_seconds` moving while the daemon lives:
/// a file that stops changing is a daemon that stopped.
final class MetricsFile: Sendable {
    static let refreshInterval = Duration.seconds(30)

    let path: String
    private let metrics: PatchMetrics
    private let logger: Logger
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    init(path: String, metrics: PatchMetrics, logger: Logger) {
        self.path = path
        self.metrics = metrics
        self.logger = logger
        // One pending ring is enough: a burst of state changes becomes one write.
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a write soon; never waits.
    func changed() { ring.yield() }

    /// Writes at once, then on every ring and every refresh interval, until cancelled.
    func run() async {
        let ticker = Task { [ring] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.refreshInterval)
                ring.yield()
            }
        }
        defer { ticker.cancel() }
        var failing = false
        await withTaskCancellationHandler {
            ring.yield()
            for await _ in doorbell {
                let text = await metrics.exposition()
                do {
                    // 0644: node_exporter runs as its own user.
                    try AtomicFile.write(Array(text.utf8), to: path, mode: 0o644)
                    if failing { logger.notice("writing the metrics file \(path) works again") }
                    failing = false
                } catch {
                    // Once per failing spell, not every 30 s.
                    if !failing {
                        logger.warning(
                            "cannot write the metrics file \(path): \(error); does its directory exist and may the unit write there (ReadWritePaths=)?"
                        )
                    }
                    failing = true
                }
            }
        } onCancel: {
            ring.finish()
        }
    }
}
