import LivepatchCore
import Testing

@Suite("Durations, systemd style")
struct DurationUnitsTests {
    @Test(
        "parses what systemd.time(7) documents",
        arguments: [
            ("500ms", Duration.milliseconds(500)),
            ("30s", .seconds(30)),
            ("30", .seconds(30)),
            ("5min", .seconds(300)),
            ("5m", .seconds(300)),
            ("1h", .seconds(3600)),
            ("2hr", .seconds(7200)),
            ("1d", .seconds(86_400)),
            ("1w", .seconds(604_800)),
            ("250us", .microseconds(250)),
            ("2min 30s", .seconds(150)),
            ("2min30s", .seconds(150)),
            ("5 min", .seconds(300)),
            (" 1h 1min 1s ", .seconds(3661)),
            ("1.5s", .milliseconds(1500)),
            (".5s", .milliseconds(500)),
            ("1.25min", .seconds(75)),
            ("0", .zero),
            ("10sec", .seconds(10)),
            ("3 seconds", .seconds(3)),
        ])
    func parses(text: String, expected: Duration) throws {
        #expect(try Units.parseDuration(text) == expected)
    }

    @Test(
        "rejects with the reason",
        arguments: [
            ("", "empty"),
            ("   ", "empty"),
            ("-5s", "negative"),
            ("5mins", "unknown unit \"mins\""),
            ("5M", "unknown unit \"M\""),
            ("s", "expected a number"),
            ("5s,", "expected a number at \",\""),
            ("99999999999999999999s", "too large"),
            ("999999999999w", "too large"),
        ])
    func rejects(text: String, problem: String) {
        #expect {
            try Units.parseDuration(text)
        } throws: { error in
            guard let error = error as? UnitError else { return false }
            return error.problem.contains(problem) && error.kind == .duration
        }
    }

    @Test func errorTeachesTheAcceptedForms() {
        do {
            _ = try Units.parseDuration("5 fortnights")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix(#"invalid duration "5 fortnights": unknown unit "fortnights""#))
            #expect(error.description.contains(#""2min 30s""#))
        }
    }

    @Test(
        "formats as systemd prints",
        arguments: [
            (Duration.seconds(90), "1min 30s"),
            (.milliseconds(500), "500ms"),
            (.seconds(3600), "1h"),
            (.seconds(30), "30s"),
            (.zero, "0"),
            (.milliseconds(1500), "1.5s"),
            (.milliseconds(61_500), "1min 1.5s"),
            (.microseconds(1_000_001), "1.000001s"),
            (.seconds(86_400 + 3600 + 1), "1d 1h 1s"),
            (.seconds(604_800 * 2), "2w"),
            (.microseconds(250), "250us"),
        ])
    func formats(duration: Duration, expected: String) {
        #expect(Units.formatDuration(duration) == expected)
    }

    @Test(arguments: ["1min 30s", "500ms", "1.5s", "1d 1h 1s", "1min 1.5s", "1.000001s", "0"])
    func formatParsesBack(text: String) throws {
        #expect(Units.formatDuration(try Units.parseDuration(text)) == text)
    }
}

@Suite("Sizes, IEC units")
struct SizeUnitsTests {
    @Test(
        arguments: [
            ("64MiB", Int64(64 << 20)),
            ("512KiB", 512 << 10),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("100", 100),
            ("100B", 100),
            ("64M", 64 << 20),
            ("4K", 4096),
            ("1.5KiB", 1536),
            ("64 MiB", 64 << 20),
            ("0", 0),
        ])
    func parses(text: String, expected: Int64) throws {
        #expect(try Units.parseSize(text) == expected)
    }

    @Test(
        arguments: [
            ("64MB", "ambiguous"),
            ("1GB", #"write "GiB""#),
            ("5kB", "ambiguous"),
            ("-1MiB", "negative"),
            ("1.1B", "whole number of bytes"),
            ("64mib", "unknown unit \"mib\""),
            ("1MiB 1KiB", "one number"),
            ("", "empty"),
            ("99999999TiB", "too large"),
        ])
    func rejects(text: String, problem: String) {
        #expect {
            try Units.parseSize(text)
        } throws: { error in
            guard let error = error as? UnitError else { return false }
            return error.problem.contains(problem) && error.kind == .size
        }
    }

    @Test(
        arguments: [
            (Int64(64 << 20), "64MiB"), (512 << 10, "512KiB"), (1 << 30, "1GiB"), (1536, "1536B"),
            (100, "100B"), (0, "0B"), (3 << 40, "3TiB"),
        ])
    func formats(bytes: Int64, expected: String) {
        #expect(Units.formatSize(bytes) == expected)
    }
}
