import LivepatchAPI
import LivepatchCore
import LivepatchSystem

/// Crash injection around every kernel step (see ``Failpoint``): the engine drives this wrapper
/// like any backend, and the process can die just before or just after a load, disable, force or
/// unload, whichever code path asked for it. Only wired in when crash injection is armed.
struct FailpointBackend: PatchBackend {
    let wrapped: any PatchBackend

    var kind: String { wrapped.kind }
    var release: String { wrapped.release }
    func support() -> KernelSupport { wrapped.support() }
    func boot() -> BootInfo { wrapped.boot() }
    func read() async throws(BackendError) -> KernelView { try await wrapped.read() }

    func load(modulePath: String, name: String) async throws(BackendError) {
        Failpoint.backendLoadBefore.hit()
        try await wrapped.load(modulePath: modulePath, name: name)
        Failpoint.backendLoadAfter.hit()
    }

    func disable(_ name: String) async throws(BackendError) {
        Failpoint.backendDisableBefore.hit()
        try await wrapped.disable(name)
        Failpoint.backendDisableAfter.hit()
    }

    func force(_ name: String) async throws(BackendError) {
        Failpoint.backendForceBefore.hit()
        try await wrapped.force(name)
        Failpoint.backendForceAfter.hit()
    }

    func unload(_ name: String) async throws(BackendError) {
        Failpoint.backendUnloadBefore.hit()
        try await wrapped.unload(name)
        Failpoint.backendUnloadAfter.hit()
    }

    func blockingTasks(_ name: String) async -> [BlockingTask] { await wrapped.blockingTasks(name) }

    func waitForTransition(_ name: String, from seen: KernelPatch, until deadline: ContinuousClock.Instant) async {
        await wrapped.waitForTransition(name, from: seen, until: deadline)
    }
}
