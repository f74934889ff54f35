import LivepatchCore
import Testing

@Suite("RejectionReason")
struct RejectionReasonTests {
    static let all: [RejectionReason] = [
        .malformedManifest(.missingField("sha256")),
        .badSignature(.noTrustedKeyMatched(tried: ["release"])),
        .unsafeFile(file: "lp.ko", kind: .fifo),
        .unreadableFile(file: "lp.json", detail: "Permission denied"),
        .moduleTooLarge(module: "lp.ko", size: 70_000_000, limit: 67_108_864),
        .hashMismatch(module: "lp.ko", expected: "aa", actual: "bb"),
        .notLivepatch(module: "lp.ko"),
        .nameMismatch(manifest: "lp", module: "other"),
        .wrongKernel(release: "5.10.0", kernels: ["6.1.0"]),
        .unreadableModule(module: "lp.ko", detail: "not an ELF module"),
        .storeFailed(detail: "No space left on device"),
        .settleTimeout(missing: ["lp.ko"]),
    ]

    @Test func codesAreDistinctAndStable() {
        #expect(Set(Self.all.map(\.code)).count == Self.all.count)
        #expect(Self.all.map(\.code) == [
            "malformed-manifest", "bad-signature", "unsafe-file", "unreadable-file", "module-too-large",
            "hash-mismatch", "not-livepatch", "name-mismatch", "wrong-kernel", "unreadable-module",
            "store-failed", "settle-timeout",
        ])
    }

    @Test func descriptionsCarryTheDetails() {
        #expect(Self.all[0].description.contains("\"sha256\""))
        #expect(Self.all[1].description.contains("release"))
        #expect(Self.all[2].description.contains("lp.ko is a FIFO"))
        #expect(Self.all[4].description.contains("70000000") && Self.all[4].description.contains("67108864"))
        #expect(Self.all[5].description.contains("aa") && Self.all[5].description.contains("bb"))
        #expect(Self.all[7].description.contains("\"other\""))
        #expect(Self.all[8].description.contains("5.10.0") && Self.all[8].description.contains("6.1.0"))
        #expect(Self.all[11].description.contains("lp.ko"))
    }
}
