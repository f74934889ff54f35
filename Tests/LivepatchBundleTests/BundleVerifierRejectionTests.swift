import Foundation
import LivepatchBundle
import LivepatchCore
import LivepatchSystem
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every RejectionReason the verifier produces, from real files.
@Suite("BundleVerifier: rejections")
struct BundleVerifierRejectionTests {
    @Test func unparsableManifestIsListedUnderItsFileName() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array("{\"format\": 1,".utf8), to: "broken-patch.json")
        let outcome = fixture.verifier().verify(manifestFileName: "broken-patch.json")
        guard case .rejected(let name, let manifest, .malformedManifest(.notJSON)) = outcome else {
            Issue.record("unexpected \(outcome)")
            return
        }
        #expect(name == "broken-patch")
        #expect(manifest == nil)
    }

    @Test func oversizeManifestIsRejectedUnread() throws {
        let fixture = try BundleFixture()
        try fixture.write([UInt8](repeating: UInt8(ascii: " "), count: 70_000), to: "lp_huge.json")
        let reason = fixture.verifier().verify(manifestFileName: "lp_huge.json").reason
        #expect(reason == .malformedManifest(.tooLarge(size: 70_000, limit: Manifest.maximumSize)))
    }

    @Test func manifestNamedForAnotherPatchIsMalformed() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp_x.ko", name: "lp_x")
        try fixture.writeBundle(try fixture.manifest(name: "lp_x", module: "lp_x.ko"), file: "lp_y.json")
        let reason = fixture.verifier().verify(manifestFileName: "lp_y.json").reason
        #expect(reason?.code == "malformed-manifest")
        #expect(reason?.description.contains("lp_y.json") == true)
    }

    @Test func signatureByAnUntrustedKeyIsRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp_s.ko", name: "lp_s")
        try fixture.writeBundle(try fixture.manifest(name: "lp_s", module: "lp_s.ko"), signer: SigningKey())
        #expect(fixture.verifier().verify(manifestFileName: "lp_s.json").reason == .badSignature(.noTrustedKeyMatched(tried: ["test"])))
    }

    @Test func editedManifestNoLongerMatchesItsSignature() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_t")
        var bytes = try fixture.bytes("lp_t.json")
        bytes.insert(UInt8(ascii: " "), at: 1)  // still the same JSON, not the same bytes
        try fixture.write(bytes, to: "lp_t.json")
        #expect(fixture.verifier().verify(manifestFileName: "lp_t.json").reason?.code == "bad-signature")
    }

    @Test func garbageSignatureIsRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_g")
        try fixture.write(Array("not base64!\n".utf8), to: "lp_g.json.sig")
        #expect(fixture.verifier().verify(manifestFileName: "lp_g.json").reason == .badSignature(.notBase64(what: "signature")))
    }

    @Test(arguments: ["module", "manifest", "signature"])
    func symlinksAreNeverFollowed(which: String) throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_l")
        let file = ["module": "lp_l.ko", "manifest": "lp_l.json", "signature": "lp_l.json.sig"][which] ?? ""
        let target = "\(fixture.root)/elsewhere"
        try FileManager.default.moveItem(atPath: fixture.path(file), toPath: target)
        try FileManager.default.createSymbolicLink(atPath: fixture.path(file), withDestinationPath: target)
        #expect(fixture.verifier().verify(manifestFileName: "lp_l.json").reason == .unsafeFile(file: file, kind: .symlink))
    }

    @Test func fifoModuleIsRejectedWithoutBlocking() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_f")
        try FileManager.default.removeItem(atPath: fixture.path("lp_f.ko"))
        #expect(mkfifo(fixture.path("lp_f.ko"), 0o644) == 0)
        #expect(fixture.verifier().verify(manifestFileName: "lp_f.json").reason == .unsafeFile(file: "lp_f.ko", kind: .fifo))
    }

    @Test func directoryAndDeviceModulesAreRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_d")
        try FileManager.default.removeItem(atPath: fixture.path("lp_d.ko"))
        try Directory.create(fixture.path("lp_d.ko"))
        #expect(fixture.verifier().verify(manifestFileName: "lp_d.json").reason == .unsafeFile(file: "lp_d.ko", kind: .directory))
        try FileManager.default.removeItem(atPath: fixture.path("lp_d.ko"))
        // /dev/null's numbers; creating a device node needs root, which the test host has.
        if mknod(fixture.path("lp_d.ko"), S_IFCHR | 0o644, dev_t((1 << 8) | 3)) == 0 {
            #expect(
                fixture.verifier().verify(manifestFileName: "lp_d.json").reason
                    == .unsafeFile(file: "lp_d.ko", kind: .characterDevice))
        }
    }

    @Test func oversizeModuleIsRejectedBeforeHashing() throws {
        let fixture = try BundleFixture()
        try fixture.makeBundle(name: "lp_big")
        let size = Int64(try fixture.bytes("lp_big.ko").count)
        let reason = fixture.verifier(maxModuleSize: 100).verify(manifestFileName: "lp_big.json").reason
        #expect(reason == .moduleTooLarge(module: "lp_big.ko", size: size, limit: 100))
        #expect(try fixture.storeLeftovers().isEmpty)
    }

    @Test func replacedModuleFailsTheHash() throws {
        let fixture = try BundleFixture()
        let manifest = try fixture.makeBundle(name: "lp_h")
        try fixture.makeModule("lp_h.ko", name: "lp_h", functions: "vmlinux:other")
        let actual = sha256Hex(try fixture.bytes("lp_h.ko"))
        let reason = fixture.verifier().verify(manifestFileName: "lp_h.json").reason
        #expect(reason == .hashMismatch(module: "lp_h.ko", expected: manifest.sha256, actual: actual))
        #expect(try fixture.storeLeftovers().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.storeRoot)/\(actual)"))
    }

    @Test func moduleWithoutLivepatchFlagIsRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp_n.ko", name: "lp_n", livepatch: false)
        try fixture.writeBundle(try fixture.manifest(name: "lp_n", module: "lp_n.ko"))
        #expect(fixture.verifier().verify(manifestFileName: "lp_n.json").reason == .notLivepatch(module: "lp_n.ko"))
    }

    @Test func moduleNamedOtherwiseIsRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp-m.ko", name: "lp_other")
        try fixture.writeBundle(try fixture.manifest(name: "lp_m", module: "lp-m.ko"))
        #expect(fixture.verifier().verify(manifestFileName: "lp_m.json").reason == .nameMismatch(manifest: "lp_m", module: "lp_other"))
    }

    @Test func moduleForAnotherKernelIsRejected() throws {
        let fixture = try BundleFixture()
        try fixture.makeModule("lp_k.ko", name: "lp_k", release: "5.10.0-30-amd64")
        try fixture.writeBundle(try fixture.manifest(name: "lp_k", module: "lp_k.ko", kernels: ["6.1.0-56-amd64"]))
        let reason = fixture.verifier().verify(manifestFileName: "lp_k.json").reason
        #expect(reason == .wrongKernel(release: "5.10.0-30-amd64", kernels: ["6.1.0-56-amd64"]))
    }

    @Test func nonELFModuleIsUnreadable() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array("#!/bin/sh\necho not a module\n".utf8), to: "lp_u.ko")
        try fixture.writeBundle(try fixture.manifest(name: "lp_u", module: "lp_u.ko"))
        let reason = fixture.verifier().verify(manifestFileName: "lp_u.json").reason
        #expect(reason?.code == "unreadable-module")
        #expect(reason?.description.contains("lp_u.ko: not an ELF module") == true, "\(reason.map(String.init(describing:)) ?? "")")
        #expect(try fixture.storeLeftovers().isEmpty)
    }

    @Test(arguments: [
        ("new\nline.json", "new\\nline"), ("red\u{1B}[31m.json", "red\\u{1B}[31m"), ("bad\u{FFFD}.json", "bad\\u{FFFD}"),
        ("back\\slash.json", "back\\\\slash"),
    ])
    func unprintableManifestFileNameIsListedEscapedAndRejectedUnread(file: String, listed: String) throws {
        let fixture = try BundleFixture()
        let outcome = fixture.verifier().verify(manifestFileName: file)
        #expect(outcome.name == listed)
        #expect(outcome.reason?.code == "unreadable-file")
        #expect(outcome.reason?.description.contains("not printable ASCII") == true)
    }

    @Test func elfFileWithoutModinfoIsUnreadable() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))), to: "lp_e.ko")
        try fixture.writeBundle(try fixture.manifest(name: "lp_e", module: "lp_e.ko"))
        let reason = fixture.verifier().verify(manifestFileName: "lp_e.json").reason
        #expect(reason?.code == "unreadable-module")
        #expect(reason?.description.contains("lp_e.ko: an ELF file without a .modinfo section") == true, "\(reason.map(String.init(describing:)) ?? "")")
    }
}
