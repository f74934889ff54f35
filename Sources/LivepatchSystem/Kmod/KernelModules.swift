import CKmod

/// Loading and unloading kernel modules through libkmod, for the kernel backend.
///
/// Not exercised by tests on the development host, which cannot load modules; the
/// calls are the ones `insmod` and `rmmod` make. Errors keep the kernel's errno:
/// EEXIST (already loaded), EBUSY (another livepatch is in transition, or the module
/// is in use), ENOEXEC (bad module), EPERM (no CAP_SYS_MODULE, or lockdown),
/// EKEYREJECTED (signature enforcement).
public struct KernelModules: Sendable {
    public init() {}

    /// Loads the module file at `path` (finit_module), with no parameters.
    public func insert(path: String) throws(SystemError) {
        let context = try KmodContext()
        try context.withModule(path: path) { (module) throws(SystemError) in
            let result = kmod_module_insert_module(module, 0, nil)
            if result < 0 { throw SystemError("kmod_module_insert_module", path, errno: -result) }
        }
    }

    /// Unloads the module called `name` (delete_module, non-blocking as the kernel requires now).
    public func remove(name: String) throws(SystemError) {
        let context = try KmodContext()
        try context.withModule(name: name) { (module) throws(SystemError) in
            let result = kmod_module_remove_module(module, 0)
            if result < 0 { throw SystemError("kmod_module_remove_module", name, errno: -result) }
        }
    }
}
