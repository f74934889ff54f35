import FoundationEssentials
import Glibc
import LivepatchCore
import LivepatchSystem

/// Small file helpers for an author tool that runs on a workstation.
enum Files {
    /// `warning: message` on standard error: said, and the command goes on.
    static func warn(_ message: String) {
        StandardError.write("warning: \(message)\n")
    }

    static func fileName(of path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Two paths naming the same file (so `create --out` may be the module's own directory).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat()
        var second = stat()
        return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev
            && first.st_ino == second.st_ino
    }

    /// A signed document (a manifest, a halt file) and its detached signature, `PATH.sig`,
    /// each written atomically; the signature last, so a daemon never pairs it with older bytes.
    static func writeSigned(_ bytes: [UInt8], to path: String, key: SigningKey) throws {
        try AtomicFile.write(bytes, to: path, mode: 0o644)
        try AtomicFile.write(Array(try key.signatureFileContents(for: bytes).utf8), to: "\(path).sig", mode: 0o644)
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
