// One file, compiled into each test target that needs it (the targets hold symlinks to it):
// a library target importing Testing would break `swift build --static-swift-stdlib`, which
// builds every non-test target and has no static Testing module.
import Foundation
import Testing

/// Something on the machine that a test needs and that `scripts/test.sh` installs or provides
/// (scripts/install-deps.sh, scripts/varlink-venv.sh).
///
/// Where it is missing, the test is skipped with a comment that says how to get it, so a
/// developer's plain `swift test` still works. Under CI (`CI=true`) a missing dependency is a
/// failure instead: a test that silently skips on a clean machine is a test CI never runs.
struct TestDependency: Sendable {
    let name: String
    /// How to get it: the skip comment and the failure both say it.
    let remedy: String
    let isAvailable: Bool

    /// systemd-journald, journalctl and unshare: a real private journal (scripts/with-journald.sh).
    static let journald = TestDependency(
        name: "systemd-journald, journalctl and unshare",
        remedy: "apt-get install systemd util-linux (scripts/install-deps.sh does)",
        isAvailable: ["/lib/systemd/systemd-journald", "/usr/bin/journalctl", "/usr/bin/unshare"]
            .allSatisfy(FileManager.default.isExecutableFile(atPath:)))

    /// The interpreter `scripts/test.sh` passes in `LIVEPATCHD_VARLINK_PYTHON`: a venv with the
    /// PyPI `varlink` package, a generic Varlink client written by others.
    static let varlinkPythonVariable = "LIVEPATCHD_VARLINK_PYTHON"
    static var varlinkPython: String? { ProcessInfo.processInfo.environment[varlinkPythonVariable] }

    static let pythonVarlink = TestDependency(
        name: "a Python with the PyPI varlink package in \(varlinkPythonVariable)",
        remedy: "run the tests with scripts/test.sh, or export \(varlinkPythonVariable)=$(scripts/varlink-venv.sh)",
        isAvailable: varlinkPython.map { canRun($0, ["-c", "import varlink.cli"]) } ?? false)

    /// Debian's prometheus-node-exporter, run by the test itself on 127.0.0.1 (its service,
    /// where one runs, is left alone).
    static let nodeExporter = TestDependency(
        name: "prometheus-node-exporter",
        remedy: "apt-get install prometheus-node-exporter (scripts/install-deps.sh does)",
        isAvailable: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-node-exporter"))

    /// CI's environment says `CI=true`; so do the README's test command and the fresh-machine check.
    static var missingIsFailure: Bool {
        ["true", "1", "yes"].contains(ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? "")
    }

    private static func canRun(_ executable: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

struct MissingTestDependency: Error, CustomStringConvertible {
    let dependency: TestDependency
    var description: String {
        "missing dependency under CI: \(dependency.name); \(dependency.remedy)"
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where `dependency` is present; skips it where it is missing, or fails it
    /// under CI. Put conditions that are not dependencies (such as running as root) before it.
    static func requires(_ dependency: TestDependency) -> Self {
        .enabled(Comment(rawValue: "needs \(dependency.name): \(dependency.remedy)")) {
            if dependency.isAvailable { return true }
            if TestDependency.missingIsFailure { throw MissingTestDependency(dependency: dependency) }
            return false
        }
    }
}
