import Foundation
import LivepatchAPI
import Testing

/// Files and directories the daemon creates have the modes it chose, whatever the umask it was
/// started with (DESIGN.md "Files"; the choices are in Tests/HostileCorpus/README.md):
/// directories 0755, the store's copies 0644, state.json 0600 (it names what is applied, the
/// reason texts, history: root's business), the socket 0666 (reading is open to every user,
/// mutating calls check the peer's uid).
@Suite("File modes", .serialized, .timeLimit(.minutes(5)))
struct FileModeScenarioTests {
    @Test("whatever the umask, every file and directory the daemon creates gets its mode", arguments: ["0000", "0077"])
    func modes(umask mask: String) async throws {
        let sandbox = try Sandbox()
        // Paths whose parents do not exist yet: the daemon creates the whole chain.
        let fresh = "\(sandbox.root)/fresh"
        let patchDir = "\(fresh)/spool/incoming", stateDir = "\(fresh)/lib/livepatchd"
        try sandbox.writeConfig(["patch_dir": "\"\(patchDir)\"", "state_dir": "\"\(stateDir)\""])
        let daemon = try await sandbox.startDaemon(wrapper: ["/bin/sh", "-c", "umask \(mask) && exec \"$0\" \"$@\""])
        #expect(try sandbox.lpclient("status").status == 0)
        let umask = HostKernel.read("/proc/\(daemon.pid)/status")?.split(separator: "\n").first { $0.hasPrefix("Umask:") }
        #expect(umask?.hasSuffix(mask) == true, "the daemon must really run with umask \(mask): \(umask ?? "?")")

        let bundle = try sandbox.bundle("moded")
        for file in bundle.all {
            let target = "\(patchDir)/\(URL(fileURLWithPath: file).lastPathComponent)"
            try FileManager.default.copyItem(atPath: file, toPath: target)
        }
        let applied = try await sandbox.waitFor("moded", .applied)

        var expected: [String: mode_t] = [
            fresh: 0o755, "\(fresh)/spool": 0o755, patchDir: 0o755,
            "\(fresh)/lib": 0o755, stateDir: 0o755, "\(stateDir)/state.json": 0o600,
            "\(stateDir)/store": 0o755, "\(stateDir)/store/\(applied.sha256)": 0o755,
            sandbox.socket: 0o666,
            // The simulated kernel's state stands for kernel state: only its owner may change it.
            sandbox.kernel: 0o755, "\(sandbox.kernel)/modules": 0o755, "\(sandbox.kernel)/inject": 0o755,
            "\(sandbox.kernel)/modules/moded.json": 0o644, "\(sandbox.kernel)/load.log": 0o644,
        ]
        for file in ["moded.ko", "moded.json", "moded.json.sig"] {
            expected["\(stateDir)/store/\(applied.sha256)/\(file)"] = 0o644
        }
        var wrong: [String] = []
        for (path, mode) in expected.sorted(by: { $0.key < $1.key }) {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                wrong.append("\(path): missing")
                continue
            }
            let actual = info.st_mode & 0o7777
            print("file modes: umask \(mask): \(String(actual, radix: 8)) \(path.replacingOccurrences(of: sandbox.root, with: "$SANDBOX"))")
            if actual != mode { wrong.append("\(path): \(String(actual, radix: 8)), want \(String(mode, radix: 8))") }
        }
        #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")
        // No temporary file is left behind in the state directory or the store.
        let leftovers = temporaryFiles(under: stateDir)
        #expect(leftovers.isEmpty, "\(leftovers)")

        // Non-root users read, and are refused when they try to change anything.
        #expect(try sandbox.lpclient("status", asNobody: true).status == 0)
        #expect(try sandbox.lpclient("revert", "moded", asNobody: true).status == 77)
        #expect(await daemon.stop() == 0)
    }
}
