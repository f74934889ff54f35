import Crypto
import Foundation
import LivepatchCore

/// The three files of a bundle, made in the staging directory, not yet dropped.
struct BundleFiles {
    var name: String
    var manifest: String
    var signature: String
    var module: String
    var all: [String] { [manifest, signature, module] }
}

extension Sandbox {
    /// A real ELF object with real modinfo, made by the repository's fixture script.
    func module(
        _ fileName: String, name: String, release: String = Sandbox.release, functions: [String], livepatch: Bool = true,
        replace: Bool = false
    ) throws -> String {
        let path = "\(staging)/\(fileName)"
        var arguments = ["--out", path, "--name", name, "--release", release]
        if !functions.isEmpty { arguments += ["--functions", functions.joined(separator: ",")] }
        if !livepatch { arguments.append("--no-livepatch") }
        if replace { arguments.append("--replace") }
        let result = try run("\(Binaries.repository)/scripts/make-test-module.sh", arguments)
        guard result.status == 0 else { throw TimeoutError(description: "make-test-module.sh: \(result)") }
        return path
    }

    /// A consistent bundle made by `lpbundle create`, the way a patch author makes one; `options`
    /// are more of its flags (`--sequence 3`), `key` the signing key's name in the keys directory.
    func bundle(
        _ name: String, version: String = "1", release: String = Sandbox.release, functions: [String]? = nil,
        replace: Bool = false, options: [String] = [], key: String = "test"
    ) throws -> BundleFiles {
        let module = try module(
            "\(name).ko", name: name, release: release, functions: functions ?? ["vmlinux:\(name)_target"], replace: replace)
        let out = "\(staging)/\(name)-\(version)-bundle"
        var arguments = ["create", module, "--key", "\(keys)/\(key).key", "--version", version, "--out", out, "--fixes", "CVE-2026-0001"]
        arguments += options
        if replace { arguments.append("--replace") }
        let result = try run(Binaries.path("lpbundle"), arguments)
        guard result.status == 0 else { throw TimeoutError(description: "lpbundle create: \(result)") }
        return BundleFiles(
            name: name, manifest: "\(out)/\(name).json", signature: "\(out)/\(name).json.sig", module: "\(out)/\(name).ko")
    }

    /// A bundle written by hand, for the ones lpbundle would refuse to make: `edit` changes the
    /// manifest before it is signed, `signer` signs it (nil: the trusted test key).
    func handmadeBundle(
        _ name: String, module modulePath: String, signer: SigningKey? = nil, edit: (inout Manifest) -> Void = { _ in }
    ) throws -> BundleFiles {
        let out = "\(staging)/\(name)-bundle"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let moduleBytes = try Data(contentsOf: URL(fileURLWithPath: modulePath))
        let moduleFile = "\(name).ko"
        try moduleBytes.write(to: URL(fileURLWithPath: "\(out)/\(moduleFile)"))
        var manifest = Manifest(
            name: name, version: "1", module: moduleFile,
            sha256: SHA256.hash(data: moduleBytes).map { String(format: "%02x", $0) }.joined(),
            kernels: [Sandbox.release], created: Manifest.timestamp(Date()))
        edit(&manifest)
        let bytes = manifest.encoded()
        try bytes.write(to: URL(fileURLWithPath: "\(out)/\(name).json"))
        let signature = try (signer ?? signingKey).signatureFileContents(for: Array(bytes))
        try signature.write(toFile: "\(out)/\(name).json.sig", atomically: true, encoding: .utf8)
        return BundleFiles(
            name: name, manifest: "\(out)/\(name).json", signature: "\(out)/\(name).json.sig", module: "\(out)/\(moduleFile)")
    }

    /// A halt file and its signature made by `lpbundle halt NAME`, as whoever stops a rollout
    /// makes them (`options`: `--revert`, `--reason`); signed by `keyFile`, else the trusted test key.
    func halt(_ name: String, options: [String] = [], keyFile: String? = nil) throws -> [String] {
        let out = "\(staging)/halt-\(UUID().uuidString.prefix(8))"
        let result = try run(
            Binaries.path("lpbundle"), ["halt", name, "--key", keyFile ?? "\(keys)/test.key", "--out", out] + options)
        guard result.status == 0 else { throw TimeoutError(description: "lpbundle halt: \(result)") }
        return ["\(out)/\(name).halt", "\(out)/\(name).halt.sig"]
    }

    /// Copies files into the patch directory one after the other, as `cp` would.
    func drop(_ files: [String]) throws {
        for file in files {
            let target = "\(incoming)/\(URL(fileURLWithPath: file).lastPathComponent)"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: file, toPath: target)
        }
    }

    func drop(_ bundle: BundleFiles) throws { try drop(bundle.all) }
}
