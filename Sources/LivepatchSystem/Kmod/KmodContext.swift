import CKmod

#if canImport(Glibc)
import Glibc
#endif

/// One libkmod context. Not thread-safe (FACTS.md), so each is owned by one caller
/// and released when it goes away; creating one is cheap (indexes load lazily).
final class KmodContext {
    let handle: OpaquePointer

    init() throws(SystemError) {
        // nil, nil: the running kernel's /lib/modules and the default configuration,
        // which libkmod only reads when asked to resolve names, never for a path.
        guard let handle = kmod_new(nil, nil) else { throw SystemError("kmod_new", errno: ENOMEM) }
        self.handle = handle
    }

    deinit { kmod_unref(handle) }

    /// A module handle for the file at `path`, released after `body`.
    func withModule<T>(path: String, _ body: (OpaquePointer) throws(SystemError) -> T) throws(SystemError) -> T {
        var module: OpaquePointer?
        let result = kmod_module_new_from_path(handle, path, &module)
        guard result >= 0, let module else { throw SystemError("kmod_module_new_from_path", path, errno: -result) }
        defer { kmod_module_unref(module) }
        return try body(module)
    }

    /// A module handle for a loaded (or loadable) module name, released after `body`.
    func withModule<T>(name: String, _ body: (OpaquePointer) throws(SystemError) -> T) throws(SystemError) -> T {
        var module: OpaquePointer?
        let result = kmod_module_new_from_name(handle, name, &module)
        guard result >= 0, let module else { throw SystemError("kmod_module_new_from_name", name, errno: -result) }
        defer { kmod_module_unref(module) }
        return try body(module)
    }
}
