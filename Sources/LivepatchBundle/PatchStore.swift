import Crypto
import LivepatchCore
import LivepatchSystem

/// The content-addressed copy of verified patches, `<state_dir>/store`:
/// `<root>/<module sha256>/<module file>`, next to the manifest (`<name>.json`) and,
/// when there was one, its signature (`<name>.json.sig`), byte for byte as verified.
/// Storing the same module again replaces the files with identical bytes: idempotent.
public struct PatchStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// The daemon's store: `<state_dir>/store`.
    public init(stateDirectory: String) { self.init(root: "\(stateDirectory)/store") }

    public func directory(sha256: String) -> String { "\(root)/\(sha256)" }

    /// A module read once from the patch directory: hashed while it was copied, so what
    /// is checked afterwards (hash, modinfo) is exactly what will be stored and loaded.
    public final class StagedModule {
        public let temporary: TemporaryFile
        public let sha256: String
        public let size: Int64

        init(temporary: TemporaryFile, sha256: String, size: Int64) {
            self.temporary = temporary
            self.sha256 = sha256
            self.size = size
        }

        public var path: String { temporary.path }
        public func discard() { temporary.discard() }
    }

    /// Removes the temporary files a daemon killed while staging or committing left behind
    /// (each up to `max_module_size`); returns their paths.
    public func removeLeftovers() throws(SystemError) -> [String] {
        var removed = try TemporaryFile.removeLeftovers(inDirectory: root, prefix: Self.stagingPrefix).map { "\(root)/\($0)" }
        let entries: [String]
        do { entries = try Directory.entries(root) } catch { return removed }
        for entry in entries where !entry.hasPrefix(Self.stagingPrefix) {
            let directory = directory(sha256: entry)
            removed += try TemporaryFile.removeLeftovers(inDirectory: directory, prefix: TemporaryFile.defaultPrefix)
                .map { "\(directory)/\($0)" }
        }
        return removed
    }

    static let stagingPrefix = "staging-"

    /// Copies `module` into a temporary file in the store, hashing the bytes it copies.
    func stage(_ module: SafeFile, limit: Int64) throws(SafeFileError) -> StagedModule {
        let temporary: TemporaryFile
        do throws(SystemError) {
            try Directory.create(root, mode: 0o755)
            temporary = try TemporaryFile(inDirectory: root, prefix: Self.stagingPrefix, mode: 0o644)
        } catch {
            throw .system(error)
        }
        var hasher = SHA256()
        var size: Int64 = 0
        do throws(SafeFileError) {
            try module.readChunks(limit: limit) { (chunk) throws(SafeFileError) in
                hasher.update(bufferPointer: chunk)
                size += Int64(chunk.count)
                do throws(SystemError) { try temporary.write(chunk) } catch { throw .system(error) }
            }
        } catch {
            temporary.discard()
            throw error
        }
        Failpoint.storeStageAfterCopy.hit()
        return StagedModule(temporary: temporary, sha256: hexDigest(hasher.finalize()), size: size)
    }

    /// Why a verified bundle was not stored.
    public enum CommitError: Error, Sendable, CustomStringConvertible {
        /// The module's bytes or modinfo are not what was verified: it changed in between.
        case changed(String)
        case unreadable(SafeFileError)
        case system(SystemError)

        public var description: String {
            switch self {
            case .changed(let what): "the module changed while it was verified (\(what)); it is verified again when it settles"
            case .unreadable(let error): "\(error)"
            case .system(let error): "\(error)"
            }
        }
    }

    /// Copies a verified bundle into the store: the module from the very inode that was verified,
    /// hashed again while copied and its modinfo read again from the copy, so what is stored (and
    /// later loaded) is what was checked; then the manifest and signature next to it.
    public func commit(_ bundle: VerifiedBundle, limit: Int64) throws(CommitError) -> StoredBundle {
        let staged: StagedModule
        do throws(SafeFileError) {
            try bundle.module.rewind()
            staged = try stage(bundle.module, limit: limit)
        } catch {
            throw .unreadable(error)
        }
        guard staged.sha256 == bundle.manifest.sha256 else {
            staged.discard()
            throw .changed("sha256 \(staged.sha256)")
        }
        guard let info = try? ModuleInfo.read(path: staged.path), info == bundle.moduleInfo else {
            staged.discard()
            throw .changed("modinfo")
        }
        do throws(SystemError) {
            let directory = directory(sha256: staged.sha256)
            try Directory.create(directory, mode: 0o755)
            let modulePath = "\(directory)/\(bundle.manifest.module)"
            try staged.temporary.commit(to: modulePath)
            Failpoint.storeCommitAfterModule.hit()
            let manifestPath = "\(directory)/\(bundle.manifest.name).json"
            try AtomicFile.write(bundle.manifestBytes, to: manifestPath, mode: 0o644)
            Failpoint.storeCommitAfterManifest.hit()
            if let signature = bundle.signature {
                try AtomicFile.write(signature, to: "\(manifestPath).sig", mode: 0o644)
            }
            return StoredBundle(modulePath: modulePath, manifestPath: manifestPath)
        } catch {
            staged.discard()
            throw .system(error)
        }
    }
}

func hexDigest(_ digest: some Digest) -> String {
    digest.map { byte in
        let hex = String(byte, radix: 16)
        return byte < 16 ? "0" + hex : hex
    }.joined()
}

/// sha256 of `bytes`, lowercase hex.
public func sha256Hex(_ bytes: [UInt8]) -> String { hexDigest(SHA256.hash(data: bytes)) }
