import CLibFuzzer

#if canImport(Glibc)
import Glibc
#endif

/// The start-up shared by the fuzz executables.
///
/// `-sanitize=fuzzer` links libFuzzer's own `main`, which calls `LLVMFuzzerTestOneInput`; SwiftPM
/// however points `main` at the executable's `@main` (`--defsym main=<module>_main`), so each
/// fuzzer has an `@main` that calls ``run(_:)`` with the same function it exports as
/// `LLVMFuzzerTestOneInput`. Either way libFuzzer drives that one function.
public enum Fuzzer {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Hands the command line to libFuzzer and exits with its status.
    public static func run(_ testOneInput: TestOneInput) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }

    /// The input as bytes; libFuzzer may pass a null pointer for the empty input.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Stops the run with a message libFuzzer records as a crash, with the input that caused it.
    /// For broken invariants: the parsers' own errors are expected outcomes, not failures.
    public static func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
        fatalError("invariant broken: \(message)", file: file, line: line)
    }
}
