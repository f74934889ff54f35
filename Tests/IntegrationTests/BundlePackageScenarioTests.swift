import Foundation
import LivepatchAPI
import Testing

/// `lpbundle deb`: a bundle shipped as a Debian package, installed and removed with the real dpkg
/// (into a root of its own, `dpkg --root`, so the machine's own package database is untouched).
@Suite("Bundles as Debian packages", .serialized, .timeLimit(.minutes(5)))
struct BundlePackageScenarioTests {
    @Test("dpkg -i puts the bundle into the patch directory and the daemon applies it; dpkg -r takes the files, not the applied patch")
    func installAndRemove() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lp-dpkg-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        try #require(FileManager.default.createFile(atPath: "\(root)/var/lib/dpkg/status", contents: nil))
        let incoming = "\(root)/var/lib/livepatchd/incoming"
        let sandbox = try Sandbox(["patch_dir": "\"\(incoming)\""])
        try await sandbox.start()

        let bundle = try sandbox.bundle("apt_fix", version: "3")
        let made = try run(Binaries.path("lpbundle"), ["deb", bundle.manifest, "--out", "\(sandbox.staging)/pool"])
        #expect(made.status == 0, "\(made)")
        // The path alone, as a script capturing it with $(...) needs, and nothing else said.
        let deb = String(made.stdout.dropLast())
        #expect(made.stdout == "\(sandbox.staging)/pool/livepatch-apt-fix_3_all.deb\n", "\(made)")
        #expect(made.stderr.isEmpty, "\(made)")
        let fields = try run("/usr/bin/dpkg-deb", ["-f", deb, "Package", "Version", "Architecture", "Depends"])
        #expect(fields.stdout == "Package: livepatch-apt-fix\nVersion: 3\nArchitecture: all\nDepends: livepatchd\n", "\(fields)")
        let listing = try run("/usr/bin/dpkg-deb", ["--contents", deb])
        for file in ["apt_fix.json", "apt_fix.json.sig", "apt_fix.ko"] {
            #expect(listing.stdout.contains("root/root") && listing.stdout.contains("./var/lib/livepatchd/incoming/\(file)"), "\(listing)")
        }

        // The machine running the tests has no livepatchd package in this root: the dependency is forced.
        let dpkg = ["--root=\(root)", "--force-depends", "--force-not-root", "--force-script-chrootless"]
        let install = try run("/usr/bin/dpkg", dpkg + ["-i", deb])
        #expect(install.status == 0, "\(install)")
        try await sandbox.waitFor("apt_fix", .applied)
        #expect(sandbox.loadedModules == ["apt_fix"])
        #expect(try sandbox.patch("apt_fix")?.version == "3")

        let remove = try run("/usr/bin/dpkg", dpkg + ["-r", "livepatch-apt-fix"])
        #expect(remove.status == 0, "\(remove)")
        // No livepatchd package owns the patch directory in this root, so dpkg may take the emptied
        // directory with it (and the daemon make it again): what counts is that the files are gone.
        // On a host the directory stays, livepatchd's package owns it (the real-kernel tier checks).
        for file in ["apt_fix.json", "apt_fix.json.sig", "apt_fix.ko"] {
            #expect(!FileManager.default.fileExists(atPath: "\(incoming)/\(file)"), "\(file) left after dpkg -r")
        }
        // Removing the package is not a revert: the daemon runs its own verified copy.
        _ = try sandbox.lpclient("rescan")
        #expect(try sandbox.patch("apt_fix")?.state == .applied)
        #expect(sandbox.loadedModules == ["apt_fix"])
    }

    @Test("a manifest version that is not a Debian version is refused with what to do")
    func versionMustBeDebian() async throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("odd_version", version: "v2")
        let made = try run(Binaries.path("lpbundle"), ["deb", bundle.manifest, "--out", "\(sandbox.staging)/pool"])
        #expect(made.status != 0)
        #expect(made.stderr.contains("not a Debian version"), "\(made)")
    }
}
