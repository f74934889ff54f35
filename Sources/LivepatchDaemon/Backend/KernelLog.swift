import LivepatchCore
import LivepatchSystem

/// Where the kernel backend reads back what the kernel logged while a step ran, to say why the
/// kernel refused it (``KernelMessages``).
public protocol KernelLog: Sendable {
    /// A point in the log, taken just before a step: lines after it are the step's.
    func mark() -> UInt64
    /// The kernel's lines since `mark` that concern `module`; empty when it logged none or the
    /// log cannot be read (the errno still tells what happened).
    func lines(about module: String, since mark: UInt64) async -> [String]
}

/// The kernel's lines as journald stores them (`_TRANSPORT=kernel`). The unit sets
/// `ProtectKernelLogs=yes`, which closes `/dev/kmsg` to the daemon; journald reads it for
/// everyone and the journal stays readable to the daemon's root (its files are root's own).
public struct JournalKernelLog: KernelLog {
    /// journald reads `/dev/kmsg` on its own schedule: a refusal is in the kernel's buffer when
    /// the call returns, and in the journal a moment later (longer under qemu TCG on a loaded
    /// host). Only a failure the kernel says nothing about waits this long.
    var patience: Duration
    /// The kernel logs a refusal as a burst of lines (several unknown symbols, a callback and the
    /// failed enable); the burst is over once no further line about the module came for this long.
    var quiet: Duration
    var matches: [String]

    public init(patience: Duration = .seconds(5), quiet: Duration = .milliseconds(250), matches: [String] = ["_TRANSPORT=kernel"]) {
        self.patience = patience
        self.quiet = quiet
        self.matches = matches
    }

    public func mark() -> UInt64 { JournalReader.now() }

    public func lines(about module: String, since mark: UInt64) async -> [String] {
        await BlockingPool.shared.run { () -> [String] in collect(module, since: mark) }
    }

    private func collect(_ module: String, since mark: UInt64) -> [String] {
        let reader: JournalReader
        do {
            reader = try JournalReader(matches: matches)
            try reader.seek(realtime: mark)
        } catch { return [] }
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var logged: [KernelLogLine] = []
        var found: [String] = []
        var lastFound = clock.now
        while true {
            while let entry = try? reader.next() {
                logged.append(KernelLogLine(entry.message, priority: entry.priority))
            }
            let now = clock.now
            let concerning = KernelMessages.about(module, in: logged)
            if concerning != found {
                found = concerning
                lastFound = now
            }
            if now >= deadline || (!found.isEmpty && now - lastFound >= quiet) { return found }
            let slice = found.isEmpty ? Duration.milliseconds(100) : quiet - (now - lastFound)
            guard (try? reader.wait(timeout: min(slice, deadline - now))) != nil else { return found }
        }
    }
}
