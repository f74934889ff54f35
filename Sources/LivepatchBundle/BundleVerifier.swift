import Crypto
import LivepatchCore
import LivepatchSystem

/// Verifies one bundle in the patch directory the way DESIGN.md "Patch bundle" orders it;
/// shared by `livepatchd` and `lpbundle verify` so both decide alike. It writes nothing: the
/// daemon then stores what verified (``PatchStore/commit(_:limit:)``), `lpbundle verify` does not.
///
/// Nothing in the patch directory is modified. Files are opened without following symlinks;
/// the module is opened once, and its hash and its modinfo are read from that same open inode.
public struct BundleVerifier: Sendable {
    public let patchDirectory: String
    public let keys: TrustedKeys
    public let policy: Policy

    /// Signatures are one line of base64; generous, but bounded.
    static let maximumSignatureSize: Int64 = 4096

    public init(patchDirectory: String, keys: TrustedKeys, policy: Policy) {
        self.patchDirectory = patchDirectory
        self.keys = keys
        self.policy = policy
    }

    /// Manifest files in `directory`: `*.json`, sorted, hidden files skipped.
    public static func manifestFileNames(inDirectory directory: String) throws(SystemError) -> [String] {
        try Directory.entries(directory).filter { $0.hasSuffix(".json") && $0.count > 5 && !$0.hasPrefix(".") }
    }

    /// `name` with everything outside printable ASCII escaped (`\n`, `\u{1B}`, `\u{FFFD}` for bytes
    /// that were not UTF-8).
    static func printable(_ name: String) -> String {
        var shown = ""
        for scalar in name.unicodeScalars {
            if (0x20...0x7e).contains(scalar.value) && scalar != "\\" {
                shown.unicodeScalars.append(scalar)
            } else {
                shown += scalar.escaped(asASCII: true)
            }
        }
        return shown
    }

    public func verify(manifestFileName: String) -> BundleOutcome {
        let stem = manifestFileName.hasSuffix(".json") ? String(manifestFileName.dropLast(5)) : manifestFileName
        if let problem = Manifest.plainFileNameProblem(manifestFileName) {
            return .rejected(name: stem, manifest: nil, reason: .unreadableFile(file: manifestFileName, detail: problem))
        }
        // The name is shown to operators (lpclient list, the journal): control characters and
        // escape sequences must not reach their terminals, and a name that is not UTF-8 cannot
        // even be opened again from its decoded form. No such file can hold a valid manifest
        // (NAME.json, NAME from a-z, 0-9 and _): list it escaped and reject it unread.
        let shownStem = Self.printable(stem)
        if shownStem != stem {
            let detail = "its file name is not printable ASCII (or not UTF-8); a manifest is NAME.json, NAME from a-z, 0-9 and _"
            return .rejected(
                name: shownStem, manifest: nil, reason: .unreadableFile(file: Self.printable(manifestFileName), detail: detail))
        }

        // 1. The manifest parses, is well-formed, and is named for its file.
        let manifestBytes: [UInt8]
        switch read(manifestFileName, limit: Int64(Manifest.maximumSize)) {
        case .success(let bytes): manifestBytes = bytes
        case .failure(.missing): return .incomplete(name: stem, manifest: nil, manifestDigest: nil, missing: [manifestFileName])
        case .failure(.tooLarge(_, let size, let limit)):
            return .rejected(
                name: stem, manifest: nil, reason: .malformedManifest(.tooLarge(size: Int(size), limit: Int(limit))))
        case .failure(.rejected(let reason)): return .rejected(name: stem, manifest: nil, reason: reason)
        }
        let manifest: Manifest
        do {
            manifest = try Manifest.parse(manifestBytes)
        } catch {
            return .rejected(name: stem, manifest: nil, reason: .malformedManifest(error))
        }
        guard manifest.name == stem else {
            let reason = "must match the manifest's file name \(manifestFileName), got \"\(manifest.name)\""
            return .rejected(name: stem, manifest: manifest, reason: .malformedManifest(.invalidValue(field: "name", reason: reason)))
        }
        let name = manifest.name
        let manifestDigest = sha256Hex(manifestBytes)

        // 2. The signature, unless policy says otherwise; a missing one is waited for.
        var signature: [UInt8]?
        var signedBy: String?
        if policy.requireSignature {
            let signatureFileName = "\(manifestFileName).sig"
            switch read(signatureFileName, limit: Self.maximumSignatureSize) {
            case .success(let bytes): signature = bytes
            case .failure(.missing):
                var missing = [signatureFileName]
                if !exists(manifest.module) { missing.append(manifest.module) }
                return .incomplete(name: name, manifest: manifest, manifestDigest: manifestDigest, missing: missing)
            case .failure(.tooLarge):
                return .rejected(name: name, manifest: manifest, reason: .badSignature(.notBase64(what: "signature")))
            case .failure(.rejected(let reason)): return .rejected(name: name, manifest: manifest, reason: reason)
            }
            do {
                signedBy = try keys.verify(signatureFile: signature ?? [], of: manifestBytes)
            } catch {
                return .rejected(name: name, manifest: manifest, reason: .badSignature(error))
            }
        }

        // 3-5. The module is present, within the size limit, and hashes to the manifest's sha256.
        let module: SafeFile
        let sha256: String
        switch hashModule(manifest) {
        case .success(let hashed): (module, sha256) = hashed
        case .failure(.missing): return .incomplete(name: name, manifest: manifest, manifestDigest: manifestDigest, missing: [manifest.module])
        case .failure(.tooLarge(_, let size, let limit)):
            return .rejected(name: name, manifest: manifest, reason: .moduleTooLarge(module: manifest.module, size: size, limit: limit))
        case .failure(.rejected(let reason)): return .rejected(name: name, manifest: manifest, reason: reason)
        }
        guard sha256 == manifest.sha256 else {
            let reason = RejectionReason.hashMismatch(module: manifest.module, expected: manifest.sha256, actual: sha256)
            return .rejected(name: name, manifest: manifest, reason: reason)
        }

        // 6. The module's own modinfo agrees with the manifest (read from the same open file).
        let info: ModuleInfo
        switch checkModuleInfo(module.pathOfOpenFile, manifest: manifest) {
        case .success(let moduleInfo): info = moduleInfo
        case .failure(let reason): return .rejected(name: name, manifest: manifest, reason: reason)
        }
        return .verified(
            VerifiedBundle(
                manifest: manifest, manifestBytes: manifestBytes, signature: signature, manifestDigest: manifestDigest,
                moduleInfo: info, release: info.vermagicRelease ?? "", functions: info.simulatedFunctions, signedBy: signedBy,
                module: module))
    }
}
