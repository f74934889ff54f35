import FoundationEssentials

/// A halt file: the authors of a patch stop its rollout the way patches travel, by a signed
/// file in the patch directory (`TARGET.halt` and its detached signature `TARGET.halt.sig`,
/// made by `lpbundle halt`).
///
/// ```json
/// {"format": 1, "halt": "cve_2026_1234", "revert": false, "reason": "…", "created": "2026-12-03T10:00:00Z"}
/// ```
/// `halt` is a patch name (every version of it) or a module's sha256 (that build only). Hosts
/// that have not applied the patch do not apply it (state `halted`); with `revert: true`, hosts
/// that applied it revert it too. Removing the file resumes the rollout.
public struct Halt: Sendable, Equatable, Codable {
    public static let currentFormat = 1
    public static let maximumSize = 16 * 1024
    public static let fileSuffix = ".halt"

    public var format: Int
    /// A patch name, or 64 hex digits of a module's sha256.
    public var halt: String
    public var revert: Bool
    public var reason: String
    /// RFC 3339.
    public var created: String

    public init(format: Int = Halt.currentFormat, halt: String, revert: Bool, reason: String, created: String) {
        self.format = format
        self.halt = halt
        self.revert = revert
        self.reason = reason
        self.created = created
    }

    public var targetsModuleHash: Bool { halt.utf8.count == 64 }

    /// The file name `lpbundle halt` gives it.
    public var fileName: String { halt + Self.fileSuffix }

    public func matches(_ descriptor: PatchDescriptor) -> Bool {
        targetsModuleHash ? descriptor.sha256 == halt : descriptor.name == halt
    }

    /// Stable bytes to sign, as for a manifest.
    public func encoded() -> Data { Manifest.signable(self) }

    public static func parse(_ bytes: [UInt8]) throws(ManifestError) -> Halt {
        let fields = try Fields.parse(bytes, limit: maximumSize)
        let format = try fields.number("format")
        guard format == Double(currentFormat) else {
            throw .invalidValue(field: "format", reason: "must be \(currentFormat), got \(JSONValue.number(format).text)")
        }
        let halt = try fields.string("halt")
        let isHash = halt.utf8.count == 64 && halt.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard isHash || Manifest.isValidName(halt) else {
            throw .invalidValue(field: "halt", reason: "must be a patch name or a module's sha256 (64 lowercase hex digits), got \"\(halt)\"")
        }
        let created = try fields.string("created")
        guard RFC3339.isValid(created) else {
            throw .invalidValue(field: "created", reason: "must be an RFC 3339 timestamp such as 2026-11-05T14:03:00Z, got \"\(created)\"")
        }
        return Halt(
            halt: halt, revert: try fields.bool("revert", default: false), reason: try fields.string("reason", default: ""),
            created: created)
    }
}

/// A halt file that verified: its name in the patch directory and who signed it.
public struct VerifiedHalt: Sendable, Equatable {
    public var file: String
    public var halt: Halt
    /// The trusted key; nil when signatures are not required.
    public var signedBy: String?

    public init(file: String, halt: Halt, signedBy: String?) {
        self.file = file
        self.halt = halt
        self.signedBy = signedBy
    }

    /// The reason a halted patch shows.
    public var patchReason: PatchReason {
        let by = signedBy.map { ", signed by \($0)" } ?? ""
        let why = halt.reason.isEmpty ? "" : ": \(halt.reason)"
        let what = halt.revert ? "rollout halted and reverted" : "rollout halted"
        return PatchReason(.halted, "\(what) by \(file)\(by)\(why)")
    }
}
