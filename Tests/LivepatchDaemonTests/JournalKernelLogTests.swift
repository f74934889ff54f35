import Foundation
import LivepatchCore
import LivepatchSystem
import Testing

@testable import LivepatchDaemon

private let helperVariable = "LIVEPATCHD_TEST_KERNEL_LOG_RUN"

/// Proves the journal side of "the kernel's own words" against a real systemd-journald: this test
/// binary runs again inside scripts/with-journald.sh, filtered to the helper below. A test cannot
/// make journald store a line with `_TRANSPORT=kernel` (journald sets that itself, from
/// /dev/kmsg), so the helper logs stand-in kernel lines with a field of its own and reads them
/// back through a JournalKernelLog matching that field; the VM tier proves `_TRANSPORT=kernel`.
@Suite struct JournalKernelLogJournaldTests {
    @Test(.enabled(if: getuid() == 0, "needs root (a private mount namespace)"), .requires(.journald))
    func readsTheLinesOfTheMomentBack() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/with-journald.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            "--testing-library", "swift-testing", "--filter", "JournalKernelLogJournaldHelper",
        ]
        let run = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        process.environment = ProcessInfo.processInfo.environment.merging([helperVariable: run]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the helper inside with-journald.sh failed:\n\(output)")
        // The helper's tests ran there, none skipped.
        for test in ["onlyTheMomentAndOnlyThePatch", "waitsForLinesStillOnTheirWay", "nothingSaidEndsAfterThePatience"] {
            #expect(output.contains("Test \(test)() passed"), "\(test) did not pass inside with-journald.sh:\n\(output)")
        }
    }
}

/// Runs only inside the process started by `readsTheLinesOfTheMomentBack`.
@Suite(.serialized) struct JournalKernelLogJournaldHelper {
    static var run: String? { ProcessInfo.processInfo.environment[helperVariable] }

    /// Logs `text` as the kernel would: a MESSAGE with the kernel's PRIORITY, and this run's field.
    static func kernelLine(_ text: String, priority: Int, run: String) throws {
        try JournalWriter.send([("MESSAGE", text), ("PRIORITY", String(priority)), ("LIVEPATCHD_TEST_KERNEL_RUN", run)])
    }

    static func log(_ run: String, patience: Duration = .seconds(10)) -> JournalKernelLog {
        JournalKernelLog(patience: patience, quiet: .milliseconds(250), matches: ["LIVEPATCHD_TEST_KERNEL_RUN=\(run)"])
    }

    @Test(.enabled(if: run != nil, "inside with-journald.sh only"))
    func onlyTheMomentAndOnlyThePatch() async throws {
        let run = try #require(Self.run) + "a"
        try Self.kernelLine("lp_a: Unknown symbol from_before (err -2)", priority: 4, run: run)
        // journald stamps an entry when it receives it: let the line from before reach it first.
        _ = await Self.log(run).lines(about: "lp_a", since: 0)
        let log = Self.log(run)
        let mark = log.mark()
        try Self.kernelLine("lp_a: Unknown symbol lp_gone (err -2)", priority: 4, run: run)
        try Self.kernelLine("lp_b: Unknown symbol lp_gone (err -2)", priority: 4, run: run)
        try Self.kernelLine("lp_a: pre_patch_callback: vmlinux", priority: 6, run: run)
        try Self.kernelLine("livepatch: symbol 'lp_gone2' not found in symbol table", priority: 3, run: run)
        #expect(
            await log.lines(about: "lp_a", since: mark) == [
                "lp_a: Unknown symbol lp_gone (err -2)", "livepatch: symbol 'lp_gone2' not found in symbol table",
            ])
    }

    @Test(.enabled(if: run != nil, "inside with-journald.sh only"))
    func waitsForLinesStillOnTheirWay() async throws {
        let run = try #require(Self.run) + "b"
        let log = Self.log(run)
        let mark = log.mark()
        // journald reads /dev/kmsg on its own schedule: the refusal arrives after the call returned.
        let late = Task {
            try await Task.sleep(for: .milliseconds(700))
            try Self.kernelLine("livepatch: Livepatch patch (lp_c) is not compatible with the already installed livepatches.", priority: 3, run: run)
        }
        let said = await log.lines(about: "lp_c", since: mark)
        try await late.value
        #expect(said == ["livepatch: Livepatch patch (lp_c) is not compatible with the already installed livepatches."])
    }

    @Test(.enabled(if: run != nil, "inside with-journald.sh only"))
    func nothingSaidEndsAfterThePatience() async throws {
        let run = try #require(Self.run) + "c"
        let log = Self.log(run, patience: .milliseconds(500))
        let started = ContinuousClock.now
        #expect(await log.lines(about: "lp_d", since: log.mark()) == [])
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
