import Foundation
import LivepatchBundle
import LivepatchCore
import LivepatchSystem
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("BundleVerifier: a good bundle")
struct BundleVerifierAcceptTests {
    @Test func verifiesACompleteBundleWritingNothing_thenStoresIt() throws {
        let fixture = try BundleFixture()
        let manifest = try fixture.makeBundle(name: "lp_cmdline", functions: "vmlinux:cmdline_proc_show")
        let outcome = fixture.verifier().verify(manifestFileName: "lp_cmdline.json")
        let patch = try #require(outcome.verified, "\(outcome)")
        #expect(patch.manifest == manifest)
        #expect(patch.release == BundleFixture.release)
        #expect(patch.functions == ["vmlinux:cmdline_proc_show"])
        #expect(patch.signedBy == "test")
        #expect(patch.moduleInfo.name == "lp_cmdline")
        #expect(!FileManager.default.fileExists(atPath: fixture.storeRoot), "verifying writes nothing")
        let stored = try fixture.store.commit(patch, limit: Policy().maxModuleSize)
        #expect(stored.modulePath == "\(fixture.storeRoot)/\(manifest.sha256)/lp_cmdline.ko")
        #expect(stored.manifestPath == "\(fixture.storeRoot)/\(manifest.sha256)/lp_cmdline.json")
        // The store holds exactly what was verified.
        let storedModule = try Data(contentsOf: URL(fileURLWithPath: stored.modulePath))
        #expect(sha256Hex([UInt8](storedModule)) == manifest.sha256)
        let storedManifest = [UInt8](try Data(contentsOf: URL(fileURLWithPath: stored.manifestPath)))
        #expect(storedManifest == (try fixture.bytes("lp_cmdline.json")))
        #expect(patch.manifestDigest == sha256Hex(storedManifest))
        #expect(FileManager.default.fileExists(atPath: stored.manifestPath + ".sig"))
        #expect(try fixture.storeLeftovers().isEmpty)
    }

    @Test func aModuleChangedBetweenVerifyingAndStoringIsNotStored() throws {
        let fixture = try BundleFixture()
        let manifest = try fixture.makeBundle(name: "lp_swapped")
        let patch = try #require(fixture.verifier().verify(manifestFileName: "lp_swapped.json").verified)
        // Rewritten in place (same inode) after it was verified.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(fixture.patchDirectory)/\(manifest.module)"))
        try handle.write(contentsOf: Data("not the module".utf8))
        try handle.close()
        #expect(throws: PatchStore.CommitError.self) { try fixture.store.commit(patch, limit: Policy().maxModuleSize) }
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.storeRoot)/\(manifest.sha256)"))
        #expect(try fixture.storeLeftovers().isEmpty)
    }

    @Test func storingTwiceIsIdempotent() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_twice")
        let first = try #require(fixture.verifier().verify(manifestFileName: "lp_twice.json").verified)
        let second = try #require(fixture.verifier().verify(manifestFileName: "lp_twice.json").verified)
        _ = try fixture.store.commit(first, limit: Policy().maxModuleSize)
        _ = try fixture.store.commit(second, limit: Policy().maxModuleSize)
        #expect(first == second)
        #expect(try Directory.entries(fixture.storeRoot) == [first.manifest.sha256])
        #expect(try Directory.entries("\(fixture.storeRoot)/\(first.manifest.sha256)")
            == ["lp_twice.json", "lp_twice.json.sig", "lp_twice.ko"])
    }

    @Test func unsignedBundleVerifiesWhenPolicyAllows() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp_unsigned.ko", name: "lp_unsigned")
        try fixture.writeBundle(try fixture.manifest(name: "lp_unsigned", module: "lp_unsigned.ko"), signed: false)
        let patch = try #require(fixture.verifier(requireSignature: false).verify(manifestFileName: "lp_unsigned.json").verified)
        #expect(patch.signedBy == nil)
        #expect(patch.functions.isEmpty)
    }

    @Test func listsManifestsOnly() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_b")
        try fixture.makeBundle(name: "lp_a")
        try fixture.write(Array("{}".utf8), to: ".hidden.json")
        try fixture.write(Array("{}".utf8), to: "notes.txt")
        #expect(try BundleVerifier.manifestFileNames(inDirectory: fixture.patchDirectory) == ["lp_a.json", "lp_b.json"])
    }
}

@Suite("BundleVerifier: waiting for files")
struct BundleVerifierPendingTests {
    @Test func missingSignatureAndModuleAreBothNamed() throws {
        let fixture = try BundleFixture()
        let manifest = Manifest(
            name: "lp_wait", version: "1", module: "lp_wait.ko", sha256: String(repeating: "a", count: 64),
            kernels: [BundleFixture.release], created: "2026-11-05T14:03:00Z")
        try fixture.writeBundle(manifest, signed: false)
        let outcome = fixture.verifier().verify(manifestFileName: "lp_wait.json")
        let digest = sha256Hex(Array(try #require(FileManager.default.contents(atPath: fixture.path("lp_wait.json")))))
        #expect(
            outcome == .incomplete(name: "lp_wait", manifest: manifest, manifestDigest: digest, missing: ["lp_wait.json.sig", "lp_wait.ko"]))
    }

    @Test func missingModuleIsWaitedFor() throws {
        let fixture = try BundleFixture()
        let manifest = try fixture.makeBundle(name: "lp_late")
        try FileManager.default.removeItem(atPath: fixture.path("lp_late.ko"))
        #expect(fixture.verifier().verify(manifestFileName: "lp_late.json").missing == ["lp_late.ko"])
        // When the module arrives, the same manifest verifies.
        try fixture.makeModule("lp_late.ko", name: "lp_late")
        #expect(fixture.verifier().verify(manifestFileName: "lp_late.json").verified?.manifest == manifest)
    }
}
