import Foundation
import LivepatchCore
import Testing

private let goodSHA = String(repeating: "ab", count: 32)

/// A valid manifest as a JSON object text, with `edits` applied (nil removes a field).
private func manifestJSON(_ edits: [String: String?] = [:]) -> [UInt8] {
    var fields: [String: String] = [
        "format": "1", "name": "\"lp_fix\"", "version": "\"1\"", "module": "\"lp-fix.ko\"",
        "sha256": "\"\(goodSHA)\"", "kernels": "[\"6.1.0-56-amd64\"]", "replace": "false",
        "description": "\"d\"", "fixes": "[\"CVE-2026-1\"]", "created": "\"2026-11-05T14:03:00Z\"",
    ]
    for (key, value) in edits { fields[key] = value }
    let body = fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
    return Array("{\(body)}".utf8)
}

private func parseError(_ bytes: [UInt8]) -> ManifestError? {
    do {
        _ = try Manifest.parse(bytes)
        return nil
    } catch {
        return error
    }
}

@Suite("Manifest parsing")
struct ManifestTests {
    @Test func parsesAValidManifest() throws {
        let manifest = try Manifest.parse(manifestJSON())
        #expect(manifest == Manifest(
            name: "lp_fix", version: "1", module: "lp-fix.ko", sha256: goodSHA, kernels: ["6.1.0-56-amd64"],
            replace: false, description: "d", fixes: ["CVE-2026-1"], created: "2026-11-05T14:03:00Z"))
    }

    @Test func optionalFieldsDefaultAndUnknownFieldsAreTolerated() throws {
        let manifest = try Manifest.parse(manifestJSON(["replace": nil, "description": nil, "fixes": nil, "x_future": "{\"a\": 1}"]))
        #expect(manifest.replace == false)
        #expect(manifest.description == "")
        #expect(manifest.fixes == [])
    }

    @Test func encodedIsStableAndParsesBack() throws {
        let manifest = try Manifest.parse(manifestJSON(["replace": "true"]))
        let encoded = manifest.encoded()
        #expect(try Manifest.parse(encoded) == manifest)
        #expect(encoded == manifest.encoded())
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.range(of: "\"created\"")?.lowerBound ?? text.endIndex < text.range(of: "\"version\"")?.lowerBound ?? text.startIndex)
    }

    @Test func timestampIsRFC3339() throws {
        let stamp = Manifest.timestamp(Date(timeIntervalSince1970: 0))
        #expect(stamp == "1970-01-01T00:00:00Z")
    }

    @Test func rejectsOversizeNonUTF8AndNonJSON() {
        let big = Array("{\"pad\": \"\(String(repeating: "x", count: Manifest.maximumSize))\"}".utf8)
        #expect(parseError(big) == .tooLarge(size: big.count, limit: Manifest.maximumSize))
        #expect(parseError([0x7b, 0xff, 0xfe, 0x7d]) == .notUTF8)
        guard case .notJSON = parseError(Array("{\"format\": 1,".utf8)) else {
            Issue.record("truncated JSON was not notJSON")
            return
        }
        #expect(parseError(Array("[1, 2]".utf8)) == .notAnObject(got: "a list"))
    }

    @Test(arguments: ["format", "name", "version", "module", "sha256", "kernels", "created"])
    func requiredFieldsMustBePresent(field: String) {
        #expect(parseError(manifestJSON([field: nil])) == .missingField(field))
    }

    @Test func duplicateFieldsAreRefused() {
        var bytes = manifestJSON()
        bytes.removeLast()
        bytes += Array(", \"fixes\": [{\"name\": 1, \"name\": 2}]}".utf8)
        #expect(parseError(bytes) == .duplicateField("fixes"))
        var nameTwice = manifestJSON(["fixes": nil])
        nameTwice.removeLast()
        nameTwice += Array(", \"n\\u0061me\": \"other\"}".utf8)
        #expect(parseError(nameTwice) == .duplicateField("name"))
        #expect(ManifestError.duplicateField("name").description == "field \"name\" appears more than once")
    }

    @Test func wrongTypesAreNamed() {
        let kernels = parseError(manifestJSON(["kernels": "5"]))
        #expect(kernels == .wrongType(field: "kernels", expected: "a list of strings", got: "a number"))
        #expect(kernels?.description == "field \"kernels\" must be a list of strings, got a number")
        #expect(parseError(manifestJSON(["kernels": "[\"a\", 1]"]))
            == .wrongType(field: "kernels", expected: "a list of strings", got: "a list containing a number"))
        #expect(parseError(manifestJSON(["format": "\"1\""])) == .wrongType(field: "format", expected: "a number", got: "a string"))
        #expect(parseError(manifestJSON(["replace": "1"])) == .wrongType(field: "replace", expected: "true or false", got: "a number"))
        #expect(parseError(manifestJSON(["name": "null"])) == .wrongType(field: "name", expected: "a string", got: "null"))
        #expect(parseError(manifestJSON(["fixes": "\"CVE\""])) == .wrongType(field: "fixes", expected: "a list of strings", got: "a string"))
        #expect(parseError(manifestJSON(["description": "true"])) == .wrongType(field: "description", expected: "a string", got: "a boolean"))
    }

    @Test(arguments: [
        ("format", "2"), ("name", "\"Bad-Name\""), ("name", "\"\""), ("name", "\"\(String(repeating: "a", count: 56))\""),
        ("version", "\"\""), ("module", "\"../evil.ko\""), ("module", "\"..\""), ("module", "\".\""), ("module", "\"a\\u0000b\""),
        ("module", "\"\""), ("sha256", "\"\(goodSHA.uppercased())\""), ("sha256", "\"abc\""), ("kernels", "[]"),
        ("kernels", "[\"6.1 SMP\"]"), ("created", "\"yesterday\""), ("created", "\"2026-02-30T00:00:00Z\""),
        ("created", "\"2026-11-05 14:03:00Z\""), ("created", "\"2026-11-05T14:03:00\""),
    ])
    func invalidValuesAreNamed(field: String, value: String) {
        guard case .invalidValue(let named, _) = parseError(manifestJSON([field: value])) else {
            Issue.record("\(field)=\(value) was not rejected as an invalid value")
            return
        }
        #expect(named == field)
    }

    @Test(arguments: ["2026-11-05T14:03:00Z", "2026-11-05t14:03:00z", "2026-11-05T14:03:00.123+01:00", "2024-02-29T23:59:60-05:30"])
    func acceptsRFC3339Timestamps(created: String) throws {
        #expect(try Manifest.parse(manifestJSON(["created": "\"\(created)\""])).created == created)
    }

    @Test func nameIsTheKernelsModuleNameShape() {
        #expect(Manifest.isValidName("livepatch_cmdline_2"))
        #expect(Manifest.isValidName(String(repeating: "a", count: 55)))
        #expect(!Manifest.isValidName("livepatch-cmdline"))
    }
}
