#if canImport(Glibc)
import Glibc
#endif

/// The process's limit on open file descriptors (RLIMIT_NOFILE).
///
/// systemd starts services with a soft limit of 1024 and a hard limit of 524288, and expects a
/// program that needs more descriptors to raise its own soft limit (select(2) users would break
/// with more, so the default stays low). The daemon needs one descriptor per control-socket
/// connection and allows thousands.
public enum OpenFileLimit {
    /// Raises the soft limit to `wanted`, or to the hard limit if that is lower, and returns the
    /// limit now in force. Never lowers it.
    @discardableResult
    public static func raise(to wanted: UInt) throws(SystemError) -> UInt {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { throw .current("getrlimit", "RLIMIT_NOFILE") }
        let target = min(rlim_t(wanted), limit.rlim_max)
        guard limit.rlim_cur < target else { return UInt(limit.rlim_cur) }
        limit.rlim_cur = target
        guard setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { throw .current("setrlimit", "RLIMIT_NOFILE") }
        return UInt(target)
    }

    /// Glibc imports RLIMIT_NOFILE as an enum case of `__rlimit_resource`, typed differently from
    /// the `Int32` the functions take.
    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
