import Foundation
import LivepatchAPI
import Testing

/// Bugs the crash injection harness found, each pinned at the failpoint that showed it.
@Suite("Crash regressions", .timeLimit(.minutes(2)))
struct CrashRegressionTests {
    @Test("killed after saving a rollback, before disabling: the restarted daemon disables, unloads, records failed")
    func rollbackBeforeDisable() async throws {
        let sandbox = try Sandbox(["transition_timeout": "\"300ms\""])
        try sandbox.inject("stall", "stuck\n")
        let bundle = try sandbox.bundle("stuck")
        let daemon = try await sandbox.startDaemon(environment: ["LIVEPATCHD_FAILPOINT": "backend.disable.before"])
        try sandbox.drop(bundle)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) != nil, "the failpoint was not reached")
        #expect(daemon.process.terminationReason == .uncaughtSignal && daemon.process.terminationStatus == SIGKILL)

        // The kernel is still trying to enable the patch; nobody else will ever take it out.
        try await sandbox.start()
        let patch = try await sandbox.waitFor("stuck", .failed, timeout: .seconds(10))
        #expect(patch.reason?.contains("did not finish within") == true, "\(patch.reason ?? "")")
        #expect(!patch.desired)
        #expect(sandbox.loadedModules.isEmpty, "the rolled-back module is removed")
        #expect(sandbox.loadLog == ["stuck"], "loaded once, never again")
    }
}
