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
                return VarlinkReply(encoding: $0, with: encoder).encodedFinal()
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
    @Test("a reply is fresh while no event came since its value was computed, and for at most maxAge")
    func freshness() throws {
        let cache = LastEncodedReply<Status>()
        let encoder = LivepatchInterface.makeEncoder()
        func encode(_ value: Status) -> VarlinkReply.Encoded { VarlinkReply(encoding: value, with: encoder).encodedFinal() }
        let start = ContinuousClock.now
        #expect(cache.fresh(events: 0, maxAge: .seconds(1), now: start) == nil)

        let sent = cache.reply(for: status(summary: "1 applied"), events: 7, computed: start, encode: encode)
        #expect(cache.fresh(events: 7, maxAge: .seconds(1), now: start + .milliseconds(999)) == sent)
        #expect(cache.fresh(events: 8, maxAge: .seconds(1), now: start) == nil, "an event came since")
        #expect(cache.fresh(events: 7, maxAge: .seconds(1), now: start + .seconds(1)) == nil, "too old")

        // A caller that computed its value before an event, and stores after a newer one: the newer stays.
        let newer = cache.reply(for: status(summary: "2 applied"), events: 9, computed: start, encode: encode)
        _ = cache.reply(for: status(summary: "1 applied"), events: 8, computed: start, encode: encode)
        #expect(cache.fresh(events: 9, maxAge: .seconds(1), now: start) == newer)
        // Same events, computed earlier (an older taint, say): the later one stays, with its age.
        _ = cache.reply(for: status(summary: "2 applied", taint: 1), events: 9, computed: start - .milliseconds(500), encode: encode)
        #expect(cache.fresh(events: 9, maxAge: .seconds(1), now: start + .milliseconds(700)) == newer)
    }
}
