import Foundation
import LivepatchBundle
import LivepatchCore
import LivepatchSystem

#if canImport(Glibc)
import Glibc
#endif

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// A temporary patch directory and store, with real modules built by scripts/make-test-module.sh.
final class BundleFixture {
    static let release = "6.1.0-56-amd64"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/make-test-module.sh").path

    let root: String
    let key = SigningKey()
    var patchDirectory: String { "\(root)/incoming" }
    var storeRoot: String { "\(root)/state/store" }

    init() throws {
        var template = Array("/tmp/lpbundle-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } })
        else { throw FixtureError(description: "mkdtemp failed") }
        root = String(cString: made)
        try Directory.create("\(root)/incoming")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ file: String) -> String { "\(patchDirectory)/\(file)" }

    /// Builds a module with the script into the patch directory (or `directory`).
    @discardableResult
    func makeModule(
        _ file: String, name: String, release: String = BundleFixture.release, livepatch: Bool = true,
        functions: String? = nil, directory: String? = nil
    ) throws -> String {
        let out = "\(directory ?? patchDirectory)/\(file)"
        var arguments = ["--out", out, "--name", name, "--release", release]
        if !livepatch { arguments.append("--no-livepatch") }
        if let functions { arguments += ["--functions", functions] }
        try Self.run(Self.script, arguments)
        return out
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: "\(executable) \(arguments) exited \(process.terminationStatus)")
        }
    }

    func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(file))))
    }

    func write(_ bytes: [UInt8], to file: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path(file)))
    }

    /// A manifest for `module` as `lpbundle create` would write it, before any edits.
    func manifest(name: String, module: String, kernels: [String] = [BundleFixture.release]) throws -> Manifest {
        Manifest(
            name: name, version: "1", module: module, sha256: sha256Hex(try bytes(module)), kernels: kernels,
            replace: false, description: "test", fixes: ["CVE-2026-0001"], created: "2026-11-05T14:03:00Z")
    }

    /// Writes NAME.json and, signed with `signer` (default: the trusted key), NAME.json.sig.
    func writeBundle(_ manifest: Manifest, file: String? = nil, signer: SigningKey? = nil, signed: Bool = true) throws {
        let file = file ?? "\(manifest.name).json"
        let bytes = [UInt8](manifest.encoded())
        try write(bytes, to: file)
        if signed {
            let signature = try (signer ?? key).signatureFileContents(for: bytes)
            try write(Array(signature.utf8), to: "\(file).sig")
        }
    }

    /// A complete valid bundle: module `NAME.ko`, manifest, signature.
    @discardableResult
    func makeBundle(name: String, functions: String? = nil) throws -> Manifest {
        try makeModule("\(name).ko", name: name, functions: functions)
        let manifest = try manifest(name: name, module: "\(name).ko")
        try writeBundle(manifest)
        return manifest
    }

    func verifier(requireSignature: Bool = true, maxModuleSize: Int64? = nil) -> BundleVerifier {
        var policy = Policy()
        policy.requireSignature = requireSignature
        if let maxModuleSize { policy.maxModuleSize = maxModuleSize }
        return BundleVerifier(patchDirectory: patchDirectory, keys: TrustedKeys([key.publicKey(name: "test")]), policy: policy)
    }

    var store: PatchStore { PatchStore(root: storeRoot) }

    /// Files in the store root that are not finished patch directories (staging leftovers).
    func storeLeftovers() throws -> [String] {
        guard FileManager.default.fileExists(atPath: storeRoot) else { return [] }
        return try Directory.entries(storeRoot).filter { $0.hasPrefix("staging-") }
    }
}

extension BundleOutcome {
    var reason: RejectionReason? {
        if case .rejected(_, _, let reason) = self { return reason }
        return nil
    }
    var missing: [String]? {
        if case .incomplete(_, _, _, let missing) = self { return missing }
        return nil
    }
    var verified: VerifiedBundle? {
        if case .verified(let patch) = self { return patch }
        return nil
    }
}
