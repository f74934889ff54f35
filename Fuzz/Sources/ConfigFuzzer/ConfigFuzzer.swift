import FuzzSupport
import LivepatchDaemon

/// Feeds arbitrary bytes to `ConfigLoader.apply(contentsOf:file:to:)`, what the daemon runs on
/// the contents of its config file and of each drop-in (UTF-8 check, TOML, then every key).
///
/// Invariants: a refused file gets a message, and a line number only within the file; an
/// accepted one gives a configuration whose `renderTOML()` (what `livepatchd --check-config`
/// prints, "a TOML file that would reproduce it") is accepted and reproduces it.
@main
enum ConfigFuzzer {
    static func main() {
        Fuzzer.run(configTestOneInput)
    }
}

/// Where the daemon reads its config; relative paths in the input resolve against its directory.
private let configPath = "/etc/livepatchd/livepatchd.toml"

@_cdecl("LLVMFuzzerTestOneInput")
func configTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Fuzzer.bytes(data, size)
    var config = Configuration()
    do {
        try ConfigLoader.apply(contentsOf: bytes, file: configPath, to: &config)
    } catch {
        if error.message.isEmpty { Fuzzer.fail("empty message for \(error)") }
        if error.file != configPath { Fuzzer.fail("error names \(String(describing: error.file))") }
        if let line = error.line {
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            if line < 1 || line > lines { Fuzzer.fail("line \(line) of a \(lines)-line file: \(error)") }
        }
        return 0
    }

    let rendered = config.renderTOML()
    var again = Configuration()
    do {
        try ConfigLoader.apply(contentsOf: Array(rendered.utf8), file: configPath, to: &again)
    } catch {
        Fuzzer.fail("rendered configuration is refused: \(error)\n\(rendered)")
    }
    if again != config { Fuzzer.fail("rendered configuration reads back differently:\n\(rendered)") }
    return 0
}
