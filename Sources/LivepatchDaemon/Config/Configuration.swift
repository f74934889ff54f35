import LivepatchCore

/// The effective daemon configuration: defaults here, then the config file, its `.d/` drop-ins
/// (in name order) and the command-line flags, each layer overriding the one before.
/// Keys and defaults follow DESIGN.md "Policy (config)" and "Files".
public struct Configuration: Sendable, Equatable {
    public enum BackendKind: String, Sendable, CaseIterable { case kernel, simulated }
    public enum LogLevel: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }

    public static let defaultPath = "/etc/livepatchd/livepatchd.toml"

    public var backend: BackendKind = .kernel
    /// Where the simulated kernel keeps its state (outside the daemon, so it outlives a restart).
    public var simulatedRoot: String = "/run/livepatchd-simulated"
    /// Release the simulated kernel reports; nil means `uname -r`.
    public var simulatedKernel: String? = nil
    public var patchDir: String = "/var/lib/livepatchd/incoming"
    public var stateDir: String = "/var/lib/livepatchd"
    public var socket: String = "/run/livepatchd/io.livepatchd"
    public var keysDir: String = "/etc/livepatchd/keys"
    /// Prometheus text exposition for node_exporter's textfile collector; nil writes none.
    public var metricsFile: String? = nil
    public var policy: Policy = Policy()
    /// Where the host's identity for rollout waves is read (`/etc/machine-id`).
    public var machineIDFile: String = "/etc/machine-id"
    public var logLevel: LogLevel = .info
    /// The files this configuration was read from, in the order applied (for the start-up log);
    /// empty when only defaults and flags apply.
    public var sources: [String] = []

    public init() {}
}
