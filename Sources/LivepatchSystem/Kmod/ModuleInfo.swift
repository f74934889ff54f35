import FoundationEssentials
import CKmod

/// A module's modinfo (its `.modinfo` section), as `modinfo FILE` shows it.
public struct ModuleInfo: Sendable, Equatable {
    /// One `key=value` entry; keys repeat (`alias`, `depends`, `parm`), so entries stay a list.
    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Entries in the order libkmod lists them (the order `modinfo` prints).
    public var fields: [Field]

    public init(fields: [Field]) { self.fields = fields }

    /// Every value of `key`.
    public func values(_ key: String) -> [String] { fields.filter { $0.key == key }.map(\.value) }

    /// The first value of `key`.
    public func value(_ key: String) -> String? { fields.first { $0.key == key }?.value }

    /// The module's own name: `/sys/module/<name>`, `/sys/kernel/livepatch/<name>`. Not the file name.
    public var name: String? { value("name") }

    /// E.g. `"6.1.0-56-amd64 SMP preempt mod_unload modversions "` (the trailing space is the kernel's).
    public var vermagic: String? { value("vermagic") }

    /// The kernel release the module was built for: vermagic's first word.
    public var vermagicRelease: String? {
        vermagic?.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init)
    }

    /// `MODULE_INFO(livepatch, "Y")`.
    public var isLivepatch: Bool { value("livepatch") == "Y" }

    /// Functions the simulated kernel treats this module as patching, `object:function`,
    /// from the fixture-only key `livepatchd_sim_functions`; empty for real modules.
    public var simulatedFunctions: [String] {
        guard let list = value("livepatchd_sim_functions") else { return [] }
        // Blanks around the commas are allowed; no object or function name holds one.
        return list.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
    }

    /// Reads the modinfo of the module file at `path` with libkmod.
    /// Throws ENOEXEC-style errors for a file that is not an ELF object with a `.modinfo` section.
    public static func read(path: String) throws(SystemError) -> ModuleInfo {
        let context = try KmodContext()
        return try context.withModule(path: path) { (module) throws(SystemError) in
            var list: OpaquePointer?
            let count = kmod_module_get_info(module, &list)
            if count < 0 { throw SystemError("kmod_module_get_info", path, errno: -count) }
            defer { kmod_module_info_free_list(list) }
            var fields: [Field] = []
            // kmod_list_foreach is a macro and does not import.
            var entry = list
            while let current = entry {
                let key = kmod_module_info_get_key(current).map { String(cString: $0) } ?? ""
                let value = kmod_module_info_get_value(current).map { String(cString: $0) } ?? ""
                fields.append(Field(key: key, value: value))
                entry = kmod_list_next(list, current)
            }
            return ModuleInfo(fields: fields)
        }
    }
}
