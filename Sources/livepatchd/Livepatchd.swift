import ArgumentParser
import FoundationEssentials
import Glibc
import LivepatchDaemon
import LivepatchSystem
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct Livepatchd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livepatchd",
        abstract: "Verify, stage and apply Linux kernel livepatch modules, unattended.",
        discussion: """
            livepatchd watches a patch directory for bundles (NAME.json, NAME.json.sig and the \
            module), verifies each one (signature, sha256, modinfo, kernel release), copies it into \
            its store and applies it through the kernel's livepatch facility, following the policy in \
            its configuration. It runs as a systemd service (Type=notify) and answers lpclient on a \
            Varlink socket.

            Under systemd the control socket belongs to livepatchd.socket, which passes it at \
            start (sd_listen_fds): clients that call during a restart wait for the next daemon. \
            Started any other way, livepatchd binds the socket itself. With metrics_file set it \
            keeps a Prometheus text exposition there for node_exporter (lpclient metrics prints it).

            Configuration: /etc/livepatchd/livepatchd.toml and its livepatchd.toml.d/*.toml drop-ins; \
            the flags below override both. Check a configuration without starting:
              livepatchd --config /etc/livepatchd/livepatchd.toml --check-config

            Run unprivileged on the simulated kernel, everything in one directory:
              livepatchd --backend simulated --simulated-root /tmp/lp/kernel \\
                --patch-dir /tmp/lp/incoming --state-dir /tmp/lp/state \\
                --socket /tmp/lp/io.livepatchd --keys-dir /tmp/lp/keys
            """)

    @Option(name: .long, help: ArgumentHelp("Configuration file (its .d/ drop-ins are read too).", valueName: "file"))
    var config: String?

    @Flag(name: .long, help: "Print the effective configuration, or the first error with file, line and key, and exit.")
    var checkConfig = false

    @Option(help: ArgumentHelp("kernel or simulated.", valueName: "kind")) var backend: String?
    @Option(help: ArgumentHelp("Directory holding the simulated kernel's state.", valueName: "dir")) var simulatedRoot: String?
    @Option(help: ArgumentHelp("Release the simulated kernel reports (default: uname -r).", valueName: "release"))
    var simulatedKernel: String?
    @Option(help: ArgumentHelp("Directory watched for patch bundles.", valueName: "dir")) var patchDir: String?
    @Option(help: ArgumentHelp("Directory for the store and the state file.", valueName: "dir")) var stateDir: String?
    @Option(help: ArgumentHelp("Path of the Varlink control socket.", valueName: "path")) var socket: String?
    @Option(help: ArgumentHelp("Directory of trusted *.pub keys.", valueName: "dir")) var keysDir: String?
    @Option(help: ArgumentHelp("auto, manual or off (verify and report, apply nothing).", valueName: "mode")) var apply: String?
    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    func run() async throws {
        let overrides = ConfigOverrides(
            backend: backend, simulatedRoot: simulatedRoot, simulatedKernel: simulatedKernel, patchDir: patchDir,
            stateDir: stateDir, socket: socket, keysDir: keysDir, logLevel: logLevel, apply: apply)
        let configuration: Configuration
        do {
            configuration = try ConfigLoader.load(configPath: config, overrides: overrides)
        } catch {
            StandardError.write("livepatchd: \(error)\n")
            throw ExitCode(78)  // EX_CONFIG
        }
        if checkConfig {
            print(configuration.renderTOML(), terminator: "")
            return
        }

        LoggingSetup.bootstrap(level: configuration.logLevel.loggerLevel)
        let logger = Logger(label: "livepatchd")
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: configuration, configPath: config, overrides: overrides, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: daemon)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
