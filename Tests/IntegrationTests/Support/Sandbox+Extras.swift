import Foundation

/// A process a test started itself (a daemon with its own environment, or a wrapper around
/// one). Like the Sandbox's own daemon it is killed when released, so a failing test leaves
/// nothing running.
final class LaunchedProcess: @unchecked Sendable {
    let process: Process
    let logFile: String

    /// Starts `command` with exactly `environment`, stdout and stderr appended to `logFile`.
    init(_ command: [String], environment: [String: String], logFile: String) throws {
        guard let executable = command.first else { throw TimeoutError(description: "LaunchedProcess: empty command") }
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        self.logFile = logFile
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.send(SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// `signal` to the process, if it was not reaped yet (see ``Process/send(_:)``).
    func send(_ signal: Int32) { process.send(signal) }
    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits at most `timeout` for the exit; nil when it did not exit in time.
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) async -> Int32? {
        process.send(SIGTERM)
        return await waitForExit(timeout: timeout)
    }

    /// The exit status once the process has exited, or nil after `timeout`.
    func waitForExit(timeout: Duration) async -> Int32? {
        let exited = try? await eventually("process \(pid) to exit", timeout: timeout) {
            (!self.process.isRunning, self.process.isRunning)
        }
        guard exited != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension Sandbox {
    /// The environment `start()` gives the daemon, with `changes` applied: a nil value removes
    /// the variable. Variables a service manager sets are cleared first, so the test runner's
    /// own environment cannot leak a watchdog or a notify socket into the daemon.
    func daemonEnvironment(_ changes: [String: String?] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            environment[name] = nil
        }
        environment["NOTIFY_SOCKET"] = notify.path
        environment["LIVEPATCHD_LOG"] = "stderr"
        for (name, value) in changes { environment[name] = value }
        return environment
    }

    /// Starts livepatchd like `start()`, but with environment `changes` and optionally behind a
    /// `wrapper` (argv prefix, e.g. a shell that sets a variable and execs), and waits for
    /// READY=1. The caller owns the returned process; `stop()`/`crash()` do not see it.
    func startDaemon(environment changes: [String: String?] = [:], wrapper: [String] = []) async throws -> LaunchedProcess {
        let before = notify.received.count
        let daemon = try LaunchedProcess(
            wrapper + [Binaries.path("livepatchd"), "--config", configFile], environment: daemonEnvironment(changes),
            logFile: logFile)
        do {
            try await notify.waitFor("READY=1", after: before, timeout: .seconds(60))
        } catch {
            throw TimeoutError(description: "\(error)\ndaemon log:\n\(log)")
        }
        return daemon
    }

    /// How many datagrams so far carry exactly this `KEY=value` line.
    func notifications(_ line: String) -> Int {
        notify.received.filter { $0.split(separator: "\n").contains(Substring(line)) }.count
    }
}

/// Values the host's kernel reports, read the way an operator would `cat` them.
enum HostKernel {
    static var release: String? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static var hasLivepatch: Bool { FileManager.default.fileExists(atPath: "/sys/kernel/livepatch") }
}

/// Temporary files a daemon's writers leave only when killed mid-write (state file and store),
/// as paths relative to `directory`, sorted.
func temporaryFiles(under directory: String) -> [String] {
    let paths = (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []
    return paths.filter { path in
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name.hasPrefix(".tmp-") || name.hasPrefix("staging-")
    }.sorted()
}
