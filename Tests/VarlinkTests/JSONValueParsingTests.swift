import Foundation
import Testing
import Varlink

@Suite("JSONValue parsing")
struct JSONValueParsingTests {
    private func parse(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    @Test("what the serializer writes parses back to the same value")
    func roundTrips() throws {
        let value: JSONValue = [
            "null": nil, "yes": true, "no": false, "int": 42, "negative": -7, "max": .int(Int.max),
            "min": .int(Int.min), "fraction": 1.5, "tiny": 1e-300, "tenth": 0.1,
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{0} é 🐧",
            "list": [1, "two", [3.25], ["four": 4]], "empty": [:], "none": [],
        ]
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test("it reads what other encoders write: whitespace, escapes, exponents, surrogate pairs")
    func readsOtherWriters() throws {
        let value = try parse(" {\n\t\"a\" : [ 1 , 2.5e3, -0.0, 1E-2 ] ,\r\n \"s\":\"\\u00e9\\ud83d\\udc27\\/\\b\\f\" } ")
        #expect(value["a"] == [1, 2500.0, .double(-0.0), 0.01])
        #expect(value["s"] == "é🐧/\u{08}\u{0C}")
    }

    @Test("it agrees with Foundation's decoder on a Varlink reply")
    func agreesWithFoundation() throws {
        let text = #"{"parameters":{"patches":[{"name":"fix_1","taint":12288,"ok":true,"reason":null,"kernels":["6.1.0-56-amd64"]}]},"continues":true}"#
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try parse(text) == foundation)
    }

    @Test("integers beyond Int are read as doubles, not refused")
    func hugeIntegers() throws {
        #expect(try parse("18446744073709551616") == .double(18446744073709551616.0))
    }

    @Test(
        "malformed JSON is refused with what and where",
        arguments: [
            ("", "empty input", 0),
            ("not json", "unexpected 'n'", 0),
            ("{\"a\":1,}", "unexpected '}'", 7),
            ("[1 2]", "unexpected '2'", 3),
            ("{\"a\" 1}", "':' should follow", 5),
            ("{a:1}", "object key", 1),
            ("\"open", "not terminated", 0),
            ("\"tab\there\"", "control character", 4),
            ("\"\\x\"", "invalid escape", 1),
            ("\"\\ud83d\"", "unpaired UTF-16 surrogate", 1),
            ("\"\\u12\"", "4 hex digits", 1),
            ("01", "invalid number", 0),
            ("-", "invalid number", 0),
            ("1.", "invalid number", 0),
            ("1e", "invalid number", 0),
            ("1e999", "out of range", 0),
            ("{} {}", "after the JSON value", 3),
            ("[1,", "end of input", 3),
            ("tru", "unexpected 't'", 0),
            ("'single'", "unexpected '''", 0),
            ("NaN", "unexpected 'N'", 0),
        ]
    )
    func refusesMalformed(text: String, reason: String, offset: Int) {
        #expect {
            try parse(text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.description.contains(reason) && error.offset == offset
        }
    }

    @Test("bytes that are not UTF-8 are refused inside a string")
    func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("nesting past the limit is refused instead of exhausting the stack")
    func nestingLimit() throws {
        let allowed = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        #expect(throws: Never.self) { try parse(allowed) }
        let hostile = String(repeating: "[", count: 100_000)
        #expect {
            try parse(hostile)
        } throws: { error in
            (error as? JSONParseError)?.description.contains("nested deeper than \(JSONValue.maxDepth)") == true
        }
    }
}
