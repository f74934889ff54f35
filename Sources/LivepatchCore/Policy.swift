/// How the daemon applies what it has verified (DESIGN.md "Policy (config)").
public struct Policy: Sendable, Equatable {
    public enum ApplyMode: String, Sendable, CaseIterable {
        /// Staged patches are applied after `applyDelay`.
        case auto
        /// Staged patches wait for `lpclient apply`.
        case manual
        /// The kill switch: verify and report, apply nothing (not even what a reboot took out).
        case off
    }

    public var apply: ApplyMode = .auto
    /// Who turned applying off, for messages: the config, or `livepatchd.apply=off` on the
    /// kernel command line (which wins over the config).
    public var applyOffSource: String?
    /// Canary waves: when a staged patch applies by itself on this host.
    public var rollout = Rollout()
    /// A boot that ends this soon after an enable, without a clean stop of the daemon,
    /// quarantines the patch.
    public var quarantineWindow: Duration = .seconds(600)
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
