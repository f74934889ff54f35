import Crypto
import FoundationEssentials

// Key and signature files (DESIGN.md "Patch bundle"), all one line of standard base64
// (with padding), optionally followed by one "\n":
//   NAME.pub      the raw 32-byte Ed25519 public key
//   NAME.key      the raw 32-byte Ed25519 private key (seed); keep it mode 0600
//   NAME.json.sig the raw 64-byte Ed25519 signature of the exact manifest bytes
// Raw keys rather than PEM/OpenSSH keep the parser small and the files diffable.

/// A key file or a signature file that is not what it must be.
public enum SignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing to check against: the keys directory holds no usable `*.pub`.
    case noTrustedKeys
    /// Well-formed, but made by none of these keys.
    case noTrustedKeyMatched(tried: [String])
    /// Not exactly one line of base64 (`what` is "signature", "public key" or "private key").
    case notBase64(what: String)
    case wrongLength(what: String, bytes: Int, expected: Int)
    /// Made by a key listed in the keys directory's `revoked` file.
    case revokedKey(String)

    public var description: String {
        switch self {
        case .noTrustedKeys:
            "no trusted public key is installed (add NAME.pub files to the keys directory)"
        case .noTrustedKeyMatched(let tried):
            "the signature was not made by any trusted key (tried \(tried.joined(separator: ", ")))"
        case .notBase64(let what):
            "the \(what) is not one line of base64"
        case .wrongLength(let what, let bytes, let expected):
            "the \(what) decodes to \(bytes) bytes instead of \(expected)"
        case .revokedKey(let name):
            "it was made by the key \(name), which is revoked (listed in the keys directory's revoked file)"
        }
    }
}

/// Decodes a one-line base64 file body; tolerates exactly one trailing "\n".
func decodeOneLineBase64(_ bytes: [UInt8], what: String, length: Int) throws(SignatureError) -> Data {
    var line = bytes[...]
    if line.last == UInt8(ascii: "\n") { line = line.dropLast() }
    guard !line.isEmpty, !line.contains(UInt8(ascii: "\n")), let data = Data(base64Encoded: Data(line)) else {
        throw .notBase64(what: what)
    }
    guard data.count == length else { throw .wrongLength(what: what, bytes: data.count, expected: length) }
    return data
}

/// A trusted Ed25519 public key and the name it was installed under (`NAME.pub`).
public struct PublicKey: Sendable, Equatable {
    public var name: String
    public var rawRepresentation: Data

    public init(name: String, rawRepresentation: Data) throws(SignatureError) {
        guard rawRepresentation.count == 32 else {
            throw .wrongLength(what: "public key", bytes: rawRepresentation.count, expected: 32)
        }
        self.name = name
        self.rawRepresentation = rawRepresentation
    }

    fileprivate init(name: String, checkedRawRepresentation: Data) {
        self.name = name
        self.rawRepresentation = checkedRawRepresentation
    }

    /// Reads the contents of a `NAME.pub` file.
    public init(name: String, fileContents: [UInt8]) throws(SignatureError) {
        try self.init(name: name, rawRepresentation: decodeOneLineBase64(fileContents, what: "public key", length: 32))
    }

    /// What `NAME.pub` holds.
    public var fileContents: String { rawRepresentation.base64EncodedString() + "\n" }

    public func isValidSignature(_ signature: Data, of message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// An Ed25519 private key as `lpbundle` keeps it in `NAME.key`.
public struct SigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A fresh random key.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// Reads the contents of a `NAME.key` file.
    public init(fileContents: [UInt8]) throws(SignatureError) {
        let raw = try decodeOneLineBase64(fileContents, what: "private key", length: 32)
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        } catch {
            throw .wrongLength(what: "private key", bytes: raw.count, expected: 32)
        }
    }

    /// What `NAME.key` holds.
    public var fileContents: String { key.rawRepresentation.base64EncodedString() + "\n" }

    public func publicKey(name: String) -> PublicKey {
        PublicKey(name: name, checkedRawRepresentation: key.publicKey.rawRepresentation)
    }

    /// What `NAME.json.sig` holds for `message`.
    public func signatureFileContents(for message: [UInt8]) throws -> String {
        try key.signature(for: message).base64EncodedString() + "\n"
    }
}

/// The public keys a signature may come from, by name.
public struct TrustedKeys: Sendable, Equatable {
    public private(set) var keys: [PublicKey]
    /// Keys that no longer verify anything; kept to say so when a signature is theirs.
    public private(set) var revoked: [PublicKey]

    public init(_ keys: [PublicKey] = [], revoked: [PublicKey] = []) {
        self.keys = keys.sorted { $0.name < $1.name }
        self.revoked = revoked.sorted { $0.name < $1.name }
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// Checks the contents of a `NAME.json.sig` against the exact manifest bytes.
    /// - Returns: the name of the key that made the signature.
    public func verify(signatureFile: [UInt8], of manifest: [UInt8]) throws(SignatureError) -> String {
        let signature = try decodeOneLineBase64(signatureFile, what: "signature", length: 64)
        if let key = revoked.first(where: { $0.isValidSignature(signature, of: manifest) }) { throw .revokedKey(key.name) }
        guard !keys.isEmpty else { throw .noTrustedKeys }
        guard let key = keys.first(where: { $0.isValidSignature(signature, of: manifest) }) else {
            throw .noTrustedKeyMatched(tried: keys.map(\.name))
        }
        return key.name
    }
}
