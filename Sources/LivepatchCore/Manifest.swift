import FoundationEssentials

/// The manifest of a patch bundle, `NAME.json` (DESIGN.md "Patch bundle").
///
/// Only ``parse(_:)`` builds a manifest from untrusted bytes: it checks every field and
/// says which one is wrong. The synthesized `Codable` conformance is for trusted copies
/// (the store, the state directory) and does not validate.
///
/// Decisions the contract leaves open:
/// - `replace`, `description` and `fixes` are optional (default `false`, `""`, `[]`);
///   `lpbundle create` always writes them. So are the rollout fields, which manifests written
///   before them lack: `sequence` (default 0), `released` (default `created`) and `not_after`
///   (default: never expires). Every other field is required.
/// - Unknown fields are tolerated, so a manifest written by a newer `lpbundle` still
///   verifies here; they are ignored, but they are covered by the signature like the rest.
public struct Manifest: Sendable, Equatable, Codable {
    /// The only format this code understands.
    public static let currentFormat = 1
    /// DESIGN.md: a manifest is at most 64 KiB.
    public static let maximumSize = 64 * 1024

    public var format: Int
    /// The module's name and `/sys/kernel/livepatch/<name>`: `[a-z0-9_]{1,55}`.
    public var name: String
    public var version: String
    /// A plain file name in the patch directory.
    public var module: String
    /// sha256 of the module file, 64 lowercase hex digits.
    public var sha256: String
    /// `uname -r` releases the module is built for; never empty.
    public var kernels: [String]
    /// Cumulative patch: enabling it atomically disables every other livepatch.
    public var replace: Bool
    public var description: String
    /// E.g. CVE ids.
    public var fixes: [String]
    /// RFC 3339, kept exactly as written.
    public var created: String
    /// Increases with every bundle of this name: a lower one than a host has seen is an older
    /// bundle replayed (downgrade protection). Signed like the rest.
    public var sequence: Int
    /// RFC 3339: when the rollout starts; wave K applies at `released + K × rollout_bake`.
    public var released: String?
    /// RFC 3339: a bundle that arrives after this is rejected as expired.
    public var notAfter: String?

    private enum CodingKeys: String, CodingKey {
        case format, name, version, module, sha256, kernels, replace, description, fixes, created, sequence, released
        case notAfter = "not_after"
    }

    public init(
        format: Int = Manifest.currentFormat, name: String, version: String, module: String, sha256: String,
        kernels: [String], replace: Bool = false, description: String = "", fixes: [String] = [], created: String,
        sequence: Int = 0, released: String? = nil, notAfter: String? = nil
    ) {
        self.format = format
        self.name = name
        self.version = version
        self.module = module
        self.sha256 = sha256
        self.kernels = kernels
        self.replace = replace
        self.description = description
        self.fixes = fixes
        self.created = created
        self.sequence = sequence
        self.released = released
        self.notAfter = notAfter
    }

    /// When the rollout of this bundle starts: `released`, or `created` for a manifest without it.
    public var releaseDate: Date? { RFC3339.date(from: released ?? created) }
    public var expiryDate: Date? { notAfter.flatMap(RFC3339.date(from:)) }

    public func encoded() -> Data { Self.signable(self) }

    /// Stable bytes to sign (a manifest, a halt): pretty-printed, keys sorted, a final newline.
    static func signable(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings, ints, bools and string arrays cannot fail.
        guard var data = try? encoder.encode(value) else { return Data() }
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Formats a date as RFC 3339 in UTC with whole seconds, the form `lpbundle create` writes.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
