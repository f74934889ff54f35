/// The life cycle of a patch, as named in DESIGN.md "States". The raw values are the wire names.
public enum PatchState: String, Codable, Sendable, CaseIterable {
    /// A manifest arrived; its module or signature has not (yet).
    case pending
    /// Verification failed; `reason` says which check.
    case rejected
    /// Verified and copied into the store; not loaded.
    case staged
    /// Module loaded, the kernel's transition is running.
    case applying
    case applied
    /// Load error or transition timeout; rolled back. Not retried until asked.
    case failed
    /// Disable requested, the kernel's transition is running.
    case reverting
    case reverted
    /// A `replace` patch took over.
    case superseded
    /// Loaded by someone else; listed, never touched unless asked.
    case foreign
    /// A signed halt file in the patch directory stops its rollout here; `reason` names it.
    case halted
    /// The machine went down soon after enabling it, without a clean stop of the daemon: not
    /// applied again by itself (`lpclient apply` applies it on purpose).
    case quarantined

    /// The kernel holds the module in these states.
    public var isLoaded: Bool {
        switch self {
        case .applying, .applied, .reverting, .foreign: true
        default: false
        }
    }

    /// A transition is under way.
    public var isInTransition: Bool { self == .applying || self == .reverting }
}
