import LivepatchCore
import LivepatchSystem

/// What verifying one manifest decided (DESIGN.md "Patch bundle", "States").
public enum BundleOutcome: Sendable, Equatable {
    /// `pending`: the module or the signature is not there yet; `missing` holds their file names.
    case incomplete(name: String, manifest: Manifest?, missing: [String])
    /// `rejected`, with the first check that failed.
    case rejected(name: String, manifest: Manifest?, reason: RejectionReason)
    /// `staged`: every check passed and the module is in the store.
    case verified(VerifiedPatch)

    /// The patch name: the manifest's, or the manifest file name without `.json` when it did not parse.
    public var name: String {
        switch self {
        case .incomplete(let name, _, _), .rejected(let name, _, _): name
        case .verified(let patch): patch.manifest.name
        }
    }
}

/// A bundle that passed every check, and where its verified copy is.
public struct VerifiedPatch: Sendable, Equatable {
    public var manifest: Manifest
    /// sha256 hex of the exact manifest bytes: a new version of a patch changes it.
    public var manifestDigest: String
    public var moduleInfo: ModuleInfo
    /// The module's vermagic release; may differ from the running kernel's (then the patch stays staged).
    public var release: String
    /// The module in the store; load this, never the file in the patch directory.
    public var storedModulePath: String
    public var storedManifestPath: String
    /// Functions the module patches, `object:function` (simulated kernel only; empty for real modules).
    public var functions: [String]
    /// The trusted key that signed the manifest; nil when signatures are not required.
    public var signedBy: String?

    public init(
        manifest: Manifest, manifestDigest: String, moduleInfo: ModuleInfo, release: String, storedModulePath: String,
        storedManifestPath: String, functions: [String], signedBy: String?
    ) {
        self.manifest = manifest
        self.manifestDigest = manifestDigest
        self.moduleInfo = moduleInfo
        self.release = release
        self.storedModulePath = storedModulePath
        self.storedManifestPath = storedManifestPath
        self.functions = functions
        self.signedBy = signedBy
    }
}
