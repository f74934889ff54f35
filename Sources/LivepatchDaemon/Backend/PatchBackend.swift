import Foundation
import LivepatchAPI
import LivepatchCore

/// The kernel as the engine drives it: the thinnest surface both the real kernel
/// (libkmod + /sys/kernel/livepatch) and the simulated kernel implement.
public protocol PatchBackend: Sendable {
    /// `kernel` or `simulated`, as in the config.
    var kind: String { get }
    /// The release patches must be built for.
    var release: String { get }
    func support() -> KernelSupport
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
    /// Returns when `name`'s transition may have ended, and at the latest at `deadline`.
    func waitForTransition(_ name: String, until deadline: ContinuousClock.Instant) async
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
