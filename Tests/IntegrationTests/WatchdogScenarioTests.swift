import Foundation
import Testing

/// `WatchdogSec=`: systemd passes WATCHDOG_USEC (and WATCHDOG_PID) and kills a service whose
/// WATCHDOG=1 pings stop. The daemon must ping when asked to, and only then.
@Suite("Watchdog", .serialized, .timeLimit(.minutes(5)))
struct WatchdogScenarioTests {
    static let interval = "400000"  // 0.4 s, as WatchdogSec=400ms would set it
    static let ping = "WATCHDOG=1"

    /// Waits for `count` pings after READY=1; on a deadline, says what arrived and shows the log.
    static func waitForPings(_ count: Int, in sandbox: Sandbox, daemon: LaunchedProcess) async throws {
        do {
            _ = try await eventually("\(count) \(ping) datagrams", timeout: .seconds(30)) {
                (sandbox.notifications(ping) >= count, sandbox.notify.received)
            }
        } catch {
            throw TimeoutError(description: "\(error)\ndaemon log (tail):\n\(daemon.log.suffix(4000))")
        }
    }

    @Test("WATCHDOG_USEC without WATCHDOG_PID: WATCHDOG=1 arrives again and again, also while patches apply")
    func pingsWithoutPid() async throws {
        let sandbox = try Sandbox()
        let daemon = try await sandbox.startDaemon(environment: ["WATCHDOG_USEC": Self.interval, "WATCHDOG_PID": nil])
        try await Self.waitForPings(3, in: sandbox, daemon: daemon)
        // Each ping is a datagram of its own, not folded into READY or STATUS.
        #expect(sandbox.notify.received.contains(Self.ping))

        // Still pinging after real work: the pings come from a live engine, not a stale timer.
        try sandbox.drop(try sandbox.bundle("watched"))
        try await sandbox.waitFor("watched", .applied)
        let afterApply = sandbox.notifications(Self.ping)
        try await Self.waitForPings(afterApply + 2, in: sandbox, daemon: daemon)

        let before = sandbox.notify.received.count
        #expect(await daemon.stop() == 0, "a graceful stop with the watchdog running; log:\n\(daemon.log.suffix(2000))")
        #expect(sandbox.notify.received.dropFirst(before).contains { $0.contains("STOPPING=1") })
    }

    @Test("WATCHDOG_PID naming the daemon itself (as systemd sets it): pings arrive")
    func pingsWithOwnPid() async throws {
        let sandbox = try Sandbox()
        // The shell execs the daemon, so $$ is the daemon's pid, exactly as systemd passes it.
        let daemon = try await sandbox.startDaemon(
            environment: ["WATCHDOG_USEC": Self.interval],
            wrapper: ["/bin/sh", "-c", "export WATCHDOG_PID=$$; exec \"$0\" \"$@\""])
        try await Self.waitForPings(3, in: sandbox, daemon: daemon)
        await daemon.stop()
    }

    @Test(
        "no watchdog asked for (no WATCHDOG_USEC, or WATCHDOG_PID of another process): no WATCHDOG=1 at all",
        arguments: [
            ["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil],
            ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": String(getpid())],
        ] as [[String: String?]])
    func noPings(environment: [String: String?]) async throws {
        let sandbox = try Sandbox()
        let daemon = try await sandbox.startDaemon(environment: environment)
        // A window three watchdog intervals long in which the daemon demonstrably works: a
        // pinging daemon would have sent about six pings by the end of it.
        let clock = ContinuousClock()
        let window = clock.now + .milliseconds(1200)
        try sandbox.drop(try sandbox.bundle("unwatched"))
        try await sandbox.waitFor("unwatched", .applied)
        _ = try await eventually("the observation window to pass with the daemon answering", timeout: .seconds(30)) {
            let answering = try sandbox.patch("unwatched") != nil
            return (clock.now >= window && answering, clock.now)
        }
        #expect(sandbox.notifications(Self.ping) == 0, "\(sandbox.notify.received)")
        #expect(sandbox.notifications("READY=1") == 1)
        await daemon.stop()
    }
}
