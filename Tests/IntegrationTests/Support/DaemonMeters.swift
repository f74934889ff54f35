import Foundation
import LivepatchAPI
import Varlink

/// The daemon's memory as the kernel accounts it (/proc/PID/status), in KiB.
struct ProcessMemory {
    /// Resident set size now.
    var residentKiB: Int
    /// The peak resident set size since the process started (VmHWM).
    var peakKiB: Int

    init?(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(name):") }) else { return nil }
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        guard let resident = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        residentKiB = resident
        peakKiB = peak
    }
}

/// A well-behaved client calling `GetStatus` over a new connection each time, as `lpclient
/// status` does, on its own thread (the calls block) until stopped, `pause` between calls:
/// proof that the daemon kept answering while fed something hostile, and the latencies it
/// answered with.
final class LatencyProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var latencies: [Duration] = []
    private var failures: [String] = []
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(socket: String, pause: Duration = .zero) {
        Thread.detachNewThread { [self] in
            let clock = ContinuousClock()
            while !lock.withLock({ stopped }) {
                let started = clock.now
                do {
                    let client = try VarlinkClient(socketPath: socket, timeout: .seconds(30))
                    defer { client.close() }
                    _ = try client.call(LivepatchInterface.Method.getStatus.qualifiedName)
                    let elapsed = clock.now - started
                    lock.withLock { latencies.append(elapsed) }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                }
                if pause > .zero { Thread.sleep(forTimeInterval: pause.milliseconds / 1000) }
            }
            finished.signal()
        }
    }

    /// Stops the probe and returns what it measured, once its call in flight has ended.
    func stopped() async -> (latencies: [Duration], failures: [String]) {
        lock.withLock { stopped = true }
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [finished] in
                finished.wait()
                continuation.resume()
            }
        }
        return lock.withLock { (latencies, failures) }
    }
}

extension [Duration] {
    /// The value below which `fraction` of the samples fall (nearest rank).
    func percentile(_ fraction: Double) -> Duration {
        guard !isEmpty else { return .zero }
        let sorted = self.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(rank, sorted.count - 1))]
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
