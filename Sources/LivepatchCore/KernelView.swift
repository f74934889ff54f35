import LivepatchAPI

/// A livepatch as the kernel (or the simulated kernel) shows it.
public struct KernelPatch: Sendable, Equatable {
    public var name: String
    /// `/sys/kernel/livepatch/<name>/enabled`.
    public var enabled: Bool
    /// `/sys/kernel/livepatch/<name>/transition`.
    public var inTransition: Bool
    public var functions: [String]
    /// `<object>/patched` of each object.
    public var objects: [PatchObject]

    public init(name: String, enabled: Bool, inTransition: Bool, functions: [String], objects: [PatchObject] = []) {
        self.name = name
        self.enabled = enabled
        self.inTransition = inTransition
        self.functions = functions
        self.objects = objects
    }
}

/// What the kernel showed at one moment: its livepatches, and its loaded modules (a module can
/// stay loaded after its patch left `/sys/kernel/livepatch`: disabled by hand, or on its way out).
public struct KernelView: Sendable, Equatable {
    public var patches: [KernelPatch]
    /// Names of the loaded modules (`/sys/module/<name>`), livepatches or not.
    public var loadedModules: Set<String>

    public init(patches: [KernelPatch], loadedModules: Set<String>) {
        self.patches = patches
        self.loadedModules = loadedModules
    }

    public func patch(_ name: String) -> KernelPatch? { patches.first { $0.name == name } }

    public func isLoaded(_ module: String) -> Bool { loadedModules.contains(module) }
}
