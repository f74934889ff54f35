import FoundationEssentials
import Glibc
import LivepatchCore
import LivepatchSystem
import Synchronization

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
    enum Injection: String { case stall, failLoad = "fail-load", failRead = "fail-read", transitionDelay = "transition-delay" }

    let root: String
    let now = Date().timeIntervalSince1970
    var modules: [String: SimulatedModule] = [:]
    var lastSequence = 0
    /// Modules loaded while the lock was held, for `load.log`.
    var loaded: [String] = []

    func injected(_ injection: Injection) -> Set<String> {
        let text = (try? String(contentsOfFile: "\(root)/inject/\(injection.rawValue)", encoding: .utf8)) ?? ""
        return Set(text.split(whereSeparator: \.isNewline).map { String($0.trimmed) }.filter { !$0.isEmpty })
    }

    /// How the kernel refuses to load `name`, from the `inject/fail-load` lines naming it:
    /// `NAME [ERRNO [LINE]]`, ERRNO a name such as `EINVAL` (default ENOEXEC), LINE what the kernel
    /// logs at that moment as `/dev/kmsg` shows it, `<PRIORITY>text` (one line each; lines about
    /// other patches included, as a real kernel log has them). Nil when it is not refused.
    func loadRefusal(_ name: String) -> SimulatedRefusal? {
        let text = (try? String(contentsOfFile: "\(root)/inject/\(Injection.failLoad.rawValue)", encoding: .utf8)) ?? ""
        var refusal: SimulatedRefusal?
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.trimmed.split(separator: " ", maxSplits: 2).map(String.init)
            guard words.first == name else { continue }
            var current = refusal ?? SimulatedRefusal(errno: words.count > 1 ? SimulatedRefusal.errno(named: words[1]) : ENOEXEC)
            if words.count > 2 { current.logged.append(SimulatedRefusal.kmsgLine(words[2])) }
            refusal = current
        }
        return refusal
    }

    var transitionDelay: Double {
        let text = (try? String(contentsOfFile: "\(root)/inject/transition-delay", encoding: .utf8)) ?? ""
        return Double(text.trimmed) ?? 0.05
    }

    /// Ends every transition whose time has come, the way the kernel would have meanwhile.
    mutating func advance() {
        let stalled = injected(.stall)
        let ending = modules.values.filter { $0.transitionEnd != nil }.sorted { $0.sequence < $1.sequence }.map(\.name)
        for name in ending {
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

/// A load the simulated kernel refuses: the errno the call fails with and what the kernel logs.
struct SimulatedRefusal {
    var errno: Int32
    var logged: [KernelLogLine] = []

    /// The errnos a refused livepatch load meets on Linux; anything else is ENOEXEC.
    static func errno(named name: String) -> Int32 {
        let known: [String: Int32] = [
            "EINVAL": EINVAL, "ENOENT": ENOENT, "ENOEXEC": ENOEXEC, "EPERM": EPERM, "EKEYREJECTED": EKEYREJECTED,
            "EBUSY": EBUSY, "EEXIST": EEXIST, "ENODEV": ENODEV, "ENOMEM": ENOMEM,
        ]
        return known[name] ?? Int32(name) ?? ENOEXEC
    }

    /// `<4>text` as `/dev/kmsg` and `dmesg -r` show a line; no prefix, no priority.
    static func kmsgLine(_ line: String) -> KernelLogLine {
        guard line.hasPrefix("<"), let close = line.firstIndex(of: ">"),
            let priority = Int(line[line.index(after: line.startIndex)..<close])
        else { return KernelLogLine(line) }
        return KernelLogLine(String(line[line.index(after: close)...]), priority: priority)
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

        // A daemon killed in the middle of a commit below left its intent: finish it first, as a
        // kernel finishes an insmod whatever happens to the process that asked for it.
        try Self.replayCommit(root: root)
        var state = SimulatedState(root: root)
        let directory = "\(root)/modules"
        for module in try moduleFiles.read(directory) {
            state.modules[module.name] = module
            state.lastSequence = max(state.lastSequence, module.sequence)
        }
        let before = state.modules
        state.advance()
        let result = try body(&state)

        let commit = SimulatedCommit(
            write: state.modules.values.filter { before[$0.name] != $0 }.sorted { $0.name < $1.name },
            remove: before.keys.filter { state.modules[$0] == nil }.sorted(), loaded: state.loaded,
            logSize: Self.fileSize("\(root)/load.log"))
        guard !commit.isEmpty else { return result }
        let intent = "\(root)/commit.json"
        try Self.write(try? JSONEncoder().encode(commit), to: intent, what: root)
        try Self.apply(commit, root: root)
        try? FileManager.default.removeItem(atPath: intent)
        return result
    }
}

/// One change of the simulated kernel's state, written whole before it is applied file by file,
/// so a process killed in between leaves something to finish rather than a torn kernel.
struct SimulatedCommit: Codable {
    var write: [SimulatedModule]
    var remove: [String]
    var loaded: [String]
    /// `load.log`'s size before this commit: replaying truncates to it, so no load is logged twice.
    var logSize: Int64

    var isEmpty: Bool { write.isEmpty && remove.isEmpty && loaded.isEmpty }
}

extension SimulatedKernel {
    static func replayCommit(root: String) throws(BackendError) {
        let intent = "\(root)/commit.json"
        guard let data = FileManager.default.contents(atPath: intent) else { return }
        if let commit = try? JSONDecoder().decode(SimulatedCommit.self, from: data) { try apply(commit, root: root) }
        try? FileManager.default.removeItem(atPath: intent)
    }

    /// Idempotent: applying a commit again gives the same files.
    static func apply(_ commit: SimulatedCommit, root: String) throws(BackendError) {
        let directory = "\(root)/modules"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        for module in commit.write {
            try write(try? encoder.encode(module), to: "\(directory)/\(module.name).json", what: module.name)
        }
        if !commit.loaded.isEmpty {
            let log = open("\(root)/load.log", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if log >= 0 {
                _ = fchmod(log, 0o644)  // whatever the umask
                _ = ftruncate(log, off_t(commit.logSize))
                let lines = commit.loaded.map { "\($0)\n" }.joined()
                _ = lines.withCString { pwrite(log, $0, strlen($0), off_t(commit.logSize)) }
                close(log)
            }
        }
        for name in commit.remove {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name).json")
        }
    }

    private static func write(_ data: Data?, to path: String, what: String) throws(BackendError) {
        guard let data else { throw BackendError("write", what, "cannot encode the simulated kernel state") }
        do { try AtomicFile.write(data, to: path, mode: 0o644, durability: .processCrash) } catch {
            throw BackendError("write", what, "cannot write the simulated kernel state: \(error)")
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}

/// The module files of a simulated kernel, decoded once and kept while a file stays the same
/// (inode, size, modification and change times): with 1000 modules, opening and decoding every
/// file on every call was most of what a step cost. A test that edits a file by hand changes its
/// times, so it is read again. As git does with its "racy clean" entries, a file whose times are
/// not clearly older than the read that cached it is read again: file times come from a clock
/// that ticks once a jiffy, so a second write in the same tick (of the same size, an inode number
/// come back) would keep every part of the stamp.
final class SimulatedModuleFiles: Sendable {
    /// Plain integers, no arrays: read for every module file on every call (1000 of them in
    /// `make bench`), where an array each was an allocation each.
    private struct Stamp: Equatable {
        var inode: UInt64
        var size: Int64
        /// Nanoseconds since the epoch.
        var modified: Int
        var changed: Int
    }

    private struct Entry {
        var stamp: Stamp
        var module: SimulatedModule
        /// When the file was read (before its `stat`), in nanoseconds since the epoch.
        var readAt: Int
    }

    /// Far more than a jiffy (10 ms at HZ=100) and the coarse clock's lag behind the fine one.
    private static let racyWindow = 100_000_000

    /// By file name: one simulated kernel, one directory.
    private let known = Mutex<[String: Entry]>([:])

    /// Every module in `directory`; one that cannot be read leaves the state unknown: an error,
    /// not an absence.
    func read(_ directory: String) throws(BackendError) -> [SimulatedModule] {
        let files = (try? Directory.entries(directory)) ?? []
        // Stated by name in the open directory, not by path: with 1000 modules these stats were a
        // fifth of the daemon's CPU in `make bench`'s bundle row.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directoryFD >= 0 { close(directoryFD) } }
        let before = known.withLock { $0 }
        var now: [String: Entry] = [:]
        now.reserveCapacity(files.count)
        var modules: [SimulatedModule] = []
        modules.reserveCapacity(files.count)
        let decoder = JSONDecoder()
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let readAt = clock.nanoseconds
        for file in files where file.hasSuffix(".json") {
            var status = stat()
            let stamp =
                directoryFD >= 0 && fstatat(directoryFD, file, &status, AT_SYMLINK_NOFOLLOW) == 0
                ? Stamp(
                    inode: UInt64(status.st_ino), size: Int64(status.st_size), modified: status.st_mtim.nanoseconds,
                    changed: status.st_ctim.nanoseconds)
                : nil
            if let stamp, let entry = before[file], entry.stamp == stamp,
                max(stamp.modified, stamp.changed) < entry.readAt - Self.racyWindow
            {
                now[file] = entry
                modules.append(entry.module)
                continue
            }
            let path = "\(directory)/\(file)"
            guard let data = FileManager.default.contents(atPath: path), let module = try? decoder.decode(SimulatedModule.self, from: data)
            else { throw BackendError("read", path, "cannot read the simulated kernel's module file", errno: EIO) }
            if let stamp { now[file] = Entry(stamp: stamp, module: module, readAt: readAt) }
            modules.append(module)
        }
        known.withLock { $0 = now }
        return modules
    }
}

extension timespec {
    fileprivate var nanoseconds: Int { tv_sec * 1_000_000_000 + tv_nsec }
}
