import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// One assignment of the sd_notify(3) protocol.
public enum NotifyState: Sendable, Equatable {
    /// Start-up finished: the socket is bound and the kernel reconciled.
    case ready
    /// A configuration reload began; `READY=1` ends it.
    case reloading
    case stopping
    /// Keep-alive ping for `WatchdogSec=`.
    case watchdog
    /// One line shown by `systemctl status`.
    case status(String)

    /// The `KEY=value` lines this state contributes to the datagram.
    var assignments: [String] {
        switch self {
        case .ready: ["READY=1"]
        // Type=notify-reload (systemd 253+) matches the reload by its timestamp; older
        // managers ignore the extra field, so it is always sent.
        case .reloading: ["RELOADING=1"] + (monotonicMicroseconds().map { ["MONOTONIC_USEC=\($0)"] } ?? [])
        case .stopping: ["STOPPING=1"]
        case .watchdog: ["WATCHDOG=1"]
        // A newline would start a new assignment the manager would misread.
        case .status(let text): ["STATUS=" + text.map { $0.isNewline ? " " : String($0) }.joined()]
        }
    }
}

/// Reports service state to the service manager (sd_notify over `NOTIFY_SOCKET`).
public struct ServiceNotifier: Sendable {
    public init() {}

    /// The service manager asked for notifications (`NOTIFY_SOCKET` is set).
    public var isEnabled: Bool {
        getenv("NOTIFY_SOCKET") != nil
    }

    /// Sends all `states` in one datagram.
    ///
    /// - Returns: true when sent, false when `NOTIFY_SOCKET` is unset (not run by a manager).
    @discardableResult
    public func notify(_ states: NotifyState...) throws(SystemError) -> Bool {
        try notify(states)
    }

    @discardableResult
    public func notify(_ states: [NotifyState]) throws(SystemError) -> Bool {
        let message = states.flatMap(\.assignments).joined(separator: "\n")
        let result = sd_notify(0, message)
        if result < 0 {
            throw SystemError("sd_notify", getenv("NOTIFY_SOCKET").map { String(cString: $0) }, errno: -result)
        }
        return result > 0
    }

    /// The manager's watchdog timeout (`WatchdogSec=`), or nil when it expects no pings.
    /// Ping with ``NotifyState/watchdog`` at least twice per interval, as sd_watchdog_enabled(3)
    /// recommends, so a late wake-up still lands in time.
    public func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares `MONOTONIC_USEC=` with.
private func monotonicMicroseconds() -> UInt64? {
    var now = timespec()
    guard clock_gettime(CLOCK_MONOTONIC, &now) == 0 else { return nil }
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
