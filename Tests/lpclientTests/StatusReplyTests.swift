import LivepatchAPI
import Testing
import Varlink

@testable import lpclient

@Suite("GetStatus read without Codable")
struct StatusReplyTests {
    static let kernel = KernelSupport(
        release: "6.1.0-57-amd64", livepatch: true, ftrace: true, lockdown: "integrity", signatureEnforced: false,
        taint: 12288, simulated: false)

    static let statuses = [
        Status(
            summary: "3 applied, 1 failed", degraded: true, problems: ["lp_a failed: load failed", "lp_b rejected"],
            backend: "kernel", apply: "auto", kernel: kernel, counts: ["applied": 3, "failed": 1],
            daemonVersion: "0.9.0"),
        // Every optional absent, nothing counted: what a daemon on an unreadable kernel sends.
        Status(
            summary: "no patches", degraded: false, problems: [], backend: "simulated", apply: "manual",
            kernel: KernelSupport(
                release: "6.1.0-test", livepatch: false, ftrace: nil, lockdown: nil, signatureEnforced: nil,
                taint: nil, simulated: true),
            counts: [:], daemonVersion: "0.9.0"),
    ]

    /// The parameters as the daemon sends them: Status encoded by the interface's encoder.
    private func wire(_ status: Status) throws -> [String: JSONValue] {
        try JSONValue.object(encoding: status, with: LivepatchInterface.makeEncoder())
    }

    @Test("every field the daemon's encoder writes is read back as it was", arguments: statuses)
    func roundTrip(_ status: Status) throws {
        #expect(try Status(reply: try wire(status)) == status)
    }

    @Test("an optional sent as null reads as absent, as JSONDecoder reads it")
    func nullIsAbsent() throws {
        var parameters = try wire(Self.statuses[0])
        parameters["kernel"] = .object((parameters["kernel"]?.objectValue ?? [:]).merging(["taint": .null]) { $1 })
        #expect(try Status(reply: parameters).kernel.taint == nil)
    }

    @Test("a member missing or of another type is a protocol error that names it")
    func mismatch() throws {
        var parameters = try wire(Self.statuses[0])
        parameters["kernel"] = .object((parameters["kernel"]?.objectValue ?? [:]).merging(["taint": "high"]) { $1 })
        #expect(message(parameters)?.contains("GetStatus reply.kernel.taint should be an integer, found a string") == true)

        parameters = try wire(Self.statuses[0])
        parameters["summary"] = nil
        #expect(message(parameters)?.contains("GetStatus reply.summary should be a string, found nothing") == true)

        parameters = try wire(Self.statuses[0])
        parameters["problems"] = ["one", 2]
        #expect(message(parameters)?.contains("GetStatus reply.problems should be a list of strings") == true)
    }

    private func message(_ parameters: [String: JSONValue]) -> String? {
        do {
            _ = try Status(reply: parameters)
            return nil
        } catch {
            guard case .protocolError(let message) = error else { return "\(error)" }
            return message
        }
    }
}
