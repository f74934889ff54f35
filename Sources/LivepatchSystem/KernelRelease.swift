#if canImport(Glibc)
import Glibc
#endif

/// `uname -r` of the running kernel, e.g. `6.1.0-56-amd64`.
public func runningKernelRelease() -> String {
    var names = utsname()
    // uname(2) fails only for a bad buffer pointer, which cannot happen here.
    guard uname(&names) == 0 else { return "unknown" }
    return withUnsafeBytes(of: &names.release) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}
