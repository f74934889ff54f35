import LivepatchCore
import LivepatchSystem

/// What verifying one manifest in the patch directory found (DESIGN.md "States").
public enum BundleOutcome: Sendable, Equatable {
    /// `pending`: the module or the signature is not there yet; `missing` holds their file names.
    /// A manifest that parsed comes with the sha256 of its bytes (``VerifiedBundle/manifestDigest``):
    /// a verified bundle whose files are being removed one by one is recognised as the same bundle.
    case incomplete(name: String, manifest: Manifest?, manifestDigest: String?, missing: [String])
    /// `rejected`, with the first check that failed.
    case rejected(name: String, manifest: Manifest?, reason: RejectionReason)
    /// Every check passed; nothing is written yet (``PatchStore/commit(_:limit:)`` stores it).
    case verified(VerifiedBundle)

    /// The patch name: the manifest's, or the manifest file name without `.json` when it did not parse.
    public var name: String {
        switch self {
        case .incomplete(let name, _, _, _), .rejected(let name, _, _): name
        case .verified(let bundle): bundle.manifest.name
        }
    }
}

/// A bundle that passed every check, with its module still open: the store copies from the
/// very inode that was verified.
public struct VerifiedBundle: Sendable, Equatable {
    public var manifest: Manifest
    /// The manifest's exact bytes, as signed and as stored.
    public var manifestBytes: [UInt8]
    /// The signature file's bytes; nil when signatures are not required.
    public var signature: [UInt8]?
    /// sha256 hex of the exact manifest bytes: a new version of a patch changes it.
    public var manifestDigest: String
    public var moduleInfo: ModuleInfo
    /// The module's vermagic release; may differ from the running kernel's (then the patch stays staged).
    public var release: String
    /// Functions the module patches, `object:function` (simulated kernel only; empty for real modules).
    public var functions: [String]
    /// The trusted key that signed the manifest; nil when signatures are not required.
    public var signedBy: String?
    /// The module in the patch directory, opened once without following links.
    public let module: SafeFile

    /// Two verifications of the same bytes are equal, whichever descriptor each holds.
    public static func == (a: VerifiedBundle, b: VerifiedBundle) -> Bool {
        a.manifest == b.manifest && a.manifestBytes == b.manifestBytes && a.signature == b.signature
            && a.moduleInfo == b.moduleInfo && a.release == b.release && a.functions == b.functions && a.signedBy == b.signedBy
    }
}

/// Where a verified bundle's copy is in the store; only this copy is ever loaded.
public struct StoredBundle: Sendable, Equatable {
    public var modulePath: String
    public var manifestPath: String
}
