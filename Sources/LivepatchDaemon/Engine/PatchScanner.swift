import Foundation
import LivepatchBundle
import LivepatchCore
import Logging

/// Reads the patch directory and turns each manifest into an arrival for the ledger.
///
/// Never modifies the directory. Verification hashes modules, so a manifest whose files did not
/// change since the last scan (same inode, size and times) is not verified again.
public actor PatchScanner {
    public enum Finding: Sendable {
        case arrived(PatchLedger.Arrival)
        case removed(manifestFile: String)
    }

    public let patchDirectory: String
    private var verifier: BundleVerifier
    private var seen: [String: Fingerprint] = [:]
    /// When a manifest that was still being written should be read again (no inotify event
    /// will come for a file that is already complete).
    public private(set) var recheckAt: Date?

    public init(patchDirectory: String, verifier: BundleVerifier) {
        self.patchDirectory = patchDirectory
        self.verifier = verifier
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
            logger.error("cannot create the patch directory \(patchDirectory): \(error.localizedDescription)")
        }
    }

    public func scan(runningRelease: String, logger: Logger) -> [Finding] {
        let files: [String]
        do { files = try BundleVerifier.manifestFileNames(inDirectory: patchDirectory) } catch {
            logger.error("cannot read the patch directory \(patchDirectory): \(error)")
            return []
        }
        var findings: [Finding] = []
        recheckAt = nil
        for gone in Set(seen.keys).subtracting(files).sorted() {
            seen[gone] = nil
            findings.append(.removed(manifestFile: gone))
        }
        for file in files {
            // Identify the files before reading them: if they change while being verified, the
            // next scan sees another fingerprint and verifies again.
            var fingerprint = Fingerprint(directory: patchDirectory, manifestFile: file, module: seen[file]?.module)
            if let previous = seen[file], previous == fingerprint, !previous.pending { continue }
            let outcome = verifier.verify(manifestFileName: file)
            var (arrival, module) = Self.arrival(outcome, file: file, runningRelease: runningRelease)
            if module != fingerprint.module {
                fingerprint = Fingerprint(directory: patchDirectory, manifestFile: file, module: module)
            }
            if case .rejected(let name, let manifest, _) = outcome,
                let young = ([file, "\(file).sig"] + [module].compactMap { $0 })
                    .first(where: { Self.isBeingWritten("\(patchDirectory)/\($0)") })
            {
                // A bundle file still on its way in (cp writes in pieces) reads as malformed or
                // mismatched: give it a moment before rejecting it.
                let descriptor = PatchDescriptor(name: name, manifest: manifest, file: file)
                arrival = .incomplete(descriptor, waitingFor: "\(young) to be completely written")
                let again = Date() + Self.writeGrace
                recheckAt = min(recheckAt ?? again, again)
            }
            // Rejected ones are looked at again too: a module completed between its read and its
            // fingerprint above would otherwise never be verified again.
            fingerprint.pending = if case .verified = arrival { false } else { true }
            seen[file] = fingerprint
            findings.append(.arrived(arrival))
        }
        return findings
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
        _ outcome: BundleOutcome, file: String, runningRelease: String
    ) -> (arrival: PatchLedger.Arrival, moduleFile: String?) {
        switch outcome {
        case .incomplete(let name, let manifest, let missing):
            let descriptor = PatchDescriptor(name: name, manifest: manifest, file: file)
            return (.incomplete(descriptor, waitingFor: missing.joined(separator: ", ")), manifest?.module)
        case .rejected(let name, let manifest, let reason):
            return (.rejected(PatchDescriptor(name: name, manifest: manifest, file: file), reason: reason.description), manifest?.module)
        case .verified(let patch):
            var descriptor = PatchDescriptor(name: patch.manifest.name, manifest: patch.manifest, file: file)
            descriptor.manifestDigest = patch.manifestDigest
            descriptor.release = patch.release
            descriptor.storedModulePath = patch.storedModulePath
            descriptor.functions = patch.functions
            let note =
                patch.release == runningRelease
                ? nil : "built for kernel \(patch.release), running \(runningRelease): applied when that kernel boots"
            return (.verified(descriptor, note: note), patch.manifest.module)
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
    }
}

/// What identifies the files of one bundle as unchanged since they were last verified.
struct Fingerprint: Equatable {
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
struct FileIdentity: Equatable {
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
