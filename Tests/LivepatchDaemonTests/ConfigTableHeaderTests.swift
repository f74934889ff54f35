import Testing

@testable import LivepatchDaemon

/// What loading `text` as the main configuration file reports, or nil when it loads.
private func loadError(_ text: String) -> ConfigError? {
    var config = Configuration()
    do {
        try ConfigLoader.apply(contentsOf: Array(text.utf8), file: "/etc/livepatchd/livepatchd.toml", to: &config)
        return nil
    } catch {
        return error
    }
}

/// `text` is refused as a TOML syntax error on `line`, with `message` (which names the column).
private func expectSyntaxError(_ text: String, line: Int, message: String) throws {
    let error = try #require(loadError(text))
    #expect(error.kind == .syntax)
    #expect(error.line == line)
    #expect(error.message == message)
}

/// Table headers that make TOMLKit's toml++ abort the whole process (found by the config
/// fuzzer): the loader must report them as syntax errors instead.
@Suite("Config: malformed table headers are syntax errors, not aborts")
struct ConfigTableHeaderTests {
    @Test(arguments: [
        ("[:p", 1, 2),
        ("[\n", 1, 2),
        ("[ \t!x]\n", 1, 4),
        ("[[=", 1, 3),
        ("[[[1]]]", 1, 3),
        ("apply = \"auto\"\n  [ ,\n", 2, 5),
        ("apply = \"auto\"\r\n[\r\n", 2, 2),
        ("\u{FEFF}[\n", 1, 2),
    ])
    func headerWithoutAKeyIsASyntaxError(text: String, line: Int, column: Int) throws {
        try expectSyntaxError(text, line: line, message: "TOML syntax error at column \(column): expected a table name after '['")
    }

    @Test func bracketLinesInsideValuesAreLeftToTheParser() throws {
        // Inside a multi-line string such a line is text: the value is read, here as a wrong key.
        let inString = try #require(loadError("simulated_root = \"\"\"\n[:p\n\"\"\"\nbogus = 1\n"))
        #expect(inString.kind == .invalidValue || inString.kind == .unknownKey)
        #expect(inString.message.contains("expected a table name") == false)
        // Inside an array: a nested array opened at the start of a line.
        let inArray = try #require(loadError("backend = [\n[\n1]]\n"))
        #expect(inArray.kind == .wrongType)
    }

    @Test func wellFormedHeadersStillGetTheFlatConfigMessage() throws {
        let error = try #require(loadError("[policy]\napply = \"auto\"\n"))
        #expect(error.kind == .unknownKey)
        #expect(error.line == 1)
    }

    @Test func bracketAtTheVeryEndIsAnOrdinarySyntaxError() throws {
        let error = try #require(loadError("apply = \"auto\"\n["))
        #expect(error.kind == .syntax)
        #expect(error.line == 2)
    }
}

/// toml++ 3 also asserts in `parse_time()` ("is_decimal_digit(*cp)") on a date whose `T` is
/// followed by a non-digit, aborting the daemon; found by the config fuzzer.
@Suite("Config: date-times toml++ aborts on")
struct ConfigDateTimeAbortTests {
    @Test(
        "a date followed by T and no time is a syntax error naming line and column",
        arguments: ["apply_delay = 1979-05-27TZ7:32:00\n", "apply = \"auto\"\nsettle_timeout =1979-05-27T:370:200Z\"\n"])
    func dateFollowedByTAndNoTime(text: String) throws {
        var config = Configuration()
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.apply(contentsOf: Array(text.utf8), file: "/etc/livepatchd/livepatchd.toml", to: &config)
        }
        #expect(error.kind == .syntax)
        #expect(error.line == text.split(separator: "\n").count)
        #expect(error.message.contains("date"))
    }

    @Test("a date inside a quoted value is left to the parser")
    func quotedDateIsAString() throws {
        var config = Configuration()
        #expect(throws: ConfigError.self) {
            // Not a date-time value: an ordinary wrong value, reported as such, no abort.
            try ConfigLoader.apply(contentsOf: Array("apply = \"1979-05-27T:00\"\n".utf8), file: "/etc/livepatchd/livepatchd.toml", to: &config)
        }
    }
}

/// toml++ 3 asserts in `parse_value()` ("!is_value_terminator(*cp)") when an array's next value
/// starts with `}`, aborting the daemon (found by the config fuzzer: `bd  = [}`).
@Suite("Config: a '}' where an array's value should be")
struct ConfigArrayValueAbortTests {
    @Test(
        "is a syntax error naming its line and column",
        arguments: [
            ("bd  = [}\n", 1, 8), ("apply = \"auto\"\nx = [1, }\n", 2, 9), ("x = [\n  # a comment\n  }\n", 3, 3),
            ("x = { a = [ } }\n", 1, 13),
        ])
    func refused(text: String, line: Int, column: Int) throws {
        try expectSyntaxError(text, line: line, message: "TOML syntax error at column \(column): expected a value or ']', saw '}'")
    }

    @Test("inside strings and comments it is text, left to the parser")
    func quoted() throws {
        for text in [
            "simulated_root = \"/tmp/[}\"\n", "simulated_root = '/tmp/, }'\n", "simulated_root = \"\"\"\n[\n}\"\"\"\n",
            "simulated_root = \"a\\\"[}\"\n", "apply = \"auto\" # [}\n",
        ] {
            let error = loadError(text)
            #expect(error?.message.contains("saw '}'") != true, "\(text): \(String(describing: error))")
        }
        #expect(loadError("apply = \"auto\" # [}\n") == nil)
    }
}
