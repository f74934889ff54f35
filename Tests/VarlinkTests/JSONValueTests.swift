import Foundation
import Testing
import Varlink

@Suite("JSONValue")
struct JSONValueTests {
    private func roundTrip(_ value: JSONValue) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(value.serialized()))
    }

    @Test("serialized values parse back to themselves")
    func roundTrips() throws {
        let value: JSONValue = [
            "null": nil, "yes": true, "no": false, "int": 42, "negative": -7,
            "big": .int(Int.max), "fraction": 1.5, "tiny": 1e-300,
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 🐧",
            "list": [1, "two", [3.25], ["four": 4]], "empty": [:],
        ]
        #expect(try roundTrip(value) == value)
    }

    @Test("integers keep their exact value and case")
    func integersStayIntegers() throws {
        #expect(try roundTrip(.int(Int.max)) == .int(Int.max))
        #expect(try roundTrip(.int(Int.min)) == .int(Int.min))
        #expect(try roundTrip(.double(0.1)) == .double(0.1))
    }

    @Test("a decoded number is the same case after serialization, whatever its text")
    func decodedNumbersAreStable() throws {
        // Found by the Varlink fuzzer: no Int as written, a whole Double once read.
        for text in ["337203685477337199.99", "2.0", "-0.0", "1e300", "0.5", "9223372036854775807"] {
            let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(try roundTrip(decoded) == decoded, "\(text) read as \(decoded)")
        }
    }

    @Test("control characters are escaped so no NUL can end a message early")
    func escapesControlCharacters() {
        let bytes = JSONValue.string("a\u{0}b\u{1f}").serialized()
        #expect(!bytes.contains(0))
        #expect(String(decoding: bytes, as: UTF8.self) == #""a\u0000b\u001f""#)
    }

    @Test("non-finite doubles become null rather than invalid JSON")
    func nonFiniteIsNull() {
        #expect(JSONValue.double(.infinity).serialized() == Array("null".utf8))
        #expect(JSONValue.double(.nan).serialized() == Array("null".utf8))
    }

    @Test("object keys are written sorted, so output is stable")
    func sortedKeys() {
        let value: JSONValue = ["b": 1, "a": 2, "c": 3]
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"a":2,"b":1,"c":3}"#)
    }

    struct Sample: Codable, Equatable {
        var patchName: String
        var blockingTasks: [Int]
        var reason: String?
    }

    @Test("Codable conversion applies the encoder's and decoder's key strategies")
    func codableConversion() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let sample = Sample(patchName: "fix_1", blockingTasks: [12, 13], reason: nil)

        let object = try JSONValue.object(encoding: sample, with: encoder)
        #expect(object["patch_name"] == "fix_1")
        #expect(object["blocking_tasks"] == [12, 13])
        #expect(try JSONValue.decode(Sample.self, from: object, with: decoder) == sample)
    }

    @Test("parameters must encode as an object")
    func parametersMustBeObject() {
        #expect(throws: EncodingError.self) { try JSONValue.object(encoding: [1, 2, 3]) }
    }

    @Test("accessors read the matching case only")
    func accessors() {
        let value: JSONValue = ["n": 3, "d": 2.0, "s": "x", "a": [true]]
        #expect(value["n"]?.intValue == 3)
        #expect(value["d"]?.intValue == 2)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["s"]?.intValue == nil)
        #expect(value["a"]?.arrayValue == [true])
        #expect(value["missing"] == nil)
    }
}
