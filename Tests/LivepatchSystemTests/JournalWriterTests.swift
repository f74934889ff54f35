import Foundation
import LivepatchSystem
import Testing

@Suite struct JournalWriterTests {
    @Test(arguments: ["MESSAGE", "LIVEPATCH_NAME", "CODE_LINE", "A1"])
    func acceptsJournalFieldNames(_ name: String) {
        #expect(JournalWriter.isValidFieldName(name))
    }

    @Test(arguments: ["", "_PID", "1ABC", "livepatch_name", "LIVEPATCH-NAME", "A B", String(repeating: "A", count: 65)])
    func rejectsWhatJournaldWouldDrop(_ name: String) {
        #expect(!JournalWriter.isValidFieldName(name))
    }

    @Test func refusesToSendAnInvalidFieldName() {
        #expect(throws: SystemError("sd_journal_sendv", "field name bad-name", errno: EINVAL)) {
            try JournalWriter.send([("MESSAGE", "hello"), ("bad-name", "x")])
        }
    }

    @Test func turnsMetadataKeysIntoFieldNames() {
        #expect(JournalWriter.fieldName(for: "livepatch_name") == "LIVEPATCH_NAME")
        #expect(JournalWriter.fieldName(for: "message_id") == "MESSAGE_ID")
        #expect(JournalWriter.fieldName(for: "request.id") == "REQUEST_ID")
        #expect(JournalWriter.fieldName(for: "_private") == "PRIVATE")
        #expect(JournalWriter.fieldName(for: "2fa") == "FIELD_2FA")
        #expect(JournalWriter.isValidFieldName(JournalWriter.fieldName(for: String(repeating: "x", count: 80))))
    }
}

/// The fields the helper sends and the proof test expects back from journalctl.
private func probeFields(messageID: String) -> [(name: String, value: String)] {
    [
        ("MESSAGE", "journal writer test: fix_cve applied"),
        ("MESSAGE_ID", messageID),
        ("PRIORITY", "5"),
        ("SYSLOG_IDENTIFIER", "livepatch-system-tests"),
        ("LIVEPATCH_NAME", "fix_cve"),
        ("LIVEPATCH_REASON", "transition blocked by\ttask 42 (kworker/0:1) — retrying"),
    ]
}

private let helperVariable = "LIVEPATCH_JOURNAL_HELPER_MESSAGE_ID"

/// Proves that entries sent with ``JournalWriter`` reach a real systemd-journald with every
/// field intact: runs this test binary again inside scripts/with-journald.sh, filtered to
/// the helper below, then reads the entry back with journalctl in the same namespace.
@Suite struct JournalWriterJournaldTests {
    @Test(.enabled(if: getuid() == 0, "needs root (a private mount namespace)"), .requires(.journald))
    func everyFieldReachesJournald() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/with-journald.sh").path
        let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let messageID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var environment = ProcessInfo.processInfo.environment
        environment[helperVariable] = messageID
        // The helper's own test output goes to stderr so stdout carries only journalctl's JSON.
        let shell = #"""
            "$0" --testing-library swift-testing --filter JournalWriterJournaldHelper >&2 || exit
            journalctl --sync && journalctl -o json "MESSAGE_ID=$1"
            """#
        let result = try run(script, ["/bin/sh", "-c", shell, testBinary, messageID], environment: environment)
        #expect(result.status == 0)

        let entries = result.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        try #require(entries.count == 1, "journalctl printed: \(result.output)")
        for field in probeFields(messageID: messageID) {
            #expect(entries[0][field.name] as? String == field.value, "field \(field.name)")
        }
    }
}

/// Not a test of its own: the process started by `everyFieldReachesJournald` runs it inside
/// the private journald namespace. Reported as skipped in ordinary runs.
@Suite struct JournalWriterJournaldHelper {
    @Test(.enabled(if: ProcessInfo.processInfo.environment[helperVariable] != nil, "runs inside with-journald.sh only"))
    func sendProbeEntry() throws {
        let messageID = try #require(ProcessInfo.processInfo.environment[helperVariable])
        #expect(JournalWriter.isAvailable)
        try JournalWriter.send(probeFields(messageID: messageID))
    }
}
