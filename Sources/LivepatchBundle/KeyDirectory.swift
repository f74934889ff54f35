import FoundationEssentials
import LivepatchCore
import LivepatchSystem

/// Loads trusted public keys from a directory of `NAME.pub` files (`/etc/livepatchd/keys`).
public enum KeyDirectory {
    /// A `*.pub` that was skipped, and why; worth a warning, never fatal for the others.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var detail: String
        public var description: String { "\(file): \(detail)" }
    }

    /// Public keys are tiny; anything bigger is not one.
    static let maximumKeyFileSize: Int64 = 4096

    /// The file listing revoked keys, one a line: a key's name (its `NAME.pub` without `.pub`)
    /// or its public key in base64 as `NAME.pub` holds it; `#` starts a comment. A revoked key
    /// verifies nothing, even while its `.pub` is still installed.
    public static let revokedFile = "revoked"
    static let maximumRevokedFileSize: Int64 = 256 * 1024

    /// Every valid `*.pub` in `directory` (hidden files skipped) that is not revoked, and the ones
    /// that were not valid. Throws when the directory itself cannot be listed (ENOENT included:
    /// the caller decides).
    public static func load(_ directory: String) throws(SystemError) -> (keys: TrustedKeys, problems: [Problem]) {
        var keys: [PublicKey] = []
        var problems: [Problem] = []
        for file in try Directory.entries(directory) where file.hasSuffix(".pub") && !file.hasPrefix(".") {
            let name = String(file.dropLast(".pub".count))
            let path = "\(directory)/\(file)"
            do {
                let bytes = try SafeFile.read(path: path, limit: maximumKeyFileSize)
                do {
                    keys.append(try PublicKey(name: name, fileContents: bytes))
                } catch {
                    problems.append(Problem(file: path, detail: error.description))
                }
            } catch {
                problems.append(Problem(file: path, detail: error.description))
            }
        }
        let revokedPath = "\(directory)/\(revokedFile)"
        var revokedEntries: Set<String> = []
        do {
            let text = String(decoding: try SafeFile.read(path: revokedPath, limit: maximumRevokedFileSize), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let trimmed = entry.trimmed
                if !trimmed.isEmpty { revokedEntries.insert(String(trimmed)) }
            }
        } catch .missing(_) {
            // No revoked keys.
        } catch {
            // Unreadable: trusting keys someone meant to revoke would be worse than trusting none.
            problems.append(Problem(file: revokedPath, detail: "\(error); no key is trusted until it can be read"))
            return (TrustedKeys([], revoked: keys), problems)
        }
        let isRevoked = { (key: PublicKey) in
            revokedEntries.contains(key.name) || revokedEntries.contains(key.rawRepresentation.base64EncodedString())
        }
        return (TrustedKeys(keys.filter { !isRevoked($0) }, revoked: keys.filter(isRevoked)), problems)
    }
}
