/// What the kernel offers for live patching (DESIGN.md "Kernel support report").
public struct KernelSupport: Codable, Sendable, Equatable {
    /// `uname -r` of the running (or simulated) kernel.
    public var release: String
    /// `/sys/kernel/livepatch` exists.
    public var livepatch: Bool
    /// `/proc/sys/kernel/ftrace_enabled` reads 1; nil when unreadable.
    public var ftrace: Bool?
    /// The selected mode of `/sys/kernel/security/lockdown` (`none`, `integrity`, `confidentiality`).
    public var lockdown: String?
    /// `/sys/module/module/parameters/sig_enforce` reads Y.
    public var signatureEnforced: Bool?
    /// `/proc/sys/kernel/tainted`.
    public var taint: Int?
    /// The simulated backend answers instead of a kernel.
    public var simulated: Bool

    public init(
        release: String, livepatch: Bool, ftrace: Bool?, lockdown: String?, signatureEnforced: Bool?,
        taint: Int?, simulated: Bool
    ) {
        self.release = release
        self.livepatch = livepatch
        self.ftrace = ftrace
        self.lockdown = lockdown
        self.signatureEnforced = signatureEnforced
        self.taint = taint
        self.simulated = simulated
    }

    /// Why nothing can be applied on this kernel, or nil when patches can be applied.
    public var unsupportedReason: String? {
        if !livepatch { return "kernel \(release) has no livepatch support (/sys/kernel/livepatch is missing)" }
        if ftrace == false { return "ftrace is disabled (/proc/sys/kernel/ftrace_enabled is 0)" }
        return nil
    }

    /// The kernel taint flags as letters (the kernel's own notation, e.g. `OEK`).
    public var taintFlags: String {
        guard let taint, taint != 0 else { return "" }
        let letters = Array("PFSRMBUDAWCIOELKXTN")
        return String(letters.indices.filter { taint & (1 << $0) != 0 }.map { letters[$0] })
    }
}

/// Reply of `io.livepatchd.GetStatus`.
public struct Status: Codable, Sendable, Equatable {
    /// The one line of `STATUS=`, e.g. "3 applied, 1 staged".
    public var summary: String
    /// Something needs an operator: a patch failed or was rejected, or is stuck pending or applying.
    public var degraded: Bool
    /// One line per reason for `degraded`.
    public var problems: [String]
    public var backend: String
    /// `auto` or `manual`.
    public var apply: String
    public var kernel: KernelSupport
    /// Number of patches per state name.
    public var counts: [String: Int]
    public var daemonVersion: String

    public init(
        summary: String, degraded: Bool, problems: [String], backend: String, apply: String,
        kernel: KernelSupport, counts: [String: Int], daemonVersion: String
    ) {
        self.summary = summary
        self.degraded = degraded
        self.problems = problems
        self.backend = backend
        self.apply = apply
        self.kernel = kernel
        self.counts = counts
        self.daemonVersion = daemonVersion
    }
}

/// One state change, as kept in the history and streamed by `Subscribe`.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public var time: String
    public var name: String
    public var version: String
    public var state: PatchState
    public var reason: String?

    public init(time: String, name: String, version: String, state: PatchState, reason: String?) {
        self.time = time
        self.name = name
        self.version = version
        self.state = state
        self.reason = reason
    }
}
