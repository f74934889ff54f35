import FoundationEssentials
import Glibc
import LivepatchBundle
import LivepatchCore
import LivepatchSystem
import Logging

/// Reads the patch directory and turns each manifest into an arrival for the ledger.
///
/// Never modifies the directory. Verification hashes modules, so a manifest whose files did not
/// change since the last scan (same inode, size and times) is not verified again. Scans run one
/// at a time, off the cooperative pool: a 64 MiB module being hashed does not hold up the control
/// socket.
public actor PatchScanner {
    public let patchDirectory: String
    private var verifier: BundleVerifier
    /// Where what verified is copied; only that copy is ever loaded.
    private let store: PatchStore
    private var seen: [String: Fingerprint] = [:]
    private var scanning = false
    private var queued: [CheckedContinuation<Void, Never>] = []

    public init(patchDirectory: String, verifier: BundleVerifier, store: PatchStore) {
        self.patchDirectory = patchDirectory
        self.verifier = verifier
        self.store = store
    }

    /// New keys or policy (SIGHUP): everything is verified again.
    public func update(verifier: BundleVerifier) {
        self.verifier = verifier
        seen = [:]
    }

    /// The daemon creates the patch directory when it is missing (DESIGN.md "Patch bundle").
    public func prepareDirectory(logger: Logger) {
        guard !FileManager.default.fileExists(atPath: patchDirectory) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: patchDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            logger.notice("created the patch directory \(patchDirectory)")
        } catch {
            logger.error("cannot create the patch directory \(patchDirectory): \(error)")
        }
    }

    /// What changed in the directory since the last scan; nil when it cannot be read (then
    /// nothing is concluded from it, least of all that manifests left).
    public func scan(logger: Logger) async -> PatchMachine.DirectoryScan? {
        while scanning { await withCheckedContinuation { queued.append($0) } }
        scanning = true
        defer {
            scanning = false
            if !queued.isEmpty { queued.removeFirst().resume() }
        }
        let (directory, verifier, store, seen) = (patchDirectory, self.verifier, self.store, self.seen)
        let result = await BlockingPool.shared.run { () -> Result<(PatchMachine.DirectoryScan, [String: Fingerprint]), SystemError> in
            Result { () throws(SystemError) in try Self.scan(directory, verifier: verifier, store: store, seen: seen) }
        }
        switch result {
        case .success(let (scan, seen)):
            self.seen = seen
            return scan
        case .failure(let error):
            logger.error("cannot read the patch directory \(directory): \(error)")
            return nil
        }
    }

    private static func scan(
        _ directory: String, verifier: BundleVerifier, store: PatchStore, seen before: [String: Fingerprint]
    ) throws(SystemError) -> (PatchMachine.DirectoryScan, [String: Fingerprint]) {
        let files = try BundleVerifier.manifestFileNames(inDirectory: directory)
        var seen = before.filter { files.contains($0.key) }
        var arrivals: [PatchLedger.Arrival] = []
        var recheckAt: Date?
        for file in files {
            // Identify the files before reading them: if they change while being verified, the
            // next scan sees another fingerprint and verifies again.
            var fingerprint = Fingerprint(directory: directory, manifestFile: file, module: seen[file]?.module)
            if let previous = seen[file], previous == fingerprint, !previous.pending { continue }
            let outcome = verifier.verify(manifestFileName: file)
            var (arrival, module) = Self.arrival(outcome, file: file, store: store, limit: verifier.policy.maxModuleSize)
            // The module's name came from the manifest just read, so its identity is taken after
            // the read: a module completed in between would look judged. Such a bundle is looked
            // at once more, with the module known beforehand.
            let identifiedAfterRead = module != fingerprint.module
            if identifiedAfterRead {
                fingerprint = Fingerprint(directory: directory, manifestFile: file, module: module)
            }
            var again = identifiedAfterRead
            if case .rejected(let name, let manifest, _) = outcome,
                let young = ([file, "\(file).sig"] + [module].compactMap { $0 })
                    .first(where: { Self.isBeingWritten("\(directory)/\($0)") })
            {
                // A bundle file still on its way in (cp writes in pieces) reads as malformed or
                // mismatched: give it a moment before rejecting it.
                let descriptor = PatchDescriptor(name: name, manifest: manifest, file: file)
                arrival = .incomplete(descriptor, waitingFor: "\(young) to be completely written")
                let recheck = Date() + Self.writeGrace
                recheckAt = min(recheckAt ?? recheck, recheck)
                again = true
            }
            // A judged bundle whose files did not change (device, inode, size, times) is not read
            // again: a rejected 48 MiB module costs one read, not one per directory event. What
            // verified is final; what failed for a reason outside its files (the store) is not.
            switch arrival {
            case .verified: fingerprint.pending = false
            case .rejected(_, let reason) where reason.code == .storeFailed: fingerprint.pending = true
            default: fingerprint.pending = again
            }
            seen[file] = fingerprint
            arrivals.append(arrival)
        }
        // Halt files are a few hundred bytes: all of them are read every time, so the machine
        // always holds the whole set and a removed one resumes its rollout.
        var halts: [VerifiedHalt] = []
        var haltProblems: [String] = []
        for file in try BundleVerifier.haltFileNames(inDirectory: directory) {
            switch verifier.verifyHalt(fileName: file) {
            case .success(let halt): halts.append(halt)
            case .failure(let problem): haltProblems.append(problem.description)
            }
        }
        let scan = PatchMachine.DirectoryScan(
            arrivals: arrivals, manifestFiles: Set(files), recheckAt: recheckAt, halts: halts, haltProblems: haltProblems)
        return (scan, seen)
    }

    private static let writeGrace: TimeInterval = 2

    /// Modified within the grace period.
    private static func isBeingWritten(_ path: String) -> Bool {
        guard let modified = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date else {
            return false
        }
        return Date().timeIntervalSince(modified) < writeGrace
    }

    private static func arrival(
        _ outcome: BundleOutcome, file: String, store: PatchStore, limit: Int64
    ) -> (arrival: PatchLedger.Arrival, moduleFile: String?) {
        switch outcome {
        case .incomplete(let name, let manifest, let manifestDigest, let missing):
            var descriptor = PatchDescriptor(name: name, manifest: manifest, file: file)
            descriptor.manifestDigest = manifestDigest ?? ""
            return (.incomplete(descriptor, waitingFor: missing.joined(separator: ", ")), manifest?.module)
        case .rejected(let name, let manifest, let reason):
            return (.rejected(PatchDescriptor(name: name, manifest: manifest, file: file), reason: reason.patchReason), manifest?.module)
        case .verified(let bundle):
            var descriptor = PatchDescriptor(name: bundle.manifest.name, manifest: bundle.manifest, file: file)
            let stored: StoredBundle
            do { stored = try store.commit(bundle, limit: limit) } catch {
                let reason = RejectionReason.storeFailed(detail: error.description)
                return (.rejected(descriptor, reason: reason.patchReason), bundle.manifest.module)
            }
            descriptor.manifestDigest = bundle.manifestDigest
            descriptor.release = bundle.release
            descriptor.storedModulePath = stored.modulePath
            descriptor.functions = bundle.functions
            // Whether it is for the running kernel is the machine's to say.
            return (.verified(descriptor, note: nil), bundle.manifest.module)
        }
    }
}

extension PatchDescriptor {
    init(name: String, manifest: Manifest?, file: String) {
        self.init(name: name, manifestFile: file)
        guard let manifest else { return }
        version = manifest.version
        sha256 = manifest.sha256
        kernels = manifest.kernels
        fixes = manifest.fixes
        replace = manifest.replace
        description = manifest.description.isEmpty ? nil : manifest.description
        sequence = manifest.sequence
        released = manifest.releaseDate
        notAfter = manifest.expiryDate
    }
}

/// What identifies the files of one bundle as unchanged since they were last verified.
struct Fingerprint: Equatable, Sendable {
    var manifest: FileIdentity?
    var signature: FileIdentity?
    var module: String?
    var moduleIdentity: FileIdentity?
    var pending = false

    init(directory: String, manifestFile: String, module: String?) {
        manifest = FileIdentity(path: "\(directory)/\(manifestFile)")
        signature = FileIdentity(path: "\(directory)/\(manifestFile).sig")
        self.module = module
        moduleIdentity = module.flatMap { FileIdentity(path: "\(directory)/\($0)") }
    }

    static func == (a: Fingerprint, b: Fingerprint) -> Bool {
        a.manifest == b.manifest && a.signature == b.signature && a.moduleIdentity == b.moduleIdentity
    }
}

/// lstat(2) facts that change whenever a file is replaced or rewritten.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64, inode: UInt64, size: Int64, mtime: Int, mtimeNanoseconds: Int, ctime: Int, ctimeNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtime = info.st_mtim.tv_sec
        mtimeNanoseconds = info.st_mtim.tv_nsec
        ctime = info.st_ctim.tv_sec
        ctimeNanoseconds = info.st_ctim.tv_nsec
    }
}
