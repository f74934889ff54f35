#if canImport(Glibc)
import Glibc
#endif

/// Small directory operations with errno kept.
public enum Directory {
    /// Names in `path`, without `.` and `..`, sorted.
    public static func entries(_ path: String) throws(SystemError) -> [String] {
        guard let stream = opendir(path) else { throw .current("opendir", path) }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .current("readdir", path) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// `path` is a directory, or a link to one; false when it is anything else or cannot be looked at.
    public static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and missing parents with exactly `mode`, whatever the umask; an existing
    /// directory is fine and keeps its mode.
    public static func create(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/\(component)"
            if mkdir(partial, mode) == 0 {
                if chmod(partial, mode) != 0 { throw .current("chmod", partial) }
            } else if errno != EEXIST {
                throw .current("mkdir", partial)
            }
        }
        var status = stat()
        if stat(path, &status) != 0 { throw .current("stat", path) }
        if status.st_mode & S_IFMT != S_IFDIR { throw SystemError("mkdir", path, errno: ENOTDIR) }
    }
}
