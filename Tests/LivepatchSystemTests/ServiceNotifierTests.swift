import Foundation
import LivepatchSystem
import Testing

/// A bound AF_UNIX datagram socket standing in for the service manager's notify socket.
private final class NotifyReceiver {
    let path: String
    private let descriptor: Int32

    init(in directory: TemporaryDirectory) throws {
        path = directory.file("notify")
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8.prefix(raw.count - 1))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit { close(descriptor) }

    /// The next datagram's text; throws when none arrives within `limit`.
    func receive(within limit: Duration = .seconds(5)) throws -> String {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(limit.components.seconds * 1000)
        guard poll(&request, 1, milliseconds) == 1 else { throw TimedOut(what: "a notify datagram") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }
}

/// Changes process-wide environment variables, so its tests must not overlap.
@Suite(.serialized) struct ServiceNotifierTests {
    @Test func sendsReadyAndStatusInOneDatagram() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let receiver = try NotifyReceiver(in: directory)
        setenv("NOTIFY_SOCKET", receiver.path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }

        let notifier = ServiceNotifier()
        #expect(notifier.isEnabled)
        #expect(try notifier.notify(.ready, .status("3 applied")) == true)
        #expect(try receiver.receive() == "READY=1\nSTATUS=3 applied")
    }

    @Test func sendsEachKindOfState() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let receiver = try NotifyReceiver(in: directory)
        setenv("NOTIFY_SOCKET", receiver.path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }

        let notifier = ServiceNotifier()
        try notifier.notify(.stopping)
        #expect(try receiver.receive() == "STOPPING=1")
        try notifier.notify(.watchdog)
        #expect(try receiver.receive() == "WATCHDOG=1")
        try notifier.notify(.status("1 applied\n2 staged"))
        #expect(try receiver.receive() == "STATUS=1 applied 2 staged")
    }

    @Test func reloadingCarriesTheMonotonicClock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let receiver = try NotifyReceiver(in: directory)
        setenv("NOTIFY_SOCKET", receiver.path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }

        let before = monotonicMicroseconds()
        try ServiceNotifier().notify(.reloading)
        let after = monotonicMicroseconds()
        let lines = try receiver.receive().split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == "RELOADING=1")
        let stamp = try #require(lines.last?.split(separator: "=", maxSplits: 1))
        #expect(stamp.first == "MONOTONIC_USEC")
        let value = try #require(stamp.last.flatMap { UInt64($0) })
        #expect((before...after).contains(value))
    }

    @Test func reportsNotSentWithoutNotifySocket() throws {
        unsetenv("NOTIFY_SOCKET")
        let notifier = ServiceNotifier()
        #expect(!notifier.isEnabled)
        #expect(try notifier.notify(.ready) == false)
    }

    @Test func failsWhenNobodyListens() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        setenv("NOTIFY_SOCKET", directory.file("nobody"), 1)
        defer { unsetenv("NOTIFY_SOCKET") }

        #expect(throws: SystemError.self) { try ServiceNotifier().notify(.ready) }
    }

    @Test func watchdogIntervalComesFromTheManager() {
        setenv("WATCHDOG_USEC", "30000000", 1)
        setenv("WATCHDOG_PID", String(getpid()), 1)
        defer {
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        #expect(ServiceNotifier().watchdogInterval() == .seconds(30))

        // Meant for another process (e.g. inherited by a child): not ours to ping.
        setenv("WATCHDOG_PID", String(getpid() + 1), 1)
        #expect(ServiceNotifier().watchdogInterval() == nil)
        unsetenv("WATCHDOG_USEC")
        #expect(ServiceNotifier().watchdogInterval() == nil)
    }
}

private func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
