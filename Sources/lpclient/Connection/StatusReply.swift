import LivepatchAPI
import Varlink

/// GetStatus's reply: read as a ``Status`` and kept as received, for `--json`.
struct StatusReply {
    var status: Status
    var parameters: [String: JSONValue]

    /// The parameters as JSON text, keys sorted; written only when asked for.
    var json: [UInt8] { JSONValue.object(parameters).serialized() }
}

/// GetStatus's reply read from its JSON members directly, not through `JSONDecoder`: monitoring
/// runs `lpclient status` every minute on every host, and the first Codable decode in a process
/// instantiates generic metadata and scans the binary's protocol conformances. Callgrind on
/// `lpclient status`: 6.06 M instructions, of them 2.15 M decoding this reply through
/// `JSONDecoder` (1.3 M in conformance lookups); a minimal static Swift program printing JSON
/// takes 3.42 M, and under TCG the time follows the instructions.
///
/// The wire names are those `LivepatchInterface.makeEncoder()` gives `Status` (snake_case);
/// lpclient's integration tests run it against the daemon's real replies.
extension Status {
    init(reply parameters: [String: JSONValue]) throws(ClientError) {
        let reply = ReplyObject(parameters, path: "GetStatus reply")
        let kernel = try reply.object("kernel")
        self.init(
            summary: try reply.required("summary", \.stringValue, "a string"),
            degraded: try reply.required("degraded", \.boolValue, "a boolean"),
            problems: try reply.required("problems", { $0.arrayValue.flatMap { every($0, \.stringValue) } }, "a list of strings"),
            backend: try reply.required("backend", \.stringValue, "a string"),
            apply: try reply.required("apply", \.stringValue, "a string"),
            kernel: KernelSupport(
                release: try kernel.required("release", \.stringValue, "a string"),
                livepatch: try kernel.required("livepatch", \.boolValue, "a boolean"),
                ftrace: try kernel.optional("ftrace", \.boolValue, "a boolean"),
                lockdown: try kernel.optional("lockdown", \.stringValue, "a string"),
                signatureEnforced: try kernel.optional("signature_enforced", \.boolValue, "a boolean"),
                taint: try kernel.optional("taint", \.intValue, "an integer"),
                simulated: try kernel.required("simulated", \.boolValue, "a boolean")),
            counts: try reply.required("counts", { $0.objectValue.flatMap { every($0, \.intValue) } }, "an object of integers"),
            daemonVersion: try reply.required("daemon_version", \.stringValue, "a string"))
    }
}

/// Every element read as `T`, or nil when one is not.
private func every<T>(_ array: [JSONValue], _ read: (JSONValue) -> T?) -> [T]? {
    let values = array.compactMap(read)
    return values.count == array.count ? values : nil
}

private func every<T>(_ object: [String: JSONValue], _ read: (JSONValue) -> T?) -> [String: T]? {
    let values = object.compactMapValues(read)
    return values.count == object.count ? values : nil
}

/// One JSON object of a reply, whose members are read by name and type; a member missing or of
/// another type is a protocol error that names it (`GetStatus reply.kernel.taint`).
private struct ReplyObject {
    let members: [String: JSONValue]
    let path: String

    init(_ members: [String: JSONValue], path: String) {
        self.members = members
        self.path = path
    }

    func object(_ key: String) throws(ClientError) -> ReplyObject {
        ReplyObject(try required(key, \.objectValue, "an object"), path: "\(path).\(key)")
    }

    func required<T>(_ key: String, _ read: (JSONValue) -> T?, _ kind: String) throws(ClientError) -> T {
        guard let value = try optional(key, read, kind) else { throw mismatch(key, kind, found: "nothing") }
        return value
    }

    /// nil when the member is absent or null, as JSONDecoder reads an optional.
    func optional<T>(_ key: String, _ read: (JSONValue) -> T?, _ kind: String) throws(ClientError) -> T? {
        guard let value = members[key], value != .null else { return nil }
        guard let read = read(value) else { throw mismatch(key, kind, found: value.kindName) }
        return read
    }

    private func mismatch(_ key: String, _ kind: String, found: String) -> ClientError {
        .protocolError("\(path).\(key) should be \(kind), found \(found) (is the daemon of another version?)")
    }
}
