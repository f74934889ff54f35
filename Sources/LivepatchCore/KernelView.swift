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
    public var patches: [KernelPatch] {
        didSet { positions = Self.positions(of: patches) }
    }
    /// Names of the loaded modules (`/sys/module/<name>`), livepatches or not.
    public var loadedModules: Set<String>
    /// Where each name is in `patches`: the machine looks up every record's patch on every read,
    /// which a search of the list made quadratic (1000 patches: half a million comparisons).
    private var positions: [String: Int]

    public init(patches: [KernelPatch], loadedModules: Set<String>) {
        self.patches = patches
        self.loadedModules = loadedModules
        positions = Self.positions(of: patches)
    }

    public func patch(_ name: String) -> KernelPatch? { positions[name].map { patches[$0] } }

    /// The first of a name, as a search would find it (the kernel has one directory per name).
    private static func positions(of patches: [KernelPatch]) -> [String: Int] {
        Dictionary(patches.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func isLoaded(_ module: String) -> Bool { loadedModules.contains(module) }
}
