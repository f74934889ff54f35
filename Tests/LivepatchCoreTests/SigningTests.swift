import Foundation
import LivepatchCore
import Testing

@Suite("Ed25519 signing")
struct SigningTests {
    let message = Array("{\"name\": \"lp\"}\n".utf8)

    @Test func signAndVerifyRoundTripThroughFiles() throws {
        let key = SigningKey()
        let reloaded = try SigningKey(fileContents: Array(key.fileContents.utf8))
        let publicKey = try PublicKey(name: "release", fileContents: Array(key.publicKey(name: "release").fileContents.utf8))
        #expect(publicKey == reloaded.publicKey(name: "release"))
        let signature = try reloaded.signatureFileContents(for: message)
        let trusted = TrustedKeys([try PublicKey(name: "other", rawRepresentation: SigningKey().publicKey(name: "x").rawRepresentation), publicKey])
        #expect(try trusted.verify(signatureFile: Array(signature.utf8), of: message) == "release")
    }

    @Test func keyFilesAreOneLineOfBase64() throws {
        let key = SigningKey()
        #expect(key.fileContents.hasSuffix("\n"))
        #expect(key.fileContents.dropLast().allSatisfy { !$0.isNewline })
        #expect(Data(base64Encoded: String(key.fileContents.dropLast()))?.count == 32)
    }

    @Test func tamperedMessageOrSignatureFails() throws {
        let key = SigningKey()
        let trusted = TrustedKeys([key.publicKey(name: "k")])
        let signature = try key.signatureFileContents(for: message)
        var tampered = message
        tampered[2] ^= 0x01
        #expect(throws: SignatureError.noTrustedKeyMatched(tried: ["k"])) {
            try trusted.verify(signatureFile: Array(signature.utf8), of: tampered)
        }
        var raw = try #require(Data(base64Encoded: String(signature.dropLast())))
        raw[0] ^= 0x01
        #expect(throws: SignatureError.noTrustedKeyMatched(tried: ["k"])) {
            try trusted.verify(signatureFile: Array(raw.base64EncodedString().utf8), of: message)
        }
    }

    @Test func signatureFileFormat() throws {
        let key = SigningKey()
        let trusted = TrustedKeys([key.publicKey(name: "k")])
        let line = String(try key.signatureFileContents(for: message).dropLast())
        // Without the trailing newline is fine; a second line, CRLF or spaces are not.
        #expect(try trusted.verify(signatureFile: Array(line.utf8), of: message) == "k")
        for bad in ["\(line)\n\n", "\(line)\r\n", " \(line)", "", "\n", "!!!!\n"] {
            #expect(throws: SignatureError.notBase64(what: "signature")) {
                try trusted.verify(signatureFile: Array(bad.utf8), of: message)
            }
        }
        #expect(throws: SignatureError.wrongLength(what: "signature", bytes: 3, expected: 64)) {
            try trusted.verify(signatureFile: Array("AAAA\n".utf8), of: message)
        }
    }

    @Test func noTrustedKeysIsItsOwnError() throws {
        let signature = try SigningKey().signatureFileContents(for: message)
        #expect(throws: SignatureError.noTrustedKeys) {
            try TrustedKeys().verify(signatureFile: Array(signature.utf8), of: message)
        }
    }

    @Test func badKeyFilesAreRejected() {
        #expect(throws: SignatureError.wrongLength(what: "public key", bytes: 3, expected: 32)) {
            try PublicKey(name: "k", fileContents: Array("AAAA\n".utf8))
        }
        #expect(throws: SignatureError.notBase64(what: "private key")) {
            try SigningKey(fileContents: Array("-----BEGIN PRIVATE KEY-----\nxx\n".utf8))
        }
    }
}
