import Foundation
import Testing

/// `lpclient` and `lpclient status` with `--json` and `--socket` are read without ArgumentParser
/// (the monitoring fast path); the same request written another way goes through ArgumentParser.
/// Either way an operator must get the same answer and the same exit code.
@Suite("lpclient status: every way of writing it", .serialized, .timeLimit(.minutes(2)))
struct ClientFastPathScenarioTests {
    private func lpclient(_ arguments: [String]) throws -> ProcessResult {
        try run(Binaries.path("lpclient"), arguments)
    }

    @Test("the fast path and ArgumentParser give the same output and exit code")
    func sameAnswer() async throws {
        let sandbox = try Sandbox()
        let daemon = try await sandbox.startDaemon()
        defer { withExtendedLifetime(daemon) {} }
        let socket = sandbox.socket
        // --socket=PATH is not a fast-path form: it goes through ArgumentParser.
        let parsed = try lpclient(["status", "--socket=\(socket)"])
        #expect(parsed.status == 0, "\(parsed)")
        for fast in [["status", "--socket", socket], ["--socket", socket]] {
            let result = try lpclient(fast)
            #expect(result.status == parsed.status && result.stdout == parsed.stdout, "\(fast): \(result)")
        }
        let parsedJSON = try lpclient(["status", "--json", "--socket=\(socket)"])
        for fast in [["status", "--json", "--socket", socket], ["--socket", socket, "--json"]] {
            let result = try lpclient(fast)
            #expect(result.status == parsedJSON.status && result.stdout == parsedJSON.stdout, "\(fast): \(result)")
        }
        #expect(parsedJSON.stdout.contains("\"daemon_version\""))
    }

    /// What monitoring meets on a host with a problem: exit 1, the status on stdout, nothing on
    /// stderr, whichever way the command is written.
    @Test("a degraded daemon: exit 1 and the same output on either path, nothing on stderr")
    func degraded() async throws {
        let sandbox = try Sandbox()
        let daemon = try await sandbox.startDaemon()
        defer { withExtendedLifetime(daemon) {} }
        try Data("{\"name\": 5}".utf8).write(to: URL(fileURLWithPath: "\(sandbox.incoming)/broken.json"))
        try await sandbox.waitFor("broken", .rejected)
        let socket = sandbox.socket
        let parsed = try lpclient(["status", "--socket=\(socket)"])
        #expect(parsed.status == 1 && parsed.stdout.contains("degraded") && parsed.stderr.isEmpty, "\(parsed)")
        for fast in [["status", "--socket", socket], ["--socket", socket], ["status", "--json", "--socket", socket]] {
            let result = try lpclient(fast)
            #expect(result.status == 1 && result.stderr.isEmpty, "\(fast): \(result)")
            if !fast.contains("--json") { #expect(result.stdout == parsed.stdout, "\(fast): \(result)") }
        }
    }

    @Test("an unreachable daemon exits 3 with the hint, a usage mistake 64, on either path")
    func failures() throws {
        for arguments in [["status", "--socket", "/nonexistent/io.livepatchd"], ["status", "--socket=/nonexistent/io.livepatchd"]] {
            let result = try lpclient(arguments)
            #expect(result.status == 3, "\(arguments): \(result)")
            #expect(result.stderr.contains("hint: is livepatchd running?"), "\(arguments): \(result)")
        }
        for arguments in [["status", "--socket"], ["status", "--jsn"]] {
            #expect(try lpclient(arguments).status == 64, "\(arguments)")
        }
    }
}
