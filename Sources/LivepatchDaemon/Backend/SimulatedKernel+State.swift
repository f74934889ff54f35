import Foundation
import LivepatchSystem

/// One loaded module of the simulated kernel and its `/sys/kernel/livepatch/<name>` state.
struct SimulatedModule: Codable, Equatable {
    var name: String
    var functions: [String]
    var replace: Bool
    var enabled: Bool
    /// The livepatch directory exists (enabled, or disabled with the transition still running).
    var inSysfs: Bool
    /// Seconds since the epoch at which the running transition ends; nil when none runs.
    var transitionEnd: Double?
    /// Load order.
    var sequence: Int
    var forced = false
}

/// The simulated kernel's state while its lock is held.
struct SimulatedState {
    enum Injection: String { case stall, failLoad = "fail-load", transitionDelay = "transition-delay" }

    let root: String
    let now = Date().timeIntervalSince1970
    var modules: [String: SimulatedModule] = [:]
    var lastSequence = 0
    /// Modules loaded while the lock was held, for `load.log`.
    var loaded: [String] = []

    func injected(_ injection: Injection) -> Set<String> {
        let text = (try? String(contentsOfFile: "\(root)/inject/\(injection.rawValue)", encoding: .utf8)) ?? ""
        return Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    var transitionDelay: Double {
        let text = (try? String(contentsOfFile: "\(root)/inject/transition-delay", encoding: .utf8)) ?? ""
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0.05
    }

    /// Ends every transition whose time has come, the way the kernel would have meanwhile.
    mutating func advance() {
        let stalled = injected(.stall)
        for name in modules.keys.sorted(by: { modules[$0]!.sequence < modules[$1]!.sequence }) {
            guard var module = modules[name], let end = module.transitionEnd, end <= now else { continue }
            // Only the way in stalls: a reversed or disabling transition ends on time.
            if stalled.contains(name) && module.enabled && !module.forced { continue }
            module.transitionEnd = nil
            if !module.enabled { module.inSysfs = false }
            modules[name] = module
            if module.enabled && module.replace {
                for other in modules.keys where other != name && modules[other]!.inSysfs {
                    modules[other]!.enabled = false
                    modules[other]!.inSysfs = false
                }
            }
        }
    }
}

extension SimulatedKernel {
    /// Runs `body` with the state loaded, advanced to now and written back, under the lock.
    func withState<T>(_ body: (inout SimulatedState) throws(BackendError) -> T) throws(BackendError) -> T {
        let lock = open("\(root)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw BackendError("lock", root, "cannot open the simulated kernel lock", errno: errno) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw BackendError("lock", root, "flock failed", errno: errno) }
        }

        var state = SimulatedState(root: root)
        let directory = "\(root)/modules"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decoder = JSONDecoder()
        for file in files where file.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(file)"),
                let module = try? decoder.decode(SimulatedModule.self, from: data)
            else { continue }
            state.modules[module.name] = module
            state.lastSequence = max(state.lastSequence, module.sequence)
        }
        let before = state.modules
        state.advance()
        let result = try body(&state)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        for (name, module) in state.modules where before[name] != module {
            guard let data = try? encoder.encode(module) else { continue }
            do { try data.write(to: URL(fileURLWithPath: "\(directory)/\(name).json"), options: .atomic) } catch {
                throw BackendError("write", name, "cannot write the simulated kernel state: \(error.localizedDescription)")
            }
        }
        if !state.loaded.isEmpty {
            let log = open("\(root)/load.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if log >= 0 {
                let lines = state.loaded.map { "\($0)\n" }.joined()
                _ = lines.withCString { Glibc.write(log, $0, strlen($0)) }
                close(log)
            }
        }
        for name in before.keys where state.modules[name] == nil {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name).json")
        }
        return result
    }
}
