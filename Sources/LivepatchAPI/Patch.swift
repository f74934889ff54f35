/// A patch as the daemon reports it (`io.livepatchd.Patch`).
public struct Patch: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    /// sha256 of the module, hex; empty when unknown (a manifest that did not parse, a foreign patch).
    public var sha256: String
    public var state: PatchState
    /// Why the patch is in its state, for rejected, failed, pending and staged-but-held patches.
    public var reason: String?
    /// `reason` as a stable code for scripts and monitoring (`hash-mismatch`, `load-failed`,
    /// `transition-timeout`, `disabled-outside`, …).
    public var reasonCode: String?
    public var replace: Bool
    public var kernels: [String]
    public var fixes: [String]
    /// When the patch entered `state`, RFC 3339.
    public var since: String
    public var description: String?
    /// The operator (or policy) wants this patch applied.
    public var desired: Bool
    /// Functions the loaded patch redirects, as `object:function`.
    public var functions: [String]
    /// Tasks that keep the running transition from finishing, sampled by the daemon.
    public var blockingTasks: [BlockingTask]
    /// Patches stacked on top of this one (enabled later, sharing a function).
    public var stackedBelow: [String]
    /// What the kernel reports for each object (vmlinux or a module) of a loaded patch, now.
    public var objects: [PatchObject]
    /// This host's rollout wave for the patch (0 is the first), for patches verified here.
    public var wave: Int?
    /// When a staged patch applies by itself (RFC 3339): its wave's turn plus `apply_delay`.
    public var applyAt: String?

    public init(
        name: String, version: String = "", sha256: String = "", state: PatchState, reason: String? = nil,
        reasonCode: String? = nil, replace: Bool = false, kernels: [String] = [], fixes: [String] = [], since: String,
        description: String? = nil, desired: Bool = false, functions: [String] = [],
        blockingTasks: [BlockingTask] = [], stackedBelow: [String] = [], objects: [PatchObject] = []
    ) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.state = state
        self.reason = reason
        self.reasonCode = reasonCode
        self.replace = replace
        self.kernels = kernels
        self.fixes = fixes
        self.since = since
        self.description = description
        self.desired = desired
        self.functions = functions
        self.blockingTasks = blockingTasks
        self.stackedBelow = stackedBelow
        self.objects = objects
    }
}

/// One object a patch applies to: `vmlinux`, or a module, which is patched only while loaded
/// (the kernel patches it as it loads).
public struct PatchObject: Codable, Sendable, Equatable {
    public var name: String
    /// `/sys/kernel/livepatch/<patch>/<object>/patched`.
    public var patched: Bool

    public init(name: String, patched: Bool) {
        self.name = name
        self.patched = patched
    }
}

/// A task the kernel has not yet switched to the target patch state.
public struct BlockingTask: Codable, Sendable, Equatable {
    public var pid: Int
    public var comm: String
    public init(pid: Int, comm: String) {
        self.pid = pid
        self.comm = comm
    }
}
