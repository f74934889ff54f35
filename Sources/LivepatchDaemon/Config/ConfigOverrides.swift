/// Values given as `livepatchd` flags: the last layer, over the file and its drop-ins.
///
/// Values are the flags' raw strings; ``ConfigLoader`` checks them exactly like the file's
/// values, so `--apply sometimes` fails with the same message as `apply = "sometimes"`.
/// Relative paths are resolved against the current directory.
public struct ConfigOverrides: Sendable, Equatable {
    public var backend: String?
    public var simulatedRoot: String?
    public var simulatedKernel: String?
    public var patchDir: String?
    public var stateDir: String?
    public var socket: String?
    public var keysDir: String?
    public var logLevel: String?
    public var apply: String?

    public init(
        backend: String? = nil, simulatedRoot: String? = nil, simulatedKernel: String? = nil,
        patchDir: String? = nil, stateDir: String? = nil, socket: String? = nil, keysDir: String? = nil,
        logLevel: String? = nil, apply: String? = nil
    ) {
        self.backend = backend
        self.simulatedRoot = simulatedRoot
        self.simulatedKernel = simulatedKernel
        self.patchDir = patchDir
        self.stateDir = stateDir
        self.socket = socket
        self.keysDir = keysDir
        self.logLevel = logLevel
        self.apply = apply
    }

    /// The overrides as (key, value) in the order keys appear in the config.
    var entries: [(ConfigKey, String)] {
        let all: [(ConfigKey, String?)] = [
            (.backend, backend), (.simulatedRoot, simulatedRoot), (.simulatedKernel, simulatedKernel),
            (.patchDir, patchDir), (.stateDir, stateDir), (.socket, socket), (.keysDir, keysDir),
            (.apply, apply), (.logLevel, logLevel),
        ]
        return all.compactMap { key, value in value.map { (key, $0) } }
    }
}
