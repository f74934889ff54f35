import FoundationEssentials
import Glibc
import LivepatchAPI
import LivepatchCore
import LivepatchSystem

/// The kernel as the engine drives it: the thinnest surface both the real kernel
/// (libkmod + /sys/kernel/livepatch) and the simulated kernel implement.
public protocol PatchBackend: Sendable {
    /// `kernel` or `simulated`, as in the config.
    var kind: String { get }
    /// The release patches must be built for.
    var release: String { get }
    func support() -> KernelSupport
    /// This boot's id and kernel command line, read once at start.
    func boot() -> BootInfo
    /// Every livepatch in `/sys/kernel/livepatch` (enabled, or disabled and still in transition)
    /// and the loaded modules. What cannot be read is an error, never an absence.
    func read() async throws(BackendError) -> KernelView
    /// Inserts the module; the kernel enables the patch and starts its transition.
    func load(modulePath: String, name: String) async throws(BackendError)
    /// `echo 0 > enabled`: starts the transition back to the unpatched code.
    func disable(_ name: String) async throws(BackendError)
    /// `echo 1 > force`: ends the running transition at once (the module can never be removed).
    func force(_ name: String) async throws(BackendError)
    /// Removes the module; only possible once its livepatch directory is gone.
    func unload(_ name: String) async throws(BackendError)
    /// Tasks not yet switched to the target state of `name`'s running transition.
    func blockingTasks(_ name: String) async -> [BlockingTask]
    /// Returns once `name`'s `enabled` or `transition` differs from `seen` (what the caller last
    /// read) or its directory is gone, and at the latest at `deadline`; it may return earlier.
    func waitForTransition(_ name: String, from seen: KernelPatch, until deadline: ContinuousClock.Instant) async
}

public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var patch: String
    public var message: String
    public var errno: Int32?
    /// The kernel's log lines of that moment about the patch (``KernelMessages``): why it refused.
    public var kernelMessages: [String]

    public init(_ operation: String, _ patch: String, _ message: String, errno: Int32? = nil, kernelMessages: [String] = []) {
        self.operation = operation
        self.patch = patch
        self.message = message
        self.errno = errno
        self.kernelMessages = kernelMessages
    }

    public var description: String { "\(operation) \(patch): \(message)" }

    /// As an operator reads it (``PatchMachine/StepError/detail``).
    public var detail: String { stepError.detail }

    /// As the state machine sees a failed step.
    public var stepError: PatchMachine.StepError {
        PatchMachine.StepError(message, errno: errno, kernelMessages: kernelMessages)
    }
}

/// What identifies this boot and what it was started with.
public struct BootInfo: Sendable, Equatable {
    /// `/proc/sys/kernel/random/boot_id`; nil when unreadable (then nothing is quarantined).
    public var id: String?
    /// `/proc/cmdline`; nil when unreadable.
    public var commandLine: String?

    public init(id: String?, commandLine: String?) {
        self.id = id
        self.commandLine = commandLine
    }

    /// `livepatchd.apply=off` among the kernel's parameters: the boot kill switch.
    public var applyOff: Bool {
        commandLine?.split(whereSeparator: \.isWhitespace).contains("livepatchd.apply=off") ?? false
    }

    static func read(bootIDFile: String, commandLineFile: String) -> BootInfo {
        func text(_ path: String) -> String? {
            (try? SafeFile.read(path: path, limit: 64 * 1024)).map { String(decoding: $0, as: UTF8.self) }
        }
        let id = text(bootIDFile).map { String($0.trimmed) }
        return BootInfo(id: id?.isEmpty == false ? id : nil, commandLine: text(commandLineFile))
    }
}
