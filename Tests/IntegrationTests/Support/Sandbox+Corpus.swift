import Crypto
import Foundation
import LivepatchCore

/// Builds the corpus's bundles at test time: modules need gcc, signatures the run's key, and
/// special files a live file system. Regular files are written next to the patch directory and
/// renamed in (module, signature, manifest last), as a careful deployment tool would.
extension Sandbox {
    /// What placing one case did.
    enum Placement {
        case placed
        /// The case needs something this run does not have (device nodes without CAP_MKNOD).
        case notRun(String)
    }

    /// The limit the corpus daemon runs with, so an oversize module stays small on disk.
    static let corpusModuleLimit = 64 * 1024

    func place(_ corpusCase: CorpusCase) throws -> Placement {
        let work = "\(staging)/corpus/\(corpusCase.id)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        do {
            let pinned = try placeModule(corpusCase, work: work)
            let manifest = try placeManifest(corpusCase, sha256: pinned, work: work)
            try placeSignature(corpusCase, signing: manifest.signed, work: work)
            // The manifest is what the daemon reads first: rename it in last.
            if let dropped = manifest.dropped { try moveIn("\(work)/\(corpusCase.manifestFile)", dropped) }
        } catch let notPermitted as SpecialFile.NotPermitted {
            return .notRun(notPermitted.description)
        }
        return .placed
    }

    // MARK: - Module

    /// Drops the module (or what stands in for it) and returns the sha256 the manifest pins.
    private func placeModule(_ corpusCase: CorpusCase, work: String) throws -> String {
        let id = corpusCase.id, target = "\(incoming)/\(corpusCase.moduleFile)"
        func build(name: String = id, release: String = Sandbox.release, functions: [String] = ["vmlinux:\(id)_fn"], _ flags: [String] = [])
            throws -> [UInt8]
        {
            let path = "\(work)/built-\(UUID().uuidString.prefix(8)).ko"
            var arguments = ["--out", path, "--name", name, "--release", release, "--functions", functions.joined(separator: ",")]
            arguments += flags
            let result = try run("\(Binaries.repository)/scripts/make-test-module.sh", arguments)
            guard result.status == 0 else { throw TimeoutError(description: "make-test-module.sh: \(result)") }
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        var dropped: [UInt8]?
        var pinned: [UInt8]?
        switch corpusCase.module {
        case "none": return sha256Hex([])
        case "good": dropped = try build()
        case "truncated":
            let good = try build()
            dropped = Array(good.prefix(good.count / 2))
        case "not-elf": dropped = Array("#!/bin/sh\nrm -rf / # a script is not a module\n".utf8)
        case "empty": dropped = []
        case "no-modinfo": dropped = try build(["--no-modinfo"])
        case "no-name": dropped = try build(["--no-name"])
        case "no-vermagic": dropped = try build(["--no-vermagic"])
        case "no-livepatch": dropped = try build(["--no-livepatch"])
        case "other-name": dropped = try build(name: "someone_else")
        case "wrong-release": dropped = try build(release: "5.10.0-30-amd64")
        case "elf-executable": dropped = Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/true")))
        case "oversize": dropped = try build() + [UInt8](repeating: 0, count: Self.corpusModuleLimit + 4096)
        case "other-build":
            pinned = try build()
            dropped = try build(functions: ["vmlinux:evil_fn"])
        default:
            // Special files: what the manifest pins is a good module, so following one would verify.
            let good = try build()
            try makeSpecial(corpusCase.module, at: target, regularContents: good, work: work)
            return sha256Hex(good)
        }
        guard let dropped else { return sha256Hex([]) }
        try moveIn("\(work)/\(corpusCase.moduleFile)", dropped)
        return sha256Hex(pinned ?? dropped)
    }

    // MARK: - Manifest

    /// The manifest bytes to rename in last (nil when something else was put in its place), and
    /// the bytes a valid signature signs: for a symlink, those of the manifest it points to.
    private func placeManifest(_ corpusCase: CorpusCase, sha256: String, work: String) throws
        -> (dropped: [UInt8]?, signed: [UInt8])
    {
        let id = corpusCase.id
        let template = Manifest(
            name: id, version: "1", module: corpusCase.moduleFile, sha256: sha256, kernels: [Sandbox.release],
            created: "2026-11-05T14:03:00Z")
        func templateWith(description: String) -> [UInt8] {
            var manifest = template
            manifest.description = description
            return Array(manifest.encoded())
        }
        func object(around value: String) -> [UInt8] {
            Array("{\"format\": 1, \"name\": \"\(id)\", \"description\": \(value)}\n".utf8)
        }
        var bytes: [UInt8]
        switch corpusCase.manifest {
        case "file": bytes = try HostileCorpus.manifestFile(id, sha256: sha256, release: Sandbox.release)
        case "template": bytes = Array(template.encoded())
        case "huge": bytes = templateWith(description: String(repeating: "a", count: 70_000))
        case "not-utf8":
            bytes = templateWith(description: "@@")
            if let at = bytes.firstRange(of: Array("@@".utf8)) { bytes.replaceSubrange(at, with: [0xFF, 0xFE]) }
        // Deep enough to overflow a recursive parser's stack, small enough to pass the size limit.
        case "nested-arrays": bytes = object(around: String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000))
        case "nested-objects": bytes = object(around: String(repeating: "{\"a\":", count: 8_000) + "1" + String(repeating: "}", count: 8_000))
        case "filename-escape", "filename-newline", "filename-not-utf8":
            // A manifest that would verify, under a name no String round-trips or a terminal shows safely.
            let path = Array("\(incoming)/\(id)".utf8) + (corpusCase.fileNameSuffix ?? []) + Array(".json".utf8)
            try SpecialFile.write(Array(template.encoded()), toRawPath: path)
            return (nil, Array(template.encoded()))
        case "sparse-1gib":
            try SpecialFile.sparse("\(incoming)/\(corpusCase.manifestFile)", size: 1 << 30)
            return (nil, Array(template.encoded()))
        default:
            // A symlink to a manifest that would verify, or a special file.
            let outside = Array(template.encoded())
            try makeSpecial(corpusCase.manifest, at: "\(incoming)/\(corpusCase.manifestFile)", regularContents: outside, work: work)
            return (nil, outside)
        }
        return (bytes, bytes)
    }

    // MARK: - Signature

    private func placeSignature(_ corpusCase: CorpusCase, signing signed: [UInt8], work: String) throws {
        let target = "\(incoming)/\(corpusCase.manifestFile).sig"
        let valid = try signingKey.signatureFileContents(for: signed)
        let contents: String
        switch corpusCase.signature {
        case "none": return
        case "valid": contents = valid
        case "bad-base64": contents = "!!! this is not base64 !!!\n"
        case "empty": contents = ""
        case "two-lines": contents = valid + valid
        case "crlf": contents = valid.trimmingCharacters(in: .newlines) + "\r\n"
        case "huge": contents = String(repeating: "A", count: 8192) + "\n"
        case "truncated":
            let raw = Data(base64Encoded: valid.trimmingCharacters(in: .newlines)) ?? Data()
            contents = raw.prefix(32).base64EncodedString() + "\n"
        case "untrusted": contents = try SigningKey().signatureFileContents(for: signed)
        case "other-bytes": contents = try signingKey.signatureFileContents(for: signed + Array(" ".utf8))
        case "public-key": contents = signingKey.publicKey(name: "test").fileContents
        default:
            try makeSpecial(corpusCase.signature, at: target, regularContents: Array(valid.utf8), work: work)
            return
        }
        try moveIn("\(work)/\(corpusCase.manifestFile).sig", Array(contents.utf8))
    }

    // MARK: - Files

    /// Writes `bytes` beside the patch directory and renames them in under the same file name.
    private func moveIn(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let target = "\(incoming)/\(URL(fileURLWithPath: path).lastPathComponent)"
        guard rename(path, target) == 0 else { throw SpecialFile.posixError("rename", target) }
    }

    /// Puts a `kind` of special file at `path`; a symlink points to `regularContents` outside.
    private func makeSpecial(_ kind: String, at path: String, regularContents: [UInt8], work: String) throws {
        switch kind {
        case "symlink":
            let outside = "\(work)/outside-\(URL(fileURLWithPath: path).lastPathComponent)"
            try Data(regularContents).write(to: URL(fileURLWithPath: outside))
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside)
        case "dangling-symlink":
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "\(work)/nothing-here")
        case "fifo": try SpecialFile.fifo(path)
        case "socket": try SpecialFile.socket(path)
        case "directory": try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case "chardev": try SpecialFile.device(path, block: false)
        case "blockdev": try SpecialFile.device(path, block: true)
        default: throw TimeoutError(description: "expected.tsv: unknown file kind \(kind) for \(path)")
        }
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}
