import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// One entry read back from the journal: the fields a reader of kernel lines needs.
public struct JournalEntry: Sendable, Equatable {
    public var message: String
    /// `PRIORITY` (0 emerg … 7 debug); nil when the entry has none.
    public var priority: Int?
    /// When journald received it, µs since the epoch (`__REALTIME_TIMESTAMP`).
    public var realtime: UInt64

    public init(message: String, priority: Int?, realtime: UInt64) {
        self.message = message
        self.priority = priority
        self.realtime = realtime
    }
}

/// Reads the local system journal through sd-journal(3), from a point in time on, filtered by
/// field matches (`_TRANSPORT=kernel`). Not thread-safe (an sd_journal handle belongs to one
/// thread): one owner opens it, reads and lets it go.
public final class JournalReader {
    private let handle: OpaquePointer

    /// Opens the system journal of this machine (what the system journald stores, kernel lines
    /// included) with every entry matching all of `matches` (`FIELD=value`).
    public init(matches: [String]) throws(SystemError) {
        var handle: OpaquePointer?
        let flags = Int32(SD_JOURNAL_LOCAL_ONLY) | Int32(SD_JOURNAL_SYSTEM)
        let opened = sd_journal_open(&handle, flags)
        guard opened >= 0, let handle else { throw SystemError("sd_journal_open", errno: -opened) }
        self.handle = handle
        for match in matches {
            let added = match.withCString { sd_journal_add_match(handle, $0, 0) }
            if added < 0 { throw SystemError("sd_journal_add_match", match, errno: -added) }
        }
    }

    deinit { sd_journal_close(handle) }

    /// Positions the reader so that ``next()`` returns the first entry received at `realtime`
    /// (µs since the epoch) or later.
    public func seek(realtime: UInt64) throws(SystemError) {
        let result = sd_journal_seek_realtime_usec(handle, realtime)
        if result < 0 { throw SystemError("sd_journal_seek_realtime_usec", errno: -result) }
    }

    /// The next matching entry, or nil at the end of what is stored so far.
    public func next() throws(SystemError) -> JournalEntry? {
        let moved = sd_journal_next(handle)
        if moved < 0 { throw SystemError("sd_journal_next", errno: -moved) }
        guard moved > 0 else { return nil }
        var realtime: UInt64 = 0
        let stamped = sd_journal_get_realtime_usec(handle, &realtime)
        if stamped < 0 { throw SystemError("sd_journal_get_realtime_usec", errno: -stamped) }
        return JournalEntry(
            message: field("MESSAGE") ?? "", priority: field("PRIORITY").flatMap { Int($0) }, realtime: realtime)
    }

    /// Waits until the journal changes or `timeout` passes; true when something may have been
    /// added.
    public func wait(timeout: Duration) throws(SystemError) -> Bool {
        let (seconds, attoseconds) = timeout.components
        let microseconds = UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000)
        while true {
            let result = sd_journal_wait(handle, microseconds)
            if result == -EINTR { continue }
            if result < 0 { throw SystemError("sd_journal_wait", errno: -result) }
            return result != Int32(SD_JOURNAL_NOP)
        }
    }

    /// The current entry's `name` field as text; nil when the entry has none.
    private func field(_ name: String) -> String? {
        var data: UnsafeRawPointer?
        var length = 0
        let result = name.withCString { sd_journal_get_data(handle, $0, &data, &length) }
        guard result >= 0, let data else { return nil }
        // "NAME=value": the value is what follows the first "=".
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return String(decoding: bytes[(equals + 1)...], as: UTF8.self)
    }

    /// Now, in the journal's clock (CLOCK_REALTIME, µs).
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec / 1000)
    }
}
