import Crypto
import Foundation
import LivepatchAPI
import Testing

/// The daemon's structured journal entries, read back with journalctl from a real
/// systemd-journald (scripts/with-journald.sh).
@Suite(
    "Journal entries", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: getuid() == 0, "needs root (scripts/with-journald.sh makes a private mount namespace)"),
    .requires(.journald))
struct JournalScenarioTests {
    @Test("applied, rejected, failed, started, ready and stopping entries carry their MESSAGE_ID and LIVEPATCH_* fields")
    func entries() async throws {
        let sandbox = try Sandbox()
        let good = try sandbox.bundle("journaled_fix", version: "7")
        let moduleHash = SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: good.module)))
            .map { String(format: "%02x", $0) }.joined()
        let bad = try sandbox.handmadeBundle(
            "journal_rejected", module: try sandbox.module("jr.ko", name: "journal_rejected", functions: ["vmlinux:jr"])
        ) { $0.sha256 = String(repeating: "0", count: 64) }

        // Refused with the kernel's words, and a line about another module logged with them.
        try sandbox.inject(
            "fail-load",
            """
            journal_refused ENOENT <4>journal_refused: Unknown symbol lp_gone (err -2)
            journal_refused ENOENT <4>journal_other: Unknown symbol lp_gone (err -2)
            journal_refused ENOENT <4>journal_refused: Unknown symbol lp_gone_too (err -2)

            """)
        let refused = try sandbox.bundle("journal_refused")

        let run = try await JournaldRun(sandbox)
        let history: [HistoryEntry]
        do {
            try sandbox.drop(good)
            try sandbox.drop(bad)
            try sandbox.drop(refused)
            try await sandbox.waitFor("journaled_fix", .applied)
            try await sandbox.waitFor("journal_rejected", .rejected)
            try await sandbox.waitFor("journal_refused", .failed)
            history = try sandbox.call(.getHistory, as: HistoryReply.self).entries
        } catch {
            let journal = try? await run.finish()
            throw TimeoutError(description: "\(error)\njournal:\n\(JournaldRun.messages(journal ?? []))\n\(run.log)")
        }
        let journal = try await run.finish()
        #expect(run.daemonStatus == 0, "livepatchd exit status after SIGTERM\n\(run.log)")

        let ours = journal.filter { $0["SYSLOG_IDENTIFIER"] == "livepatchd" }
        let context = JournaldRun.messages(journal)
        #expect(!ours.isEmpty, "no entry with SYSLOG_IDENTIFIER=livepatchd:\n\(context)")
        #expect(ours.allSatisfy { $0["_PID"] == run.daemonPID.map(String.init) }, "every entry comes from the daemon")
        func events(_ kind: MessageID) -> [[String: String]] { ours.filter { $0["MESSAGE_ID"] == kind.rawValue } }

        let applied = events(.patchApplied).filter { $0["LIVEPATCH_NAME"] == "journaled_fix" }
        #expect(applied.count == 1, "\(context)")
        if let entry = applied.first {
            #expect(entry["LIVEPATCH_STATE"] == "applied")
            #expect(entry["LIVEPATCH_SHA256"] == moduleHash)
            #expect(entry["LIVEPATCH_KERNEL"] == Sandbox.release)
            #expect(entry["LIVEPATCH_VERSION"] == "7")
            #expect(entry["LIVEPATCH_REASON"] == nil)
            #expect(entry["PRIORITY"] == "5", "notice")
            #expect(entry["MESSAGE"]?.contains("journaled_fix") == true)
        }
        // One entry per state change, in the order the history records them.
        let journaledStates = ours.filter { $0["LIVEPATCH_NAME"] == "journaled_fix" }.compactMap { $0["LIVEPATCH_STATE"] }
        #expect(journaledStates == history.filter { $0.name == "journaled_fix" }.map(\.state.rawValue))
        #expect(journaledStates.suffix(3) == ["staged", "applying", "applied"], "\(journaledStates)")

        let rejected = events(.patchRejected).filter { $0["LIVEPATCH_NAME"] == "journal_rejected" }
        #expect(rejected.count == 1, "\(context)")
        if let entry = rejected.first {
            #expect(entry["LIVEPATCH_STATE"] == "rejected")
            #expect(entry["LIVEPATCH_REASON"]?.hasPrefix("hash mismatch") == true, "\(entry)")
            #expect(entry["PRIORITY"] == "3", "error")
        }

        let failed = events(.patchFailed).filter { $0["LIVEPATCH_NAME"] == "journal_refused" }
        #expect(failed.count == 1, "\(context)")
        if let entry = failed.first {
            #expect(entry["LIVEPATCH_STATE"] == "failed")
            #expect(
                entry["LIVEPATCH_KERNEL_MESSAGE"]
                    == "journal_refused: Unknown symbol lp_gone (err -2)\njournal_refused: Unknown symbol lp_gone_too (err -2)",
                "\(entry)")
            #expect(entry["LIVEPATCH_REASON"] == history.last { $0.name == "journal_refused" }?.reason)
            #expect(entry["LIVEPATCH_REASON"]?.contains("the kernel said \"journal_refused: Unknown symbol lp_gone (err -2)\"") == true)
            #expect(entry["LIVEPATCH_REASON"]?.hasSuffix("(No such file or directory); hint: built for another kernel build") == true)
            #expect(entry["PRIORITY"] == "3", "error")
        }
        // A state without the kernel's words carries no such field.
        #expect(ours.allSatisfy { $0["LIVEPATCH_STATE"] == "failed" || $0["LIVEPATCH_KERNEL_MESSAGE"] == nil })

        let started = events(.started), ready = events(.ready), stopping = events(.stopping)
        #expect(started.count == 1 && ready.count == 1 && stopping.count == 1, "\(context)")
        #expect(ready.first?["MESSAGE"]?.hasPrefix("ready") == true)
        let order = [MessageID.started, .ready, .patchApplied, .stopping].map { kind in
            ours.firstIndex { $0["MESSAGE_ID"] == kind.rawValue } ?? -1
        }
        #expect(order == order.sorted() && !order.contains(-1), "started, ready, applied, stopping in that order: \(order)")
    }
}

/// The MESSAGE_IDs monitoring matches on, written out rather than taken from the daemon's
/// EventKind: they are fixed forever, and a change there must fail here.
enum MessageID: String {
    case started = "afcf4b1b21af472686807093bcb02269"
    case ready = "9d19c9d2762a47969e13096ae8f7efe3"
    case stopping = "e67eae1182d2495f8be9cb1afc01654e"
    case patchRejected = "0226251c175b4bcd9a8535a13a7e44ed"
    case patchApplied = "bd3502770a4346c48ca8a0eaccb317fa"
    case patchFailed = "f07d97327aeb43b79000a8c9aaa922ea"
}

/// livepatchd under a private systemd-journald. A driver script starts the daemon inside
/// with-journald.sh's namespace and blocks on a FIFO; ``finish()`` writes to it, the driver
/// stops the daemon with SIGTERM and exports the journal as JSON, one entry per line.
final class JournaldRun: @unchecked Sendable {
    private let root: String
    private let process: LaunchedProcess
    private var finished = false

    init(_ sandbox: Sandbox) async throws {
        root = sandbox.root
        let driver = "\(root)/journal-driver.sh"
        try Self.driver.write(toFile: driver, atomically: true, encoding: .utf8)
        chmod(driver, 0o755)
        guard mkfifo("\(root)/control", 0o600) == 0 else { throw TimeoutError(description: "mkfifo: errno \(errno)") }
        // NOTIFY_SOCKET goes to the daemon only: journald would send its own READY=1 there.
        let environment = sandbox.daemonEnvironment([
            "NOTIFY_SOCKET": nil, "LIVEPATCHD_LOG": nil, "LP_NOTIFY_SOCKET": sandbox.notify.path,
            "WITH_JOURNALD_LOG": "\(root)/journald.log",
        ])
        let before = sandbox.notify.received.count
        process = try LaunchedProcess(
            [
                "\(Binaries.repository)/scripts/with-journald.sh", driver, root, Binaries.path("livepatchd"),
                "--config", sandbox.configFile,
            ],
            environment: environment, logFile: "\(root)/driver.log")
        do {
            try await sandbox.notify.waitFor("READY=1", after: before, timeout: .seconds(60))
        } catch {
            throw TimeoutError(description: "\(error)\n\(log)")
        }
    }

    deinit {
        // Never leave journald behind: the driver stops it on its way out, a SIGKILL would not.
        guard !finished else { return }
        requestStop()
        process.process.waitUntilExit()
    }

    var log: String {
        let journald = (try? String(contentsOfFile: "\(root)/journald.log", encoding: .utf8)) ?? ""
        return "driver log:\n\(process.log)\njournald log:\n\(journald)"
    }

    var daemonPID: Int32? { HostKernel.read("\(root)/daemon.pid").flatMap { Int32($0) } }
    var daemonStatus: Int32? { HostKernel.read("\(root)/daemon.status").flatMap { Int32($0) } }

    /// Stops the daemon and returns every journal entry (string fields only).
    func finish() async throws -> [[String: String]] {
        requestStop()
        finished = true
        guard let status = await process.waitForExit(timeout: .seconds(60)) else {
            throw TimeoutError(description: "with-journald.sh did not exit within 60 s\n\(log)")
        }
        guard status == 0 else { throw TimeoutError(description: "with-journald.sh exited \(status)\n\(log)") }
        let text = try String(contentsOfFile: "\(root)/journal.json", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            return object.compactMapValues { $0 as? String }
        }
    }

    private func requestStop() {
        // The driver holds the FIFO open for reading and writing, so this open never blocks.
        let fd = open("\(root)/control", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = "stop\n".withCString { write(fd, $0, 5) }
        close(fd)
    }

    static func messages(_ journal: [[String: String]]) -> String {
        journal.map { "[\($0["SYSLOG_IDENTIFIER"] ?? "?")] \($0["MESSAGE"] ?? "")" }.joined(separator: "\n")
    }

    static let driver = #"""
        #!/bin/bash
        # journal-driver.sh ROOT LIVEPATCHD ARGS...: runs inside with-journald.sh.
        set -u
        root=$1; shift
        exec 3<>"$root/control"
        NOTIFY_SOCKET=$LP_NOTIFY_SOCKET "$@" &
        pid=$!
        echo "$pid" >"$root/daemon.pid"
        # The test asks for the stop; the deadline only keeps a lost test from leaking journald.
        read -r -t 240 -u 3 _ || echo "driver: no stop request within 240 s" >&2
        kill -TERM "$pid"
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null && echo "driver: livepatchd ignored SIGTERM for 10 s" >&2
        wait "$pid"
        echo $? >"$root/daemon.status"
        journalctl --sync
        journalctl -o json --no-pager >"$root/journal.json"
        """#
}
