import Foundation
import LivepatchAPI
import Testing
import Varlink

/// Hostile and broken clients on the control socket, all at once, against the real daemon:
/// none may cost a well-behaved client its answers, or the daemon unbounded memory. The
/// figures (latency percentiles of the well-behaved client, the daemon's RSS) are printed.
@Suite("Control socket under abuse", .enabled(if: getuid() == 0, "needs root: setpriv to nobody, and root's own calls"))
struct SocketAbuseScenarioTests {
    /// A call with no parameters, framed.
    private static func call(_ method: String) -> [UInt8] { Array(#"{"method":"\#(method)"}"#.utf8) + [0] }

    @Test("1000 concurrent connections, stalled, oversized, invalid and unknown calls, subscribers that never read: others are answered, memory bounded")
    func abuse() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        for name in ["abuse_one", "abuse_two"] {
            try sandbox.drop(try sandbox.bundle(name))
            try await sandbox.waitFor(name, .applied)
        }
        let pid = try #require(sandbox.daemon?.processIdentifier)
        let before = try #require(ProcessMemory(pid: pid))
        let socket = sandbox.socket
        let probe = LatencyProbe(socket: socket)

        // 1000 connections held open at once, each answered while all are open.
        let flood = try await onThread { try (0..<1000).map { _ in try RawSocket(path: socket) } }
        let floodAnswered = try await onThread {
            flood.filter { $0.send(Self.call("org.varlink.service.GetInfo")) && $0.readMessage() != nil }.count
        }

        // Clients that stop half-way through a message, and ones that never read their stream.
        let stalled = try await onThread {
            try (0..<50).map { _ in
                let raw = try RawSocket(path: socket)
                raw.send(#"{"method":"io.livepatchd.GetStatus","parameters":{"#)
                return raw
            }
        }
        let subscribers = try await onThread {
            try (0..<20).map { _ in
                let raw = try RawSocket(path: socket)
                raw.send(Array(#"{"method":"io.livepatchd.Subscribe","more":true}"#.utf8) + [0])
                return raw
            }
        }

        // Oversized and invalid messages: an error each, then the door.
        let oversized = try await onThread {
            try (0..<20).map { _ in
                let raw = try RawSocket(path: socket)
                raw.send(#"{"method":"io.livepatchd.GetPatch","parameters":{"name":""# + String(repeating: "x", count: 100 * 1024))
                return (raw.readMessage().flatMap { try? VarlinkReply(frame: $0) }, raw.waitUntilClosed(timeout: .seconds(30)))
            }
        }
        let garbage: [[UInt8]] = [
            Array("this is not json".utf8) + [0], [0xff, 0xfe, 0x00], Array("[1,2,3]".utf8) + [0], [0],
            Array(#"{"method":42}"#.utf8) + [0], Array(#"{"method":"io.livepatchd.GetPatch","parameters":[]}"#.utf8) + [0],
        ]
        let invalid = try await onThread {
            try (0..<60).map { index in
                let raw = try RawSocket(path: socket)
                raw.send(garbage[index % garbage.count])
                return (raw.readMessage().flatMap { try? VarlinkReply(frame: $0) }, raw.waitUntilClosed(timeout: .seconds(30)))
            }
        }
        // Unknown methods and interfaces: an error each, and the connection stays usable.
        let unknown = try await onThread {
            try (0..<50).map { _ in
                let raw = try RawSocket(path: socket)
                let replies = ["io.livepatchd.Nope", "org.example.nothing.Call", "org.varlink.service.GetInfo"].map { method in
                    raw.send(Self.call(method))
                    return raw.readMessage().flatMap { try? VarlinkReply(frame: $0) }
                }
                return replies.map { $0?.error ?? ($0 == nil ? "no reply" : "ok") }
            }
        }

        // State changes the subscribers do not read, made while all of the above is open; and
        // a non-root client's mutating call, refused.
        for _ in 0..<3 {
            #expect(try sandbox.lpclient("revert", "abuse_one").status == 0)
            #expect(try sandbox.lpclient("apply", "abuse_one").status == 0)
        }
        let refused = try sandbox.lpclient("revert", "abuse_two", asNobody: true)
        #expect(refused.status == 77, "\(refused)")

        let stalledClosed = try await onThread { stalled.filter { $0.waitUntilClosed(timeout: .seconds(40)) }.count }
        let (latencies, failures) = await probe.stopped()
        let peak = try #require(ProcessMemory(pid: pid))
        _ = (flood, subscribers)

        print(
            """
            socket abuse: \(flood.count) concurrent connections (\(floodAnswered) answered while all open), \
            \(stalled.count) stalled mid-message (\(stalledClosed) disconnected by the timeout), \(oversized.count) oversized, \
            \(invalid.count) invalid, \(unknown.count * 2) unknown-method/interface calls, \(subscribers.count) subscribers never reading
            socket abuse: well-behaved GetStatus during it: \(latencies.count) calls, \(failures.count) failed, \
            p50 \(format(latencies.percentile(0.5))) ms, p99 \(format(latencies.percentile(0.99))) ms, \
            max \(format(latencies.percentile(1))) ms
            socket abuse: daemon RSS before \(before.residentKiB / 1024) MiB, peak \(peak.peakKiB / 1024) MiB, \
            at the end \(peak.residentKiB / 1024) MiB
            """)

        #expect(floodAnswered == 1000)
        #expect(stalledClosed == stalled.count)
        for (reply, closed) in oversized + invalid {
            #expect(reply?.error == "org.varlink.service.InvalidParameter", "\(String(describing: reply))")
            #expect(closed)
        }
        #expect(unknown.allSatisfy { $0 == ["org.varlink.service.MethodNotFound", "org.varlink.service.InterfaceNotFound", "ok"] })
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(latencies.count >= 10)
        // Bounded: a thousand connections cost kilobytes each, not megabytes.
        #expect(peak.peakKiB - before.residentKiB < 128 * 1024, "RSS grew from \(before.residentKiB) KiB to a peak of \(peak.peakKiB) KiB")
        #expect(sandbox.daemon?.isRunning == true, "the daemon died:\n\(sandbox.log.suffix(3000))")
        #expect(try sandbox.patch("abuse_one")?.state == .applied)
    }

    @Test("1000 connections from one non-root user: 128 served, the rest refused at once, logged without flooding; root still answered")
    func perUserLimit() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let probe = LatencyProbe(socket: sandbox.socket)
        // Python, because the flood has to run as another user, in another process.
        let script = """
            import socket, sys
            held = []
            for _ in range(int(sys.argv[2])):
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])  # blocking: a full backlog waits instead of failing
                s.settimeout(30)
                held.append(s)
            served = 0
            for s in held:
                try:
                    s.sendall(b'{"method":"org.varlink.service.GetInfo"}\\0')
                    served += 1 if s.recv(65536) else 0
                except OSError:
                    pass
            print(served, len(held) - served)
            """
        let flood = try await onThread {
            try run(
                "/usr/bin/python3", ["-c", script, sandbox.socket, "1000"],
                prefix: ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        }
        let (latencies, failures) = await probe.stopped()
        let counts = flood.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let reports = sandbox.log.components(separatedBy: "\n").filter { $0.contains("connections from one user") }
        print(
            """
            socket abuse (one non-root user, 1000 connections): \(counts.first ?? -1) served, \(counts.last ?? -1) refused, \
            \(reports.count) log report(s); root's GetStatus meanwhile: \(latencies.count) calls, \(failures.count) failed, \
            p99 \(format(latencies.percentile(0.99))) ms
            """)
        #expect(flood.status == 0, "\(flood)")
        #expect(counts == [128, 872], "\(flood)")
        #expect((1...3).contains(reports.count), "\(reports)")
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    private func format(_ duration: Duration) -> String { String(format: "%.1f", duration.milliseconds) }
}

/// Blocking socket work off the cooperative pool, which a thousand blocking connects would starve.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
