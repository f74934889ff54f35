import LivepatchAPI
import Testing
import Varlink

@testable import LivepatchDaemon

@Suite("GetStatus reply reuse")
struct LastEncodedReplyTests {
    private func status(summary: String, taint: Int? = 0) -> Status {
        Status(
            summary: summary, degraded: false, problems: [], backend: "simulated", apply: "auto",
            kernel: KernelSupport(
                release: "6.1.0-test", livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false,
                taint: taint, simulated: true),
            counts: ["applied": 1], daemonVersion: "test")
    }

    @Test("an unchanged status is sent as the bytes encoded before; any change is encoded anew")
    func reusesOnlyWhileEqual() throws {
        let cache = LastEncodedReply<Status>()
        let encoder = LivepatchInterface.makeEncoder()
        var encodings = 0
        func reply(_ value: Status) -> VarlinkReply.Encoded {
            cache.reply(for: value) {
                encodings += 1
                return VarlinkReply(encoding: $0, with: encoder)
            }
        }

        let first = reply(status(summary: "1 applied"))
        #expect(reply(status(summary: "1 applied")) == first)
        #expect(encodings == 1)

        // The kernel's taint changes without any patch changing: the reply must follow it.
        let tainted = try VarlinkReply(frame: reply(status(summary: "1 applied", taint: 12288)).frame)
        #expect(tainted.parameters["kernel"]?["taint"] == 12288)
        #expect(tainted.continues == false)
        #expect(encodings == 2)

        let decoded = try VarlinkReply(frame: reply(status(summary: "2 applied")).frame)
        #expect(decoded.parameters["summary"] == "2 applied")
        #expect(decoded.parameters["daemon_version"] == "test")
    }
}
