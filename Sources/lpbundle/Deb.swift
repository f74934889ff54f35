import ArgumentParser
import FoundationEssentials
import Glibc
import LivepatchBundle
import LivepatchCore
import LivepatchSystem

struct Deb: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pack a bundle as a Debian package, for a fleet's own apt repository.",
        discussion: """
            Makes livepatch-NAME_VERSION_all.deb (underscores in NAME become dashes), which \
            installs the bundle's three files into livepatchd's patch directory. Installing it on \
            a host is then the same as copying the files there: livepatchd verifies and applies \
            the patch by its own policy. The package version is the manifest's version, which \
            must then be a valid Debian version (start with a digit). It depends on livepatchd.

            Removing the package removes the three files again, nothing more: an applied patch \
            stays applied (livepatchd runs its own verified copy) until `lpclient revert NAME`, \
            and the patch directory stays (livepatchd's package owns it too).

            Needs dpkg-deb (Debian's dpkg package).

            Example:
              lpbundle deb out/livepatch_fix.json --out repo/pool/
              sudo dpkg -i repo/pool/livepatch-fix_3_all.deb      # or apt, from your repository
              lpclient show livepatch_fix
            """
    )

    @Argument(help: "The bundle's manifest, NAME.json; its signature and module must be in the same directory.")
    var manifest: String

    @Option(help: "Directory to write the .deb to (created if missing).")
    var out: String

    @Option(help: "Where the package puts the files: livepatchd's patch_dir on the hosts.")
    var patchDir = "/var/lib/livepatchd/incoming"

    @Option(help: "The package's Maintainer field (default: $DEBFULLNAME <$DEBEMAIL>, else lpbundle's).")
    var maintainer: String?

    func validate() throws {
        guard patchDir.hasPrefix("/") else { throw ValidationError("--patch-dir must be an absolute path, got \(patchDir)") }
    }

    func run() throws {
        let directory = Files.directory(of: manifest)
        let manifestBytes: [UInt8]
        do {
            manifestBytes = Array(try Data(contentsOf: URL(fileURLWithPath: manifest)))
        } catch {
            throw Failure("cannot read \(manifest): \(error)")
        }
        let parsed: Manifest
        do {
            parsed = try Manifest.parse(manifestBytes)
        } catch {
            throw Failure("\(manifest) is not a valid manifest: \(error)")
        }
        let version = parsed.version
        guard Self.isDebianVersion(version) else {
            throw Failure(
                "the manifest's version \"\(version)\" is not a Debian version (it must start with a digit and use only "
                    + "letters, digits and . + ~ -): make the bundle again with lpbundle create --version N")
        }
        let files = [Files.fileName(of: manifest), Files.fileName(of: manifest) + ".sig", parsed.module]
        for file in files where !Files.exists("\(directory)/\(file)") {
            throw Failure("\(directory)/\(file) is missing: a bundle is the manifest, its .sig and the module side by side")
        }
        let module = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(parsed.module)"))
        let digest = sha256Hex(Array(module))
        guard digest == parsed.sha256 else {
            throw Failure("\(parsed.module) has sha256 \(digest) but the manifest pins \(parsed.sha256): livepatchd would reject it")
        }

        let package = "livepatch-" + parsed.name.replacing("_", with: "-")
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("lpbundle-deb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let target = tree + patchDir
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(tree)/DEBIAN", withIntermediateDirectories: true)
        var bytes = 0
        for file in files {
            try FileManager.default.copyItem(atPath: "\(directory)/\(file)", toPath: "\(target)/\(file)")
            chmod("\(target)/\(file)", 0o644)
            bytes += (try? FileManager.default.attributesOfItem(atPath: "\(target)/\(file)")[.size] as? Int) ?? 0
        }
        let control = controlFile(package: package, version: version, manifest: parsed, installedSize: bytes)
        try Data(control.utf8).write(to: URL(fileURLWithPath: "\(tree)/DEBIAN/control"))

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let debPath = "\(out)/\(package)_\(version)_all.deb"
        // Its "building package ..." line is dropped: stdout is the path alone, and what
        // dpkg-deb says on its standard error (a failure) is still seen.
        let discard = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(discard) }
        let status: Int32
        do {
            status = try ChildProcess.run(["dpkg-deb", "--root-owner-group", "--build", tree, debPath], output: discard)
        } catch {
            throw Failure("cannot \(error); install dpkg")
        }
        guard status == 0 else { throw Failure("dpkg-deb --build failed with exit status \(status) (what it said is above)") }
        print(debPath)
    }

    private func controlFile(package: String, version: String, manifest: Manifest, installedSize: Int) -> String {
        let environment = ProcessInfo.processInfo.environment
        let maintainer =
            maintainer
            ?? environment["DEBEMAIL"].map { "\(environment["DEBFULLNAME"] ?? "livepatch author") <\($0)>" }
            ?? "lpbundle <lpbundle@localhost>"
        let summary = manifest.description.isEmpty ? "kernel livepatch \(manifest.name)" : manifest.description
        var long = [
            "Kernel livepatch bundle \(manifest.name) version \(manifest.version) for livepatchd,",
            "built for kernel(s) \(manifest.kernels.joined(separator: ", ")).",
        ]
        if !manifest.fixes.isEmpty { long.append("Fixes: \(manifest.fixes.joined(separator: ", ")).") }
        if manifest.replace { long.append("Cumulative: replaces every other livepatch when applied.") }
        long.append("Module sha256 \(manifest.sha256).")
        return """
            Package: \(package)
            Version: \(version)
            Architecture: all
            Maintainer: \(maintainer)
            Installed-Size: \(max(1, (installedSize + 1023) / 1024))
            Depends: livepatchd
            Section: kernel
            Priority: optional
            Description: \(summary.split(separator: "\n").first.map(String.init) ?? summary)
            \(long.map { " " + $0 }.joined(separator: "\n"))

            """
    }

    static func isDebianVersion(_ version: String) -> Bool {
        guard let first = version.unicodeScalars.first, ("0"..."9").contains(first) else { return false }
        return version.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || ".+~-".unicodeScalars.contains(scalar)
        }
    }
}
