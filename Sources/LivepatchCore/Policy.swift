/// How the daemon applies what it has verified (DESIGN.md "Policy (config)").
public struct Policy: Sendable, Equatable {
    public enum ApplyMode: String, Sendable, CaseIterable {
        /// Staged patches are applied after `applyDelay`.
        case auto
        /// Staged patches wait for `lpclient apply`.
        case manual
    }

    public var apply: ApplyMode = .auto
    /// Canary rollouts: how long a staged patch waits before an automatic apply.
    public var applyDelay: Duration = .zero
    /// A transition still running after this is reverted (or forced, if allowed).
    public var transitionTimeout: Duration = .seconds(60)
    public var forceAfterTimeout: Bool = false
    public var requireSignature: Bool = true
    /// Bytes; a bigger module is rejected before it is hashed.
    public var maxModuleSize: Int64 = 64 * 1024 * 1024
    /// How long a manifest waits in `pending` for its module and signature.
    public var settleTimeout: Duration = .seconds(30)

    public init() {}
}
