import Foundation
import LivepatchAPI
import LivepatchCore
import Varlink

/// One daemon on the simulated kernel in a temporary directory, as an operator would run it:
/// real binaries, a config file, a notify socket, bundles made with the real tools.
final class Sandbox: @unchecked Sendable {
    static let release = "6.1.0-sim-amd64"

    let root: String
    var incoming: String { "\(root)/incoming" }
    var staging: String { "\(root)/staging" }
    var kernel: String { "\(root)/kernel" }
    var state: String { "\(root)/state" }
    var keys: String { "\(root)/keys" }
    var socket: String { "\(root)/io.livepatchd" }
    var configFile: String { "\(root)/livepatchd.toml" }
    var logFile: String { "\(root)/livepatchd.log" }
    let notify: NotifyReceiver
    private(set) var daemon: Process?
    let signingKey: SigningKey

    /// `settings` are extra config lines, e.g. `["apply": "\"manual\""]`.
    init(_ settings: [String: String] = [:]) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lp-it-\(UUID().uuidString.prefix(8))").path
        let keys = "\(root)/keys"
        self.root = root
        for directory in [root, "\(root)/staging", keys] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // Everyone may traverse: some tests run lpclient as nobody.
        chmod(root, 0o755)
        notify = try NotifyReceiver(path: "\(root)/notify")
        let keygen = try run(Binaries.path("lpbundle"), ["keygen", "--name", "test", "--out", keys])
        guard keygen.status == 0 else { throw TimeoutError(description: "lpbundle keygen: \(keygen)") }
        signingKey = try SigningKey(fileContents: Array(try Data(contentsOf: URL(fileURLWithPath: "\(keys)/test.key"))))
        try writeConfig(settings)
    }

    deinit {
        if let daemon, daemon.isRunning {
            daemon.send(SIGKILL)
            daemon.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    func writeConfig(_ settings: [String: String]) throws {
        var values: [String: String] = [
            "backend": "\"simulated\"", "simulated_root": "\"\(kernel)\"", "simulated_kernel": "\"\(Self.release)\"",
            "patch_dir": "\"\(incoming)\"", "state_dir": "\"\(state)\"", "socket": "\"\(socket)\"",
            "keys_dir": "\"\(keys)\"", "settle_timeout": "\"10s\"", "transition_timeout": "\"10s\"",
            "log_level": "\"debug\"",
        ]
        values.merge(settings) { $1 }
        let text = values.keys.sorted().map { "\($0) = \(values[$0]!)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    // MARK: - The daemon

    /// Starts livepatchd and waits for READY=1 on the notify socket.
    func start() async throws {
        let before = notify.received.count
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("livepatchd"))
        process.arguments = ["--config", configFile]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["LIVEPATCHD_LOG"] = "stderr"
        process.environment = environment
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        daemon = process
        do {
            try await notify.waitFor("READY=1", after: before, timeout: .seconds(60))
        } catch {
            throw TimeoutError(description: "\(error)\ndaemon log:\n\(self.log)")
        }
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait: a graceful stop.
    func stop() {
        guard let daemon else { return }
        daemon.terminate()
        daemon.waitUntilExit()
        self.daemon = nil
    }

    /// SIGKILL: a crash at an arbitrary point.
    func crash() {
        guard let daemon else { return }
        daemon.send(SIGKILL)
        daemon.waitUntilExit()
        self.daemon = nil
    }

    func signal(_ signal: Int32) {
        daemon?.send(signal)
    }

    // MARK: - Clients

    func lpclient(_ arguments: String..., asNobody: Bool = false) throws -> ProcessResult {
        let prefix = asNobody ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] : []
        // Options follow the subcommand (ArgumentParser does not pass them down from the root).
        return try run(Binaries.path("lpclient"), arguments + ["--socket", socket], prefix: prefix)
    }

    func call<Reply: Decodable>(_ method: LivepatchInterface.Method, _ parameters: [String: JSONValue] = [:], as: Reply.Type)
        throws -> Reply
    {
        // Bounded: a daemon that is not there (a socket held across a restart) must not hold a
        // cooperative thread for good.
        let client = try VarlinkClient(socketPath: socket, timeout: .seconds(120))
        defer { client.close() }
        let reply: VarlinkReply
        do {
            reply = try client.call(method.qualifiedName, parameters: parameters)
        } catch {
            guard case .timedOut = error, let daemon else { throw error }
            // The test fails either way; whether another connection is answered tells a daemon
            // that is stuck as a whole from one reply that went missing.
            let clock = ContinuousClock()
            let started = clock.now
            let again = Result { try VarlinkClient(socketPath: socket, timeout: .seconds(10)).call(method.qualifiedName, parameters: parameters) }
            let second = switch again {
            case .success: "the same call on a new connection was answered in \(clock.now - started)"
            case .failure(let error): "the same call on a new connection failed too: \(error)"
            }
            throw TimeoutError(
                description: "\(method.rawValue): \(error); \(second)\n\(ThreadReport.of(pid: daemon.processIdentifier))")
        }
        return try JSONValue.decode(Reply.self, from: reply.parameters, with: LivepatchInterface.makeDecoder())
    }

    func patches() throws -> [Patch] { try call(.listPatches, as: PatchListReply.self).patches }

    func patch(_ name: String) throws -> Patch? { try patches().first { $0.name == name } }

    /// Waits until `name` is in `state`; fails with what was seen and the daemon's log.
    @discardableResult
    func waitFor(_ name: String, _ state: PatchState, timeout: Duration = .seconds(60)) async throws -> Patch {
        do {
            let patch: Patch? = try await eventually("\(name) to be \(state.rawValue)", timeout: timeout) {
                let patch = try self.patch(name)
                return (patch?.state == state, patch)
            }
            return patch!
        } catch {
            throw TimeoutError(description: "\(error)\ndaemon log (tail):\n\(log.suffix(4000))")
        }
    }

    // MARK: - The simulated kernel

    /// Module names the simulated kernel has loaded.
    var loadedModules: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(kernel)/modules")) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Every successful load the simulated kernel performed, in order.
    var loadLog: [String] {
        ((try? String(contentsOfFile: "\(kernel)/load.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func inject(_ file: String, _ contents: String) throws {
        try FileManager.default.createDirectory(atPath: "\(kernel)/inject", withIntermediateDirectories: true)
        try contents.write(toFile: "\(kernel)/inject/\(file)", atomically: true, encoding: .utf8)
    }
}
