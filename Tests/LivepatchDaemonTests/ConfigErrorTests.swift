import Foundation
import Testing

@testable import LivepatchDaemon

@Suite("Config errors name file, line and key")
struct ConfigErrorTests {
    /// Writes `text` as the config file and returns the error loading it gives.
    private func error(_ text: String, in scratch: ConfigScratch) throws -> ConfigError {
        try scratch.write("livepatchd.toml", text)
        return try #require(scratch.loadError())
    }

    @Test("a drop-in that is a FIFO is refused at once, never opened for a blocking read", .timeLimit(.minutes(1)))
    func fifoDropIn() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "apply = \"auto\"\n")
        let dropIn = try scratch.write("livepatchd.toml.d/10-fifo.toml", "")
        try FileManager.default.removeItem(atPath: dropIn)
        #expect(mkfifo(dropIn, 0o644) == 0)
        let error = try #require(scratch.loadError())
        #expect(error.kind == .unreadable)
        #expect(error.description == "\(dropIn): cannot read: it is a FIFO, not a regular file")
    }

    @Test func badEnumValue() throws {
        let scratch = try ConfigScratch()
        let error = try error("# policy\n\nbackend = \"kernel\"\n\n\n\napply = \"sometimes\"\n", in: scratch)
        #expect(error.kind == .invalidValue)
        #expect(error.line == 7)
        #expect(error.key == "apply")
        #expect(error.description == "\(scratch.configPath):7: key \"apply\": expected one of \"auto\", \"manual\", \"off\", got \"sometimes\"")
    }

    @Test func unknownKeyListsTheKnownOnes() throws {
        let scratch = try ConfigScratch()
        let error = try error("apply = \"auto\"\napply_dely = \"5s\"\n", in: scratch)
        #expect(error.kind == .unknownKey)
        #expect(error.line == 2)
        #expect(error.key == "apply_dely")
        #expect(error.description.hasPrefix("\(scratch.configPath):2: key \"apply_dely\": unknown key; known keys: backend,"))
    }

    @Test func tableIsAnUnknownKey() throws {
        let scratch = try ConfigScratch()
        let error = try error("log_level = \"info\"\n\n[policy]\napply = \"auto\"\n", in: scratch)
        #expect(error.kind == .unknownKey)
        #expect(error.line == 3)
        #expect(error.message.hasPrefix("unknown table (the config is flat)"))
    }

    @Test func wrongType() throws {
        let scratch = try ConfigScratch()
        let error = try error("require_signature = \"yes\"\n", in: scratch)
        #expect(error.kind == .wrongType)
        #expect(error.description == "\(scratch.configPath):1: key \"require_signature\": expected true or false, got \"yes\"")
    }

    @Test func integerWhereADurationBelongs() throws {
        let scratch = try ConfigScratch()
        let error = try error("settle_timeout = 30\n", in: scratch)
        #expect(error.kind == .wrongType)
        #expect(error.message == "expected a duration string such as \"30s\", got integer 30")
    }

    @Test func badDuration() throws {
        let scratch = try ConfigScratch()
        let error = try error("apply = \"auto\"\ntransition_timeout   =   \"5mins\"\n", in: scratch)
        #expect(error.kind == .invalidValue)
        #expect(error.line == 2)
        #expect(error.key == "transition_timeout")
        #expect(error.message.hasPrefix("invalid duration \"5mins\": unknown unit \"mins\""))
    }

    @Test func zeroTransitionTimeout() throws {
        let scratch = try ConfigScratch()
        let error = try error("transition_timeout = \"0\"\n", in: scratch)
        #expect(error.message == "must be greater than 0, got \"0\"")
    }

    @Test func ambiguousSize() throws {
        let scratch = try ConfigScratch()
        let error = try error("max_module_size = \"64MB\"\n", in: scratch)
        #expect(error.kind == .invalidValue)
        #expect(error.message.contains("write \"MiB\""))
    }

    @Test func syntaxErrorCarriesItsLine() throws {
        let scratch = try ConfigScratch()
        let error = try error("apply = \"auto\"\nlog_level = \"info\n", in: scratch)
        #expect(error.kind == .syntax)
        #expect(error.line == 2)
        #expect(error.description.hasPrefix("\(scratch.configPath):2: TOML syntax error"))
    }

    @Test func firstProblemInFileOrderIsReported() throws {
        let scratch = try ConfigScratch()
        // TOML tables come back sorted by key; the report must follow the file instead.
        let error = try error("socket = 1\napply = \"never\"\n", in: scratch)
        #expect(error.key == "socket")
        #expect(error.line == 1)
    }

    @Test func errorInADropInNamesTheDropIn() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "apply = \"auto\"\n")
        let dropIn = try scratch.write("livepatchd.toml.d/20-bad.toml", "\nlog_level = \"loud\"\n")
        let error = try #require(scratch.loadError())
        #expect(error.file == dropIn)
        #expect(error.line == 2)
        #expect(error.message.hasPrefix("expected one of \"trace\", \"debug\""))
    }

    @Test func badFlagNamesTheFlag() throws {
        let scratch = try ConfigScratch()
        let error = try #require(scratch.loadError(explicit: false, ConfigOverrides(apply: "sometimes")))
        #expect(error.origin == .flag("--apply"))
        #expect(error.description == "--apply: expected one of \"auto\", \"manual\", \"off\", got \"sometimes\"")
    }

    @Test func socketPathTooLongForSunPath() throws {
        let scratch = try ConfigScratch()
        let long = "/" + String(repeating: "s", count: 120)
        let error = try #require(scratch.loadError(explicit: false, ConfigOverrides(socket: long)))
        #expect(error.origin == .flag("--socket"))
        #expect(error.message.contains("at most 107"))
    }

    @Test func keyLinesDoNotConfuseAPrefix() {
        let lines = KeyLines("apply_delay = \"1s\"\n  \"apply\" = \"auto\"\n")
        #expect(lines.line(of: "apply") == 2)
        #expect(lines.line(of: "apply_delay") == 1)
        #expect(lines.line(of: "socket") == nil)
    }
}
