/// A method call: `{"method": "iface.Method", "parameters": {...}, "more": true, ...}`.
public struct VarlinkCall: Sendable, Equatable {
    /// The qualified method name, `interface.Method`.
    public var method: String
    public var parameters: [String: JSONValue]
    /// The client accepts several replies; all but the last carry `continues: true`.
    public var more: Bool
    /// The client wants no reply at all.
    public var oneway: Bool
    /// The connection switches to another protocol after the reply.
    public var upgrade: Bool

    public init(
        method: String, parameters: [String: JSONValue] = [:], more: Bool = false, oneway: Bool = false,
        upgrade: Bool = false
    ) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
        self.upgrade = upgrade
    }

    /// The interface part of ``method`` (`io.livepatchd` for `io.livepatchd.GetStatus`).
    public var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// The unqualified method name (`GetStatus`).
    public var member: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }

    /// Parses one message (without or with its terminating NUL); unknown top-level keys are
    /// ignored, as the Varlink specification asks.
    public init(frame: some Collection<UInt8>) throws(VarlinkMessageError) {
        let object = try MessageFields.topLevelObject(frame)
        guard let methodValue = object["method"] else { throw .missingField("method") }
        guard case .string(let method) = methodValue else {
            throw .wrongType(field: "method", expected: "a string", found: methodValue.kindName)
        }
        guard VarlinkNames.splitQualified(method) != nil else { throw .invalidMethodName(method) }
        self.method = method
        self.parameters = try MessageFields.parameters(in: object)
        self.more = try MessageFields.flag("more", in: object)
        self.oneway = try MessageFields.flag("oneway", in: object)
        self.upgrade = try MessageFields.flag("upgrade", in: object)
    }

    /// The message as sent on the wire: JSON followed by NUL.
    public func encodeFrame() -> [UInt8] {
        var object: [String: JSONValue] = ["method": .string(method), "parameters": .object(parameters)]
        if more { object["more"] = true }
        if oneway { object["oneway"] = true }
        if upgrade { object["upgrade"] = true }
        return MessageFields.frame(object)
    }
}

/// A reply: `{"parameters": {...}, "continues": true, "error": "iface.ErrorName"}`.
public struct VarlinkReply: Sendable, Equatable {
    public var parameters: [String: JSONValue]
    /// More replies to the same call follow.
    public var continues: Bool
    /// The qualified error name when the call failed; `parameters` are then the error's.
    public var error: String?

    public init(parameters: [String: JSONValue] = [:], continues: Bool = false, error: String? = nil) {
        self.parameters = parameters
        self.continues = continues
        self.error = error
    }

    /// An error reply.
    public static func error(_ name: String, parameters: [String: JSONValue] = [:]) -> VarlinkReply {
        VarlinkReply(parameters: parameters, error: name)
    }

    /// Parses one message (without or with its terminating NUL). Accepts `"continues": false`
    /// and `null` fields, which other implementations send.
    public init(frame: some Collection<UInt8>) throws(VarlinkMessageError) {
        let object = try MessageFields.topLevelObject(frame)
        self.parameters = try MessageFields.parameters(in: object)
        self.continues = try MessageFields.flag("continues", in: object)
        switch object["error"] {
        case nil, .null?:
            self.error = nil
        case .string(let name)?:
            guard VarlinkNames.splitQualified(name) != nil else { throw .invalidErrorName(name) }
            self.error = name
        case let other?:
            throw .wrongType(field: "error", expected: "a string", found: other.kindName)
        }
    }

    public func encodeFrame() -> [UInt8] {
        var object: [String: JSONValue] = ["parameters": .object(parameters)]
        if continues { object["continues"] = true }
        if let error { object["error"] = .string(error) }
        return MessageFields.frame(object)
    }

    /// A final reply in its wire form, made once for a reply that many calls get unchanged
    /// (a server then writes the bytes instead of encoding the same value again).
    public struct Encoded: Sendable, Equatable {
        /// The message followed by its NUL.
        public let frame: [UInt8]
    }

    /// This reply as the last one of its call (`continues` false), encoded.
    public func encodedFinal() -> Encoded {
        var final = self
        final.continues = false
        return Encoded(frame: final.encodeFrame())
    }
}

/// Field rules shared by calls and replies.
enum MessageFields {
    static func topLevelObject(_ frame: some Collection<UInt8>) throws(VarlinkMessageError) -> [String: JSONValue] {
        var bytes = Array(frame)
        if bytes.last == 0 { bytes.removeLast() }
        if let nul = bytes.firstIndex(of: 0) { throw .embeddedNUL(offset: nul) }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch {
            throw .invalidJSON(error.description)
        }
        guard case .object(let object) = value else { throw .notAnObject(found: value.kindName) }
        return object
    }

    /// `parameters` may be absent or null (meaning none) but otherwise must be an object.
    static func parameters(in object: [String: JSONValue]) throws(VarlinkMessageError) -> [String: JSONValue] {
        switch object["parameters"] {
        case nil, .null?: return [:]
        case .object(let parameters)?: return parameters
        case let other?: throw .wrongType(field: "parameters", expected: "an object", found: other.kindName)
        }
    }

    static func flag(_ name: String, in object: [String: JSONValue]) throws(VarlinkMessageError) -> Bool {
        switch object[name] {
        case nil, .null?: return false
        case .bool(let value)?: return value
        case let other?: throw .wrongType(field: name, expected: "a boolean", found: other.kindName)
        }
    }

    static func frame(_ object: [String: JSONValue]) -> [UInt8] {
        var output: [UInt8] = []
        JSONValue.serialize(object: object, into: &output)
        output.append(0)
        return output
    }
}
