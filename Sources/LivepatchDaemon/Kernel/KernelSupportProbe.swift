import FoundationEssentials
import Glibc
import LivepatchAPI
import LivepatchCore
import LivepatchSystem

/// Reads what the kernel offers for live patching (DESIGN.md "Kernel support report") from
/// sysfs and procfs. The roots are injectable so tests and the simulated backend can point
/// it at a directory tree of their own.
public struct KernelSupportProbe: Sendable {
    public let sysfsRoot: String
    public let procRoot: String

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc") {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
    }

    /// What the kernel reports now; each attribute that cannot be read or understood is nil,
    /// so a locked-down or unusual kernel shows "unknown" rather than a guess.
    public func probe(release: String, simulated: Bool) -> KernelSupport {
        KernelSupport(
            release: release,
            livepatch: isDirectory(sysfsRoot + "/kernel/livepatch"),
            ftrace: read(procRoot + "/sys/kernel/ftrace_enabled").flatMap(Self.parseFlag),
            lockdown: read(sysfsRoot + "/kernel/security/lockdown").flatMap(Self.parseSelected),
            signatureEnforced: read(sysfsRoot + "/module/module/parameters/sig_enforce").flatMap(Self.parseFlag),
            taint: read(procRoot + "/sys/kernel/tainted").flatMap { Int($0) },
            simulated: simulated
        )
    }

    /// `1`/`0` (procfs) or `Y`/`N` (module parameters).
    static func parseFlag(_ text: String) -> Bool? {
        switch text {
        case "1", "Y", "y": true
        case "0", "N", "n": false
        default: nil
        }
    }

    /// The bracketed choice of a sysfs selection, e.g. `none` in `[none] integrity confidentiality`.
    static func parseSelected(_ text: String) -> String? {
        guard let open = text.firstIndex(of: "["),
            let close = text[open...].firstIndex(of: "]")
        else { return nil }
        let word = text[text.index(after: open)..<close]
        return word.isEmpty ? nil : String(word)
    }

    /// The file's content without surrounding whitespace, or nil when it cannot be read.
    private func read(_ path: String) -> String? {
        // sysfs and procfs files report a size of 4096 or 0, so read them in full rather
        // than trusting stat; they are tiny.
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(String(decoding: data, as: UTF8.self).trimmed)
    }

    private func isDirectory(_ path: String) -> Bool {
        Directory.exists(path)
    }
}
