/// What kind of file was found where a regular file was required.
public enum UnsafeFileKind: String, Sendable, Equatable {
    case symlink = "symbolic link"
    case fifo = "FIFO"
    case characterDevice = "character device"
    case blockDevice = "block device"
    case directory
    case socket
    case unknown = "special file"
}

/// Why a bundle was rejected: one case per check of DESIGN.md "Patch bundle", in its order.
public enum RejectionReason: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedManifest(ManifestError)
    case badSignature(SignatureError)
    /// A bundle file that is a symlink or a special file; never followed or read.
    case unsafeFile(file: String, kind: UnsafeFileKind)
    /// A bundle file that exists but could not be read (permissions, I/O error).
    case unreadableFile(file: String, detail: String)
    case moduleTooLarge(module: String, size: Int64, limit: Int64)
    case hashMismatch(module: String, expected: String, actual: String)
    case notLivepatch(module: String)
    case nameMismatch(manifest: String, module: String)
    case wrongKernel(release: String, kernels: [String])
    /// libkmod could not read the module's modinfo, or a required modinfo field is missing.
    case unreadableModule(module: String, detail: String)
    /// Every check passed but the verified copy could not be written (disk full, permissions):
    /// a local problem, not the bundle's; worth retrying once fixed.
    case storeFailed(detail: String)
    /// Produced by the daemon, not the verifier: files still missing after `settle_timeout`.
    case settleTimeout(missing: [String])

    /// Stable short identifier, for tests, `reason_code` on the wire and scripts.
    public var code: String { patchReasonCode.rawValue }

    public var description: String {
        switch self {
        case .malformedManifest(let error):
            "malformed manifest: \(error); fix it and ship it again with a new signature"
        case .badSignature(let error):
            "bad signature: \(error); sign the manifest with `lpbundle create` using a key whose .pub is trusted"
        case .unsafeFile(let file, let kind):
            "unsafe file: \(file) is a \(kind.rawValue), not a regular file; it is never followed or read"
        case .unreadableFile(let file, let detail):
            "unreadable file: \(file): \(detail)"
        case .moduleTooLarge(let module, let size, let limit):
            "module too large: \(module) is \(size) bytes, more than max_module_size (\(limit) bytes)"
        case .hashMismatch(let module, let expected, let actual):
            "hash mismatch: \(module) has sha256 \(actual) but the manifest expects \(expected); the module was changed or the manifest is for another build"
        case .notLivepatch(let module):
            "not a livepatch module: \(module) has no livepatch=Y in its modinfo (build it with MODULE_INFO(livepatch, \"Y\"))"
        case .nameMismatch(let manifest, let module):
            "name mismatch: the manifest says \"\(manifest)\" but the module's modinfo name is \"\(module)\""
        case .wrongKernel(let release, let kernels):
            "wrong kernel: the module is built for \(release) (vermagic), which is not in the manifest's kernels (\(kernels.joined(separator: ", ")))"
        case .unreadableModule(let module, let detail):
            "unreadable module: \(module): \(detail)"
        case .storeFailed(let detail):
            "store failed: the patch verified but could not be copied into the store: \(detail)"
        case .settleTimeout(let missing):
            "settle timeout: still missing \(missing.joined(separator: ", ")) after settle_timeout"
        }
    }
}
