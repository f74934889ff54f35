import Foundation

/// The simulated kernel's directory read and changed the way a test's own "insmod" would:
/// under the kernel's lock, so a daemon working at the same moment never sees half a change.
struct SimulatedKernelFiles {
    let root: String

    /// One loaded module as `modules/<name>.json` holds it.
    struct Module: Codable, Equatable {
        var name: String
        var functions: [String]
        var replace: Bool
        var enabled: Bool
        var inSysfs: Bool
        var transitionEnd: Double?
        var sequence: Int
        var forced: Bool

        /// The kernel would say the transition is over (the daemon writes that down lazily).
        var inTransition: Bool { (transitionEnd ?? 0) > Date().timeIntervalSince1970 }
        /// Its livepatch directory is there, counting a transition the clock already ended.
        var registered: Bool { inSysfs && (enabled || inTransition) }
    }

    /// The truth: every loaded module by name.
    func modules() throws -> [String: Module] {
        try locked {
            let directory = "\(root)/modules"
            var modules: [String: Module] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".json") {
                let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)"))
                let module = try JSONDecoder().decode(Module.self, from: data)
                modules[module.name] = module
            }
            return modules
        }
    }

    /// Every successful load, oldest first.
    var loadLog: [String] {
        ((try? String(contentsOfFile: "\(root)/load.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A livepatch loaded by hand (insmod), enabled; its transition over, or running until `transitionEnd`.
    func insertForeign(_ name: String, functions: [String], transitionEnd: Double? = nil) throws {
        try locked {
            try write(
                Module(
                    name: name, functions: functions, replace: false, enabled: true, inSysfs: true, transitionEnd: transitionEnd,
                    sequence: 1000, forced: false))
        }
    }

    /// Changes one loaded module as someone at the kernel's console would (`echo 0 > enabled`, …).
    func change(_ name: String, _ body: (inout Module) -> Void) throws {
        try locked {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/modules/\(name).json"))
            var module = try JSONDecoder().decode(Module.self, from: data)
            body(&module)
            try write(module)
        }
    }

    private func write(_ module: Module) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(module).write(to: URL(fileURLWithPath: "\(root)/modules/\(module.name).json"), options: .atomic)
    }

    /// Gone from the kernel altogether (disabled and removed by hand).
    func remove(_ name: String) throws {
        try locked { try FileManager.default.removeItem(atPath: "\(root)/modules/\(name).json") }
    }

    /// A change a killed daemon left half-applied (the kernel finishes it at its next use).
    var unfinishedCommit: Bool { FileManager.default.fileExists(atPath: "\(root)/commit.json") }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open("\(root)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TimeoutError(description: "open \(root)/.lock: errno \(errno)") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw TimeoutError(description: "flock \(root)/.lock: errno \(errno)") }
        }
        return try body()
    }
}
