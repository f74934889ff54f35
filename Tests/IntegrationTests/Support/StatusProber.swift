import Foundation
import LivepatchAPI
import LivepatchCore
import Varlink

/// A well-behaved client calling GetStatus in a loop on its own thread (the calls block), so a
/// test can show the daemon kept answering while it was fed something hostile.
final class StatusProber: @unchecked Sendable {
    private let socket: String
    private let lock = NSLock()
    private var stopRequested = false
    private var finished = false
    private var answered = 0
    private var failures: [String] = []
    private var slowest: Duration = .zero

    init(socket: String) { self.socket = socket }

    func start(every interval: Duration = .milliseconds(50)) {
        let thread = Thread { [self] in
            let clock = ContinuousClock()
            while !lock.withLock({ stopRequested }) {
                let started = clock.now
                do {
                    let client = try VarlinkClient(socketPath: socket, timeout: .seconds(5))
                    defer { client.close() }
                    _ = try client.call(LivepatchInterface.Method.getStatus.qualifiedName)
                    let took = clock.now - started
                    lock.withLock {
                        answered += 1
                        slowest = max(slowest, took)
                    }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                }
                Thread.sleep(forTimeInterval: interval.seconds)
            }
            lock.withLock { finished = true }
        }
        thread.start()
    }

    /// Stops the loop and returns what it saw.
    func stop() async throws -> (answered: Int, failures: [String], slowest: Duration) {
        lock.withLock { stopRequested = true }
        _ = try await eventually("the status prober to stop", timeout: .seconds(10)) { (lock.withLock { finished }, ()) }
        return lock.withLock { (answered, failures, slowest) }
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
