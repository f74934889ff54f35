import Foundation
import LivepatchAPI
import Testing
import Varlink

/// The real kernel backend on a host whose kernel cannot live-patch (this machine kind has no
/// /sys/kernel/livepatch): the daemon still runs, verifies and stages, says why nothing is
/// applied, and reports what the host's /proc and /sys say.
@Suite(
    "Kernel without livepatch support", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: !HostKernel.hasLivepatch, "this host has /sys/kernel/livepatch: the kernel backend would really apply"))
struct KernelSupportScenarioTests {
    /// The kernel backend reads the host; the simulated_* keys Sandbox writes are unused with
    /// it (checked below: the release is the host's, not the simulated one).
    static let settings = ["backend": "\"kernel\""]

    static func flag(_ text: String?) -> Bool? {
        switch text {
        case "1", "Y", "y": true
        case "0", "N", "n": false
        default: nil
        }
    }

    /// `[none] integrity confidentiality` → `none`.
    static func selected(_ text: String?) -> String? {
        guard let text, let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    @Test("GetStatus and STATUS= report the host kernel as it is and why nothing can be applied")
    func report() async throws {
        let release = try #require(HostKernel.release)
        let sandbox = try Sandbox(Self.settings)
        try await sandbox.start()

        let status = try sandbox.call(.getStatus, as: Status.self)
        #expect(status.backend == "kernel")
        #expect(status.kernel.livepatch == false)
        #expect(status.kernel.release == release)
        #expect(status.kernel.simulated == false)
        #expect(status.kernel.ftrace == Self.flag(HostKernel.read("/proc/sys/kernel/ftrace_enabled")))
        #expect(status.kernel.lockdown == Self.selected(HostKernel.read("/sys/kernel/security/lockdown")))
        #expect(
            status.kernel.signatureEnforced == Self.flag(HostKernel.read("/sys/module/module/parameters/sig_enforce")))
        #expect(status.kernel.taint == HostKernel.read("/proc/sys/kernel/tainted").flatMap { Int($0) })
        #expect(status.summary.contains("nothing can be applied"), "\(status.summary)")

        let line: String = try await eventually("a STATUS= line saying nothing can be applied") {
            let lines = sandbox.notify.received.flatMap { $0.split(separator: "\n") }.filter { $0.hasPrefix("STATUS=") }
            return (lines.last?.contains("nothing can be applied") == true, lines.last.map(String.init) ?? "no STATUS= yet")
        }
        #expect(line.contains(release), "\(line)")
        #expect(line.contains("/sys/kernel/livepatch"), "\(line)")
        #expect(sandbox.log.contains("nothing is applied"), "the warning at start-up; log:\n\(sandbox.log.suffix(3000))")

        let text = try sandbox.lpclient("status")
        // Not degraded: DESIGN.md counts only failed, rejected and overdue patches, and there are none.
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("Livepatch: no"), "\(text)")
        #expect(text.stdout.contains("Cannot apply: kernel \(release) has no livepatch support"), "\(text)")
        #expect(text.stdout.contains("Kernel: \(release)\n"), "not marked simulated: \(text)")
        #expect(text.stdout.contains("Backend: kernel"), "\(text)")
    }

    @Test("a bundle for the running kernel is verified and staged, never applied; lpclient apply says why")
    func stagedNeverApplied() async throws {
        let release = try #require(HostKernel.release)
        let sandbox = try Sandbox(Self.settings)
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("host_fix", release: release))
        // Made for the simulated release Sandbox writes in the config: proves the daemon
        // compares with the host's release, not with the unused simulated_kernel key.
        try sandbox.drop(try sandbox.bundle("sim_fix", release: Sandbox.release))
        let staged = try await sandbox.waitFor("host_fix", .staged)
        #expect(staged.kernels == [release])
        let other = try await sandbox.waitFor("sim_fix", .staged)
        #expect(other.reason?.contains(Sandbox.release) == true, "\(other.reason ?? "no reason")")

        let apply = try sandbox.lpclient("apply", "host_fix")
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stderr.contains("not supported"), "\(apply)")
        #expect(apply.stderr.contains("no livepatch support"), "\(apply)")
        #expect {
            _ = try sandbox.call(.apply, ["name": "host_fix"], as: PatchReply.self)
        } throws: { error in
            guard case .remote(let name, let parameters) = error as? VarlinkClientError else { return false }
            return name == "io.livepatchd.NotSupported"
                && parameters["reason"]?.stringValue?.contains("/sys/kernel/livepatch is missing") == true
        }

        // After two refused applies and a rescan the worker has had every chance to apply it.
        #expect(try sandbox.lpclient("rescan").status == 0)
        #expect(try sandbox.patch("host_fix")?.state == .staged)
        let history = try sandbox.call(.getHistory, as: HistoryReply.self).entries
        #expect(!history.contains { $0.state == .applying || $0.state == .applied }, "\(history)")
        let status = try sandbox.call(.getStatus, as: Status.self)
        #expect(status.counts == ["staged": 2], "\(status.counts)")
        let list = try sandbox.lpclient("list")
        #expect(list.stdout.contains("host_fix") && list.stdout.contains("staged"), "\(list)")
    }
}
