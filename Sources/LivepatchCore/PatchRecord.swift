import FoundationEssentials
import LivepatchAPI

/// Everything the daemon knows about one patch, as persisted in the state directory.
///
/// The core never reads a manifest itself: the daemon's verifier describes what it found
/// in a ``PatchDescriptor`` and the ledger keeps that, plus the state and intent.
public struct PatchRecord: Codable, Sendable, Equatable {
    @Shared public var descriptor: PatchDescriptor
    public var state: PatchState
    public var reason: PatchReason?
    /// When the patch entered `state`.
    public var since: Date
    /// The operator or the policy wants this patch applied; cleared by a revert or a failure.
    public var desired: Bool
    /// Order in which loaded patches were enabled: later wins for a shared function.
    public var enabledSequence: Int?
    /// When the running transition started, to time it out.
    public var transitionStarted: Date?
    /// An operator asked to revert it (the only way a foreign patch is ever touched).
    public var revertRequested: Bool = false
    /// A timed-out apply is being rolled back; the reason it will fail with. Persisted before
    /// the kernel is touched, so a restart in the middle still ends `failed`, not retried.
    public var rollbackReason: PatchReason?
    /// A new version that arrived while this one is loaded: the kernel cannot hold two modules
    /// of one name, so it is staged once this one is reverted (or has failed).
    public var heldUpgrade: PatchDescriptor?
    /// When the patch was found disabled by someone else (`echo 0 > enabled`) with its module
    /// left loaded: not applied again, and its module not touched, until an operator applies it.
    public var disabledOutside: Date?
    /// The last enable, saved before the load: a boot that ends within `quarantine_window` of it
    /// without a clean stop of the daemon quarantines the patch at the next start.
    public var lastEnable: EnableMark?
    /// A bundle of this name that arrived while this one is loaded and was refused (an older one
    /// replayed, a bad signature): reported, the loaded one stays.
    public var refusedArrival: PatchReason?

    public var name: String { descriptor.name }

    public init(descriptor: PatchDescriptor, state: PatchState, reason: PatchReason? = nil, since: Date, desired: Bool = false) {
        self.descriptor = descriptor
        self.state = state
        self.reason = reason
        self.since = since
        self.desired = desired
    }
}

/// What verification established about a patch (all optional for what could not be read).
public struct PatchDescriptor: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    /// sha256 of the module.
    public var sha256: String
    /// sha256 of the manifest bytes: a changed manifest is a new arrival.
    public var manifestDigest: String
    public var kernels: [String]
    public var fixes: [String]
    public var replace: Bool
    public var description: String?
    /// The module's vermagic release.
    public var release: String?
    /// The verified copy in the store; only that copy is ever loaded.
    public var storedModulePath: String?
    /// `object:function` pairs the patch redirects (from the kernel once loaded).
    public var functions: [String]
    /// The manifest's file name in the patch directory.
    public var manifestFile: String?
    /// The manifest's `sequence`: a lower one than already seen for this name is refused.
    public var sequence: Int?
    /// When its rollout starts (`released`, else `created`).
    public var released: Date?
    /// It expires then (`not_after`).
    public var notAfter: Date?

    public init(
        name: String, version: String = "", sha256: String = "", manifestDigest: String = "",
        kernels: [String] = [], fixes: [String] = [], replace: Bool = false, description: String? = nil,
        release: String? = nil, storedModulePath: String? = nil, functions: [String] = [],
        manifestFile: String? = nil
    ) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.manifestDigest = manifestDigest
        self.kernels = kernels
        self.fixes = fixes
        self.replace = replace
        self.description = description
        self.release = release
        self.storedModulePath = storedModulePath
        self.functions = functions
        self.manifestFile = manifestFile
    }
}


/// Which boot enabled a patch, and when; `survived` once `quarantine_window` passed in that boot.
public struct EnableMark: Codable, Sendable, Equatable {
    public var bootID: String
    public var at: Date
    public var survived: Bool

    public init(bootID: String, at: Date, survived: Bool = false) {
        self.bootID = bootID
        self.at = at
        self.survived = survived
    }
}
