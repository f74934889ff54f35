import Foundation
import Logging
import Synchronization
import Testing

@testable import LivepatchDaemon

/// Collects what a handler would have sent, in order.
private final class Recorder: Sendable {
    private let entries = Mutex<[[String: String]]>([])
    private let lines = Mutex<[String]>([])

    var journalEntries: [[String: String]] { entries.withLock { $0 } }
    var stderrLines: [String] { lines.withLock { $0 } }

    func journalLogger(level: Logger.Level = .info) -> Logger {
        Logger(label: "test") { _ in
            JournalLogHandler(level: level, metadataProvider: nil) { fields in
                let entry = Dictionary(fields.map { ($0.name, $0.value) }) { first, _ in first }
                self.entries.withLock { $0.append(entry) }
            }
        }
    }

    func stderrLogger() -> Logger {
        Logger(label: "test") { _ in
            StderrLogHandler(level: .info, metadataProvider: nil) { line in self.lines.withLock { $0.append(line) } }
        }
    }
}

@Suite struct EventKindTests {
    @Test func everyKindHasItsOwnWellFormedID() {
        let ids = EventKind.allCases.map(\.messageID)
        #expect(Set(ids).count == EventKind.allCases.count)
        for kind in EventKind.allCases {
            #expect(kind.messageID.count == 32 && kind.messageID.allSatisfy { $0.isHexDigit && !$0.isUppercase })
            #expect(EventKind(messageID: kind.messageID) == kind)
        }
    }

    @Test func everyKindHasACatalogEntry() throws {
        let entries = try CatalogFile.entries()
        #expect(Set(entries.keys) == Set(EventKind.allCases.map(\.messageID)), "catalog ids must match EventKind")
        for kind in EventKind.allCases {
            let entry = try #require(entries[kind.messageID], "no catalog entry for \(kind)")
            #expect(entry.headers["Defined-By"] == "livepatchd", "\(kind)")
            #expect(entry.headers["Subject"]?.isEmpty == false, "\(kind)")
            #expect(entry.headers["Support"]?.isEmpty == false, "\(kind)")
            #expect(entry.body.count > 80, "\(kind) needs a body saying what happened and what to do")
        }
    }

    @Test(.requires(.journald))
    func journalctlCompilesTheCatalog() throws {
        let manager = FileManager.default
        let root = NSTemporaryDirectory() + "/catalog-" + UUID().uuidString
        defer { try? manager.removeItem(atPath: root) }
        try manager.createDirectory(atPath: root + "/usr/lib/systemd/catalog", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root + "/var/lib/systemd/catalog", withIntermediateDirectories: true)
        try manager.copyItem(atPath: CatalogFile.path, toPath: root + "/usr/lib/systemd/catalog/livepatchd.catalog")

        #expect(try runJournalctl(["--root=\(root)", "--update-catalog"]).status == 0)
        let listing = try runJournalctl(["--root=\(root)", "--list-catalog"])
        #expect(listing.status == 0)
        for kind in EventKind.allCases {
            #expect(listing.output.contains("\(kind.messageID) livepatchd: "), "journalctl lists \(kind)")
        }
    }

    private func runJournalctl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// systemd/livepatchd.catalog, read the way journalctl reads it: `-- ID` starts an entry,
/// then `Key: value` headers, an empty line, and the body.
private enum CatalogFile {
    struct Entry {
        var headers: [String: String] = [:]
        var body = ""
    }

    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd/livepatchd.catalog").path

    static func entries() throws -> [String: Entry] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var entries: [String: Entry] = [:]
        var current: (id: String, entry: Entry, inBody: Bool)?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("-- ") {
                if let current { entries[current.id] = current.entry }
                let id = String(line.dropFirst(3))
                #expect(entries[id] == nil, "duplicate catalog id \(id)")
                current = (id, Entry(), false)
            } else if current != nil, line.hasPrefix("#") {
                continue
            } else if current?.inBody == false, line.isEmpty {
                current?.inBody = true
            } else if current?.inBody == false, let colon = line.firstIndex(of: ":") {
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                current?.entry.headers[String(line[..<colon])] = value
            } else if current?.inBody == true {
                current?.entry.body += line + "\n"
            }
        }
        if let current { entries[current.id] = current.entry }
        return entries
    }
}

@Suite struct JournalLogHandlerTests {
    @Test func anEventBecomesOneStructuredEntry() throws {
        let recorder = Recorder()
        let logger = recorder.journalLogger()
        let line = #line + 1
        logger.event(.patchApplied, "applied", metadata: [LivepatchField.name: "fix_cve", LivepatchField.state: "applied"])

        let entry = try #require(recorder.journalEntries.first)
        #expect(recorder.journalEntries.count == 1)
        #expect(entry["MESSAGE"] == "applied")
        #expect(entry["PRIORITY"] == "5")
        #expect(entry["SYSLOG_IDENTIFIER"] == "livepatchd")
        #expect(entry["MESSAGE_ID"] == EventKind.patchApplied.messageID)
        #expect(entry["LIVEPATCH_NAME"] == "fix_cve")
        #expect(entry["LIVEPATCH_STATE"] == "applied")
        #expect(entry["CODE_FILE"]?.hasSuffix("LoggingTests.swift") == true)
        #expect(entry["CODE_LINE"] == String(line))
        #expect(entry["CODE_FUNC"]?.hasPrefix("anEventBecomesOneStructuredEntry") == true)
    }

    @Test(arguments: [
        (Logger.Level.debug, "7"), (.info, "6"), (.notice, "5"), (.warning, "4"), (.error, "3"), (.critical, "2"),
    ])
    func priorityFollowsTheLevel(level: Logger.Level, priority: String) {
        let recorder = Recorder()
        recorder.journalLogger(level: .trace).log(level: level, "x")
        #expect(recorder.journalEntries.first?["PRIORITY"] == priority)
    }

    @Test func loggerMetadataIsIncludedAndCannotReplaceTheMessage() {
        let recorder = Recorder()
        var logger = recorder.journalLogger()
        logger[metadataKey: LivepatchField.kernel] = "6.1.0-56-amd64"
        logger.info("hello", metadata: ["message": "not the message", LivepatchField.reason: "sha256 mismatch"])

        let entry = recorder.journalEntries.first
        #expect(entry?["MESSAGE"] == "hello")
        #expect(entry?["LIVEPATCH_KERNEL"] == "6.1.0-56-amd64")
        #expect(entry?["LIVEPATCH_REASON"] == "sha256 mismatch")
    }

    @Test func levelBelowTheThresholdIsNotSent() {
        let recorder = Recorder()
        recorder.journalLogger(level: .notice).info("quiet")
        #expect(recorder.journalEntries.isEmpty)
    }
}

@Suite struct StderrLogHandlerTests {
    @Test func aLineCarriesTheSameFields() {
        let recorder = Recorder()
        recorder.stderrLogger().event(
            .patchRejected, "fix_cve rejected", level: .warning,
            metadata: [
                LivepatchField.name: "fix_cve", LivepatchField.reason: "sha256 mismatch", LivepatchField.state: "rejected",
            ])

        #expect(
            recorder.stderrLines == [
                "livepatchd[warning]: fix_cve rejected LIVEPATCH_NAME=fix_cve LIVEPATCH_REASON=\"sha256 mismatch\" "
                    + "LIVEPATCH_STATE=rejected MESSAGE_ID=\(EventKind.patchRejected.messageID)\n"
            ])
    }

    @Test(arguments: [
        ("plain", "plain"), ("", "\"\""), ("two words", "\"two words\""), ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("a\nb", "\"a\\nb\""), ("back\\slash", "\"back\\\\slash\""),
    ])
    func valuesAreQuotedWhenTheyWouldSplit(value: String, quoted: String) {
        #expect(StderrLogHandler.quoted(value) == quoted)
    }
}

@Suite struct LoggingSetupTests {
    @Test func journalUnlessUnavailableOrOverridden() {
        #expect(LoggingSetup.destination(journalAvailable: true, override: nil) == .journal)
        #expect(LoggingSetup.destination(journalAvailable: true, override: "journal") == .journal)
        #expect(LoggingSetup.destination(journalAvailable: true, override: "stderr") == .stderr)
        #expect(LoggingSetup.destination(journalAvailable: false, override: nil) == .stderr)
        #expect(LoggingSetup.destination(journalAvailable: false, override: "journal") == .stderr)
    }
}

private let journalHelperVariable = "LIVEPATCHD_TEST_JOURNAL_NAME"

/// Proves the journal handler against a real systemd-journald: this test binary runs again
/// inside scripts/with-journald.sh, filtered to the helper below, and journalctl reads back
/// what it logged.
@Suite struct JournalLogHandlerJournaldTests {
    @Test(.enabled(if: getuid() == 0, "needs root (a private mount namespace)"), .requires(.journald))
    func anEventReachesJournaldWithItsFields() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/with-journald.sh").path
        let name = "fix_" + UUID().uuidString.prefix(8).lowercased()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [
            "/bin/sh", "-c",
            #"""
            "$0" --testing-library swift-testing --filter JournalLogHandlerJournaldHelper >&2 || exit
            journalctl --sync && journalctl -o json "LIVEPATCH_NAME=$1"
            """#,
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), name,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging([journalHelperVariable: name]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let entries = output.split(separator: UInt8(ascii: "\n")).compactMap {
            try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
        }
        try #require(entries.count == 1, "journalctl printed: \(String(decoding: output, as: UTF8.self))")
        let entry = entries[0]
        #expect(entry["MESSAGE"] as? String == "\(name) applied")
        #expect(entry["MESSAGE_ID"] as? String == EventKind.patchApplied.messageID)
        #expect(entry["PRIORITY"] as? String == "5")
        #expect(entry["SYSLOG_IDENTIFIER"] as? String == "livepatchd")
        #expect(entry["LIVEPATCH_STATE"] as? String == "applied")
        #expect(entry["LIVEPATCH_SHA256"] as? String == String(repeating: "ab", count: 32))
        #expect((entry["CODE_FILE"] as? String)?.hasSuffix("LoggingTests.swift") == true)
    }
}

/// Runs only inside the process started by `anEventReachesJournaldWithItsFields`.
@Suite struct JournalLogHandlerJournaldHelper {
    @Test(.enabled(if: ProcessInfo.processInfo.environment[journalHelperVariable] != nil, "inside with-journald.sh only"))
    func logProbeEvent() throws {
        let name = try #require(ProcessInfo.processInfo.environment[journalHelperVariable])
        let logger = Logger(label: "test") { _ in JournalLogHandler(level: .info) }
        logger.event(
            .patchApplied, "\(name) applied",
            metadata: [
                LivepatchField.name: "\(name)", LivepatchField.state: "applied",
                LivepatchField.sha256: "\(String(repeating: "ab", count: 32))",
            ])
    }
}
