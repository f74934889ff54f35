import FoundationEssentials
import Glibc
import LivepatchAPI
import LivepatchBundle
import LivepatchCore
import LivepatchSystem
import Logging
import ServiceLifecycle
import UnixSignals

/// The assembled daemon. `livepatchd` parses flags and calls ``Daemon/run(configPath:overrides:)``;
/// tests build the same daemon from a temporary config.
public final class Daemon: Service {
    let configPath: String?
    let overrides: ConfigOverrides
    let configuration: Configuration
    let backend: any PatchBackend
    /// Read once: the boot id and the kernel command line stay what they are until the next boot.
    let boot: BootInfo
    let engine: PatchEngine
    let scanner: PatchScanner
    let server: VarlinkServer
    let metrics: PatchMetrics
    let notifier = ServiceNotifier()
    let logger: Logger
    /// One daemon per state directory: two would load, fail and report against each other.
    let stateLock: DirectoryLock

    public init(configuration: Configuration, configPath: String?, overrides: ConfigOverrides, logger: Logger) throws {
        self.configuration = configuration
        self.configPath = configPath
        self.overrides = overrides
        self.logger = logger
        backend = try Self.makeBackend(configuration)
        boot = backend.boot()
        scanner = PatchScanner(
            patchDirectory: configuration.patchDir, verifier: try Self.makeVerifier(configuration, logger: logger),
            store: PatchStore(stateDirectory: configuration.stateDir))
        try FileManager.default.createDirectory(
            atPath: configuration.stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        stateLock = try Self.lockStateDirectory(configuration)
        engine = try PatchEngine(
            backend: backend, policy: Self.effectivePolicy(configuration, boot: boot, logger: logger), bootID: boot.id,
            scanner: scanner, stateFile: StateFile(stateDirectory: configuration.stateDir), logger: logger)
        metrics = PatchMetrics(
            source: .init(status: { [engine] in await engine.status() }, patches: { [engine] in await engine.list() }),
            version: LivepatchDaemonVersion.current)
        server = VarlinkServer(
            socketPath: configuration.socket,
            interfaces: [(name: LivepatchInterface.name, description: LivepatchInterface.description)],
            vendor: "livepatchd", product: "livepatchd", version: LivepatchDaemonVersion.current,
            url: "https://github.com/livepatchd/livepatchd", handler: ControlService(engine: engine, metrics: metrics),
            logger: logger, listening: try Self.activationSocket(configuration, logger: logger))
    }

    /// The listening socket livepatchd.socket passed, or nil to bind `socket` here.
    static func activationSocket(_ configuration: Configuration, logger: Logger) throws -> CInt? {
        switch try SocketActivation.take(preferring: configuration.socket) {
        case .none:
            return nil
        case .listening(let fd, let path):
            if path == nil {
                logger.warning(
                    "the socket passed by the service manager is not bound to \(configuration.socket): clients that use the socket key's path will not reach this daemon; make ListenStream= in livepatchd.socket and the socket key name the same path"
                )
            }
            return fd
        }
    }

    struct StateDirectoryInUse: Error, CustomStringConvertible {
        var description: String
    }

    static func lockStateDirectory(_ configuration: Configuration) throws -> DirectoryLock {
        do {
            return try DirectoryLock(directory: configuration.stateDir, owner: "livepatchd pid \(getpid()), socket \(configuration.socket)")
        } catch .held(_, let owner) {
            throw StateDirectoryInUse(
                description: "the state directory \(configuration.stateDir) is in use by \(owner.isEmpty ? "another livepatchd" : owner); "
                    + "stop that one first, or give this one its own state_dir")
        }
    }

    static func makeBackend(_ configuration: Configuration) throws -> any PatchBackend {
        let backend: any PatchBackend =
            switch configuration.backend {
            case .simulated:
                try SimulatedKernel(
                    root: configuration.simulatedRoot, release: configuration.simulatedKernel ?? runningKernelRelease())
            case .kernel:
                KernelBackend()
            }
        return Failpoint.isActive ? FailpointBackend(wrapped: backend) : backend
    }

    /// The configured policy, with what only this host and this boot know: the machine id the
    /// rollout waves derive from, and the boot kill switch (`livepatchd.apply=off` on the kernel
    /// command line wins over the config).
    static func effectivePolicy(_ configuration: Configuration, boot: BootInfo, logger: Logger) -> Policy {
        var policy = configuration.policy
        if boot.applyOff {
            policy.apply = .off
            policy.applyOffSource = "livepatchd.apply=off on the kernel command line"
        } else if policy.apply == .off {
            policy.applyOffSource = "apply = \"off\" in the configuration"
        }
        if policy.rollout.waves > 1 && policy.rollout.pinnedWave == nil {
            let file = configuration.machineIDFile
            let text = (try? SafeFile.read(path: file, limit: 4096)).map { String(decoding: $0, as: UTF8.self) }
            let id = text.map { String($0.trimmed) } ?? ""
            if id.isEmpty {
                logger.warning(
                    "cannot read a machine id from \(file): this host takes the last rollout wave for every patch; set machine_id_file, or pin rollout_wave")
            } else {
                policy.rollout.machineID = id
            }
        }
        return policy
    }

    static func makeVerifier(_ configuration: Configuration, logger: Logger) throws -> BundleVerifier {
        let keys = try trustedKeys(in: configuration.keysDir, logger: logger)
        if keys.isEmpty && configuration.policy.requireSignature {
            logger.warning(
                "no trusted keys in \(configuration.keysDir): every signed patch will be rejected; add a key with lpbundle keygen")
        }
        return BundleVerifier(patchDirectory: configuration.patchDir, keys: keys, policy: configuration.policy)
    }

    /// A missing key directory means no keys; an unreadable one is an error.
    static func trustedKeys(in directory: String, logger: Logger) throws -> TrustedKeys {
        guard FileManager.default.fileExists(atPath: directory) else { return TrustedKeys() }
        let loaded = try KeyDirectory.load(directory)
        for problem in loaded.problems { logger.warning("skipping a trusted key: \(problem)") }
        return loaded.keys
    }

    /// A daemon killed mid-write leaves its temporary files (a staged module can be as large as
    /// `max_module_size`); nothing else writes there, so at start they are only litter.
    private func removeLeftoverFiles() {
        do {
            let stateDirectory = configuration.stateDir
            let removed =
                try StateFile(stateDirectory: stateDirectory).removeLeftovers()
                + PatchStore(stateDirectory: stateDirectory).removeLeftovers()
            if !removed.isEmpty {
                logger.notice("removed \(removed.count) temporary file(s) an earlier run left: \(removed.joined(separator: ", "))")
            }
        } catch {
            logger.warning("cannot remove temporary files an earlier run left: \(error)")
        }
    }

    /// One descriptor per control-socket connection, plus the daemon's own files.
    private func raiseOpenFileLimit() {
        let wanted = UInt(server.limits.maxConnections) + 256
        do {
            let limit = try OpenFileLimit.raise(to: wanted)
            if limit < wanted {
                logger.warning(
                    "the open file limit is \(limit), below the \(wanted) the control socket may need; raise LimitNOFILE= in the unit")
            }
        } catch {
            logger.warning("cannot raise the open file limit: \(error)")
        }
    }

    public func run() async throws {
        logger.event(
            .started, "livepatchd \(LivepatchDaemonVersion.current) starting, backend \(configuration.backend.rawValue)",
            metadata: [LivepatchField.kernel: "\(backend.release)"])
        do { try await serve() } catch is CancellationError {}
    }

    private func serve() async throws {
        await scanner.prepareDirectory(logger: logger)
        raiseOpenFileLimit()
        removeLeftoverFiles()
        await engine.onStatusChange { [notifier, logger] line in
            do { try notifier.notify(.status(line)) } catch { logger.debug("sd_notify: \(error)") }
        }
        // Before the engine runs, so the metrics count the changes of its first scan too.
        let changes = await engine.subscribe(buffering: .unbounded)
        await metrics.recall(await engine.history())
        let metricsFile = configuration.metricsFile.map { MetricsFile(path: $0, metrics: metrics, logger: logger) }
        try await withThrowingDiscardingTaskGroup { group in
            // Signals first: SIGTERM and SIGHUP work even while the start below waits on the kernel.
            group.addTask {
                try? await gracefulShutdown()
                self.logger.event(.stopping, "stopping")
                _ = try? self.notifier.notify(.stopping)
                await self.engine.stop()
                // The server drains on the same signal: calls already made are answered first.
                await self.server.waitUntilClosed()
                throw CancellationError()
            }
            group.addTask { await self.handleReloads() }
            if let interval = self.notifier.watchdogInterval() {
                group.addTask { await self.pingWatchdog(every: interval / 2) }
            }
            group.addTask { await self.metrics.follow(changes) { metricsFile?.changed() } }
            if let metricsFile { group.addTask { await metricsFile.run() } }
            group.addTask { try await self.server.run() }
            try await self.server.waitUntilBound()
            group.addTask { await self.watchPatchDirectory() }
            group.addTask {
                await self.engine.run { await self.ready() }
            }
        }
    }

    /// READY=1: the kernel and the patch directory are read and desired patches re-applied.
    private func ready() async {
        guard !Task.isCancelled else { return }
        do { try notifier.notify(.ready) } catch { logger.error("sd_notify READY=1: \(error)") }
        let status = await engine.status()
        logger.event(.ready, "ready: \(status.summary)")
        if let reason = status.kernel.unsupportedReason {
            logger.event(.kernelUnsupported, "\(reason): patches are verified and staged, nothing is applied", level: .warning)
        }
    }

    /// Rescans on every change in the patch directory. If the directory goes away (deleted,
    /// moved), it is created again and watched again: the daemon never silently stops watching.
    private func watchPatchDirectory() async {
        let directory = configuration.patchDir
        while !Task.isCancelled {
            do {
                let watcher = try DirectoryWatcher(path: directory)
                // Catch up on whatever happened while nothing was watching.
                await engine.directoryChanged()
                await withTaskCancellationHandler {
                    for await _ in watcher.changes { await engine.directoryChanged() }
                } onCancel: {
                    watcher.stop()
                }
            } catch {
                logger.error("cannot watch the patch directory \(directory): \(error)")
            }
            if Task.isCancelled { return }
            logger.warning("the patch directory \(directory) went away; creating it and watching it again")
            await scanner.prepareDirectory(logger: logger)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// SIGHUP: read the configuration again; the policy and the trusted keys take effect at once,
    /// paths and the backend need a restart.
    private func handleReloads() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            _ = try? notifier.notify(.reloading)
            do {
                let fresh = try ConfigLoader.load(configPath: configPath, overrides: overrides)
                await scanner.update(verifier: try Self.makeVerifier(fresh, logger: logger))
                await engine.update(policy: Self.effectivePolicy(fresh, boot: boot, logger: logger))
                if fresh.patchDir != configuration.patchDir || fresh.stateDir != configuration.stateDir
                    || fresh.socket != configuration.socket || fresh.backend != configuration.backend
                {
                    logger.warning("paths and the backend changed in the configuration: they take effect after a restart")
                }
                _ = await engine.rescan()
                logger.event(.reloaded, "configuration reloaded")
            } catch {
                logger.event(.configError, "reload failed, keeping the running configuration: \(error)", level: .error)
            }
            _ = try? notifier.notify(.ready, .status(await engine.status().summary))
        }
    }

    private func pingWatchdog(every interval: Duration) async {
        while !Task.isCancelled {
            // Pinging from the engine's executor proves the engine still answers.
            _ = await engine.status()
            _ = try? notifier.notify(.watchdog)
            try? await Task.sleep(for: interval)
        }
    }
}

extension Configuration.LogLevel {
    public var loggerLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}
