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

    /// Every valid `*.pub` in `directory` (hidden files skipped), and the ones that were not valid.
    /// Throws when the directory itself cannot be listed (ENOENT included: the caller decides).
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
        return (TrustedKeys(keys), problems)
    }
}
