import ArgumentParser
import FoundationEssentials
import LivepatchBundle
import LivepatchCore
import LivepatchSystem

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a module's modinfo or a manifest's fields.",
        discussion: """
            FILE ending in .json is read as a manifest: its fields, or the precise reason it is
            malformed, and whether the module next to it matches its sha256. Anything else is read
            as a module: its modinfo, and what livepatchd checks in it (name, livepatch=Y,
            vermagic release). Signatures are checked by `lpbundle verify`.
            """
    )

    @Argument(help: "A module (.ko) or a manifest (.json).")
    var file: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        if file.hasSuffix(".json") { try inspectManifest() } else { try inspectModule() }
    }

    private struct ModuleReport: Encodable {
        var file: String
        var sha256: String
        var name: String?
        var release: String?
        var livepatch: Bool
        var functions: [String]
        var fields: [[String: String]]
    }

    private func inspectModule() throws {
        let info: ModuleInfo
        let bytes: [UInt8]
        do {
            bytes = try SafeFile.read(path: file, limit: Policy().maxModuleSize)
            info = try ModuleInfo.read(path: file)
        } catch let error as SafeFileError {
            throw Failure(error.description)
        } catch {
            throw Failure("cannot read the modinfo of \(file): \(error)")
        }
        let report = ModuleReport(
            file: file, sha256: sha256Hex(bytes), name: info.name, release: info.vermagicRelease,
            livepatch: info.isLivepatch, functions: info.simulatedFunctions,
            fields: info.fields.map { ["key": $0.key, "value": $0.value] })
        if output.json { return try Files.printJSON(report) }
        print("module:    \(file)")
        print("sha256:    \(report.sha256)")
        print("name:      \(info.name ?? "(none: livepatchd would reject it)")")
        print("release:   \(info.vermagicRelease ?? "(no vermagic: livepatchd would reject it)")")
        print("livepatch: \(info.isLivepatch ? "yes" : "no (livepatchd would reject it)")")
        print("modinfo:")
        for field in info.fields { print("  \(field.key)=\(field.value)") }
    }

    private struct ManifestReport: Encodable {
        var file: String
        var manifest: Manifest?
        var error: String?
        /// "match", "mismatch", "missing" or an error, for the module next to the manifest.
        var moduleCheck: String?
    }

    private func inspectManifest() throws {
        let bytes: [UInt8]
        do {
            bytes = try SafeFile.read(path: file, limit: Int64(Manifest.maximumSize))
        } catch {
            throw Failure(error.description)
        }
        var report = ManifestReport(file: file)
        do {
            let manifest = try Manifest.parse(bytes)
            report.manifest = manifest
            let modulePath = "\(Files.directory(of: file))/\(manifest.module)"
            do {
                let module = try SafeFile.read(path: modulePath, limit: Policy().maxModuleSize)
                report.moduleCheck = sha256Hex(module) == manifest.sha256 ? "match" : "mismatch: \(sha256Hex(module))"
            } catch .missing {
                report.moduleCheck = "missing"
            } catch {
                report.moduleCheck = error.description
            }
        } catch {
            report.error = error.description
        }
        if output.json {
            try Files.printJSON(report)
        } else if let manifest = report.manifest {
            print("manifest:    \(file)")
            print("name:        \(manifest.name)")
            print("version:     \(manifest.version)")
            print("module:      \(manifest.module) (sha256 \(report.moduleCheck ?? ""))")
            print("sha256:      \(manifest.sha256)")
            print("kernels:     \(manifest.kernels.joined(separator: ", "))")
            print("replace:     \(manifest.replace)")
            print("fixes:       \(manifest.fixes.joined(separator: ", "))")
            print("description: \(manifest.description)")
            print("created:     \(manifest.created)")
        } else {
            print("malformed manifest: \(file): \(report.error ?? "")")
        }
        if report.manifest == nil { throw ExitCode(1) }
    }
}
