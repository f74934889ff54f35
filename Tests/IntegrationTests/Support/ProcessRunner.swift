import Foundation

/// Where `swift build` put the binaries under test: next to the test bundle.
enum Binaries {
    static let directory: String = {
        if let explicit = ProcessInfo.processInfo.environment["LIVEPATCHD_BIN"] { return explicit }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        // On Linux the runner is `<bin>/livepatchdPackageTests.xctest`; be tolerant of a bundle layout too.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("livepatchd").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.path
    }()

    static func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// The repository root, for scripts.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}

extension Process {
    /// Sends `signal` unless the process is already reaped. A reaped child's PID soon belongs
    /// to some other process: pid_max is 32768 on these machines and one test run starts tens of
    /// thousands of processes, so a late `kill(pid)` hits a stranger (another test's daemon,
    /// or a shell of the test script). Before reaping, an exited child keeps its PID as a zombie.
    func send(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }
}

struct ProcessResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Runs a program to completion and collects its output (through files: no pipe can fill up).
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], prefix: [String] = [])
    throws -> ProcessResult
{
    let process = Process()
    let command = prefix + [executable] + arguments
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lp-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

struct TimeoutError: Error, CustomStringConvertible {
    var description: String
}

/// Polls `condition` until it holds; on timeout, fails with what was last seen.
func eventually<T>(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(25),
    _ condition: () async throws -> (done: Bool, seen: T)
) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var last: T?
    while clock.now < deadline {
        let (done, seen) = try await condition()
        if done { return seen }
        last = seen
        try await Task.sleep(for: interval)
    }
    throw TimeoutError(description: "timed out after \(timeout) waiting for \(what); last seen: \(String(describing: last))")
}

/// Runs `body` on a thread of its own. A test that blocks while waiting for something the test
/// process itself must do first (clear an injected fault, restart a daemon) would otherwise hold
/// one of the few cooperative threads, and with suites running in parallel, starve them all.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
