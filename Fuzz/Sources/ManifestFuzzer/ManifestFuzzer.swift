import FuzzSupport
import LivepatchCore

/// Feeds arbitrary bytes to `Manifest.parse`, the decoder the daemon runs on every NAME.json in
/// the patch directory.
///
/// Beyond "never traps, never hangs": a manifest that parses obeys the rules parse promises
/// (a valid module name, a plain module file name, 64 hex digits, at least one kernel), and the
/// bytes `encoded()` makes of it (what `lpbundle create` writes and signs) parse back to the
/// same manifest.
@main
enum ManifestFuzzer {
    static func main() {
        Fuzzer.run(manifestTestOneInput)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func manifestTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Fuzzer.bytes(data, size)
    let manifest: Manifest
    do {
        manifest = try Manifest.parse(bytes)
    } catch {
        // Every rejection has a message for the operator.
        if error.description.isEmpty { Fuzzer.fail("empty message for \(error)") }
        return 0
    }
    checkRules(manifest)
    let encoded = manifest.encoded()
    do {
        let again = try Manifest.parse(encoded)
        if again != manifest { Fuzzer.fail("re-encoded manifest decodes differently: \(manifest) vs \(again)") }
    } catch {
        Fuzzer.fail("re-encoded manifest is rejected: \(error)")
    }
    return 0
}

private func checkRules(_ manifest: Manifest) {
    if manifest.format != Manifest.currentFormat { Fuzzer.fail("format \(manifest.format)") }
    if !Manifest.isValidName(manifest.name) { Fuzzer.fail("name \(manifest.name)") }
    if let problem = Manifest.plainFileNameProblem(manifest.module) { Fuzzer.fail("module: \(problem)") }
    if manifest.sha256.utf8.count != 64 { Fuzzer.fail("sha256 \(manifest.sha256)") }
    if manifest.kernels.isEmpty { Fuzzer.fail("no kernels") }
    if manifest.version.isEmpty { Fuzzer.fail("empty version") }
}
