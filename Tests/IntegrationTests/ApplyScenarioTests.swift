import Foundation
import LivepatchAPI
import Testing
import Varlink

/// Bundles arriving in the patch directory, end to end through the real binaries.
@Suite("Applying bundles", .serialized, .timeLimit(.minutes(5)))
struct ApplyScenarioTests {
    @Test("the three files of a bundle dropped in every order end applied, each loaded once")
    func everyOrder() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let orders: [[Int]] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        for (index, order) in orders.enumerated() {
            let bundle = try sandbox.bundle("order_\(index)", functions: ["vmlinux:order_\(index)"])
            for part in order {
                try sandbox.drop([bundle.all[part]])
                // Let the daemon see the partial bundle, as a slow copy would show it.
                _ = try sandbox.patches()
            }
        }
        for index in orders.indices { try await sandbox.waitFor("order_\(index)", .applied) }
        #expect(sandbox.loadedModules == orders.indices.map { "order_\($0)" })
        #expect(sandbox.loadLog.sorted() == orders.indices.map { "order_\($0)" }, "each loaded exactly once")
        let history = try sandbox.call(.getHistory, as: HistoryReply.self).entries
        for index in orders.indices {
            #expect(history.filter { $0.name == "order_\(index)" && $0.state == .applied }.count == 1)
        }
    }

    @Test("lpclient status and list show an applied patch; status exits 0")
    func statusAfterApply() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("fix_one"))
        try await sandbox.waitFor("fix_one", .applied)
        let status = try sandbox.lpclient("status")
        #expect(status.status == 0, "\(status)")
        #expect(status.stdout.contains("1 applied"))
        #expect(status.stdout.contains(Sandbox.release))
        let list = try sandbox.lpclient("list")
        #expect(list.stdout.contains("fix_one"))
        #expect(list.stdout.contains("applied"))
        let json = try sandbox.lpclient("list", "--json")
        let decoded = try LivepatchInterface.makeDecoder().decode(PatchListReply.self, from: Data(json.stdout.utf8))
        #expect(decoded.patches.map(\.name) == ["fix_one"])
        #expect(decoded.patches.first?.fixes == ["CVE-2026-0001"])
        #expect(decoded.patches.first?.objects == [PatchObject(name: "vmlinux", patched: true)])
        #expect(try sandbox.lpclient("show", "fix_one").stdout.contains("vmlinux (patched)"))
    }

    @Test("a consistent bundle for another kernel release stays staged and is never loaded")
    func otherKernel() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("next_kernel", release: "6.1.0-99-amd64"))
        let patch = try await sandbox.waitFor("next_kernel", .staged)
        #expect(patch.reason?.contains("6.1.0-99-amd64") == true)
        // A canary for timing: a second patch applied after it proves the worker went past it.
        try sandbox.drop(try sandbox.bundle("this_kernel"))
        try await sandbox.waitFor("this_kernel", .applied)
        #expect(sandbox.loadedModules == ["this_kernel"])
        #expect(try sandbox.lpclient("status").status == 0)
        let apply = try sandbox.lpclient("apply", "next_kernel")
        #expect(apply.status != 0)
        #expect(apply.stderr.contains("6.1.0-99-amd64"), "\(apply)")
    }

    @Test("manual policy keeps a patch staged until lpclient apply")
    func manualPolicy() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("manual_fix"))
        try await sandbox.waitFor("manual_fix", .staged)
        #expect(sandbox.loadedModules.isEmpty)
        let apply = try sandbox.lpclient("apply", "manual_fix")
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("applying"))
        #expect(apply.stdout.contains("applied"))
        #expect(try sandbox.patch("manual_fix")?.state == .applied)
        #expect(sandbox.loadedModules == ["manual_fix"])
    }

    @Test("auto policy waits apply_delay before applying (canary rollouts)")
    func applyDelay() async throws {
        let sandbox = try Sandbox(["apply_delay": "\"2s\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("canary_delay"))
        let staged = try await sandbox.waitFor("canary_delay", .staged)
        #expect(sandbox.loadedModules.isEmpty)
        #expect(try sandbox.lpclient("status").status == 0, "staged on purpose is not degraded")
        let applied = try await sandbox.waitFor("canary_delay", .applied)
        let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let waited = try formatter.parse(applied.since).timeIntervalSince(try formatter.parse(staged.since))
        #expect(waited >= 2, "applied \(waited)s after it was staged")
    }

    @Test("lpclient revert takes the patch out and unloads the module")
    func revert() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("to_revert"))
        try await sandbox.waitFor("to_revert", .applied)
        let revert = try sandbox.lpclient("revert", "to_revert")
        #expect(revert.status == 0, "\(revert)")
        #expect(try sandbox.patch("to_revert")?.state == .reverted)
        #expect(sandbox.loadedModules.isEmpty)
        // Reverted by an operator: not applied again by the auto policy.
        try sandbox.drop(try sandbox.bundle("canary"))
        try await sandbox.waitFor("canary", .applied)
        #expect(try sandbox.patch("to_revert")?.state == .reverted)
    }

    @Test("a reverted patch whose bundle files are removed one by one stays reverted and applies from the store")
    func revertedThenFilesRemoved() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let bundle = try sandbox.bundle("removed_later")
        try sandbox.drop(bundle)
        try await sandbox.waitFor("removed_later", .applied)
        #expect(try sandbox.lpclient("revert", "removed_later").status == 0)
        // As `dpkg -r` or `rm` remove them: the signature and the module first, the manifest
        // last, so the daemon sees an incomplete bundle on the way (rescan reads it each time).
        for file in [bundle.signature, bundle.module, bundle.manifest] {
            try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/\(URL(fileURLWithPath: file).lastPathComponent)")
            #expect(try sandbox.lpclient("rescan").status == 0)
            let patch = try sandbox.patch("removed_later")
            #expect(patch?.state == .reverted, "after removing \(file): \(String(describing: patch))")
        }
        let apply = try sandbox.lpclient("apply", "removed_later")
        #expect(apply.status == 0, "\(apply)")
        #expect(try sandbox.patch("removed_later")?.state == .applied)
    }

    @Test("a new version of an applied patch waits for the old one to be reverted, then is applied")
    func upgrade() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("upgraded", version: "1"))
        try await sandbox.waitFor("upgraded", .applied)
        try sandbox.drop(try sandbox.bundle("upgraded", version: "2"))
        let waiting: Patch? = try await eventually("version 2 to be announced") {
            let patch = try sandbox.patch("upgraded")
            return (patch?.reason?.contains("version 2 arrived and waits") == true, patch)
        }
        #expect(waiting?.version == "1")
        let revert = try sandbox.lpclient("revert", "upgraded")
        #expect(revert.status == 0, "\(revert)")
        let applied = try await sandbox.waitFor("upgraded", .applied)
        #expect(applied.version == "2")
        #expect(sandbox.loadLog == ["upgraded", "upgraded"])
    }

    @Test("reverting a patch with another stacked on top is refused with InvalidState naming it")
    func stacking() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("stack_low", functions: ["vmlinux:shared_fn", "vmlinux:low_only"]))
        try await sandbox.waitFor("stack_low", .applied)
        try sandbox.drop(try sandbox.bundle("stack_high", functions: ["vmlinux:shared_fn"]))
        try await sandbox.waitFor("stack_high", .applied)
        let refused = try sandbox.lpclient("revert", "stack_low")
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("stack_high"), "\(refused)")
        #expect {
            _ = try sandbox.call(.revert, ["name": "stack_low"], as: PatchReply.self)
        } throws: { error in
            guard case .remote(let name, let parameters) = error as? VarlinkClientError else { return false }
            return name == "io.livepatchd.InvalidState" && parameters["reason"]?.stringValue?.contains("stack_high") == true
        }
        #expect(try sandbox.patch("stack_low")?.state == .applied)
        #expect(try sandbox.patch("stack_low")?.stackedBelow == ["stack_high"])
        // From the top down it works.
        #expect(try sandbox.lpclient("revert", "stack_high").status == 0)
        #expect(try sandbox.lpclient("revert", "stack_low").status == 0)
        #expect(sandbox.loadedModules.isEmpty)
    }

    @Test("a replace patch supersedes the others and their modules are unloaded")
    func replace() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("old_a", functions: ["vmlinux:a"]))
        try sandbox.drop(try sandbox.bundle("old_b", functions: ["vmlinux:b"]))
        try await sandbox.waitFor("old_a", .applied)
        try await sandbox.waitFor("old_b", .applied)
        try sandbox.drop(try sandbox.bundle("cumulative", functions: ["vmlinux:a", "vmlinux:b"], replace: true))
        try await sandbox.waitFor("cumulative", .applied)
        let a = try await sandbox.waitFor("old_a", .superseded)
        #expect(a.reason == "replaced by cumulative")
        try await sandbox.waitFor("old_b", .superseded)
        _ = try await eventually("superseded modules to be unloaded") {
            (sandbox.loadedModules == ["cumulative"], sandbox.loadedModules)
        }
        #expect(sandbox.log.contains("it will supersede old_a, old_b"))
    }
}
