import Foundation
import LivepatchAPI
import LivepatchBundle
import Logging
import Synchronization
import Testing
import Varlink

@testable import LivepatchCore
@testable import LivepatchDaemon

/// A kernel that records every call and fails the ones a test asks it to.
final class RecordingBackend: PatchBackend, Sendable {
    let kind = "test"
    let release = "6.1.0-test-amd64"
    private let state = Mutex(State())

    struct State {
        var patches: [String: KernelPatch] = [:]
        var modules: Set<String> = []
        var calls: [String] = []
        /// Reads fail with this errno while set.
        var readErrno: Int32?
    }

    func support() -> KernelSupport {
        KernelSupport(release: release, livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false, taint: 0, simulated: true)
    }

    func boot() -> BootInfo { BootInfo(id: "test-boot", commandLine: "") }

    var calls: [String] { state.withLock { $0.calls } }
    func failReads(_ errno: Int32?) { state.withLock { $0.readErrno = errno } }
    /// What the kernel reports for a loaded patch's objects changes, as when a patched module loads.
    func setObjects(_ objects: [PatchObject], of name: String) { state.withLock { $0.patches[name]?.objects = objects } }

    func read() async throws(BackendError) -> KernelView {
        let (view, failure): (KernelView, Int32?) = state.withLock {
            $0.calls.append("read")
            return (KernelView(patches: $0.patches.values.sorted { $0.name < $1.name }, loadedModules: $0.modules), $0.readErrno)
        }
        if let failure { throw BackendError("read", "/sys/kernel/livepatch", "cannot read it", errno: failure) }
        return view
    }

    func load(modulePath: String, name: String) async throws(BackendError) {
        state.withLock {
            $0.calls.append("load \(name)")
            $0.modules.insert(name)
            $0.patches[name] = KernelPatch(name: name, enabled: true, inTransition: false, functions: ["vmlinux:f"])
        }
    }

    func disable(_ name: String) async throws(BackendError) {
        // The kernel's reverse transition ends at once; the directory goes.
        state.withLock {
            $0.calls.append("disable \(name)")
            $0.patches[name] = nil
        }
    }

    func force(_ name: String) async throws(BackendError) { state.withLock { $0.calls.append("force \(name)") } }

    func unload(_ name: String) async throws(BackendError) {
        state.withLock {
            $0.calls.append("unload \(name)")
            $0.modules.remove(name)
        }
    }

    func blockingTasks(_ name: String) async -> [BlockingTask] { [] }

    func waitForTransition(_ name: String, from seen: KernelPatch, until deadline: ContinuousClock.Instant) async {
        try? await Task.sleep(until: min(deadline, .now + .milliseconds(20)))
    }
}

final class CapturedLog: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
    var text: String { lines.joined() }
}

/// The engine carries out what the machine decides, against a recording backend.
@Suite("Engine", .serialized, .timeLimit(.minutes(2)))
final class PatchEngineTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lp-engine-\(UUID().uuidString.prefix(8))").path
    let backend = RecordingBackend()
    let log = CapturedLog()

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// An engine whose state file already holds a staged patch `a`, and an empty patch directory.
    func engine(policy: Policy = Policy()) throws -> PatchEngine {
        let state = "\(root)/state"
        try FileManager.default.createDirectory(atPath: "\(root)/incoming", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var ledger = PatchLedger()
        _ = ledger.arrive(
            .verified(
                PatchDescriptor(
                    name: "a", version: "1", sha256: String(repeating: "a", count: 64), manifestDigest: "m", kernels: [backend.release],
                    release: backend.release, storedModulePath: "\(state)/store/a.ko"),
                note: nil), now: Date())
        var stateFile = StateFile(stateDirectory: state)
        try stateFile.save(ledger)
        let verifier = BundleVerifier(patchDirectory: "\(root)/incoming", keys: TrustedKeys(), policy: policy)
        let logger = Logger(label: "test") { [log] _ in
            StderrLogHandler(level: .debug, metadataProvider: nil) { line in log.append(line) }
        }
        return try PatchEngine(
            backend: backend, policy: policy, bootID: backend.boot().id, scanner: PatchScanner(patchDirectory: "\(root)/incoming", verifier: verifier, store: PatchStore(stateDirectory: state)),
            stateFile: StateFile(stateDirectory: state), logger: logger)
    }

    func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !(await condition()) {
            guard ContinuousClock.now < deadline else { throw TimeoutError(what: what, log: log.lines) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    struct TimeoutError: Error, CustomStringConvertible {
        var what: String
        var log: [String]
        var description: String { "timed out waiting for \(what); log:\n" + log.joined() }
    }

    @Test("a kernel unreadable at start: nothing is loaded, status says why, READY comes; loaded once readable")
    func unreadableAtStart() async throws {
        backend.failReads(EIO)
        let engine = try engine()
        let ready = CapturedLog()
        let worker = Task { await engine.run { ready.append("READY") } }
        try await eventually("READY") { !ready.lines.isEmpty }
        #expect(!backend.calls.contains("load a"))
        let status = await engine.status()
        #expect(status.degraded)
        #expect(status.problems.first?.contains("cannot be read") == true, "\(status.problems)")
        #expect(log.text.contains("cannot read the kernel's livepatch state"))
        backend.failReads(nil)
        try await eventually("a applied") { (try? await engine.patch("a").state) == .applied }
        #expect(backend.calls.filter { $0 == "read" }.count >= 3, "read again after the back-off: \(backend.calls)")
        worker.cancel()
        await worker.value
    }

    @Test("a read error during a revert keeps the patch reverting and unloads nothing until the kernel reads again")
    func readErrorDuringRevert() async throws {
        let engine = try engine()
        let worker = Task { await engine.run {} }
        try await eventually("a applied") { (try? await engine.patch("a").state) == .applied }
        backend.failReads(EMFILE)
        let revert = Task { try await engine.revert("a") { _ in } }
        try await eventually("the disable") { self.backend.calls.contains("disable a") }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await engine.patch("a").state == .reverting)
        #expect(!backend.calls.contains("unload a"))
        backend.failReads(nil)
        #expect(try await revert.value.state == .reverted)
        #expect(backend.calls.contains("unload a"))
        worker.cancel()
        await worker.value
    }

    @Test("a load whose record cannot be saved first is not carried out")
    func unsavedLoad() async throws {
        var manual = Policy()
        manual.apply = .manual
        let engine = try engine(policy: manual)
        let worker = Task { await engine.run {} }
        try await eventually("the first read") { self.backend.calls.contains("read") }
        // The state directory becomes a file: every save fails (as on a full disk).
        try FileManager.default.removeItem(atPath: "\(root)/state")
        try #require(FileManager.default.createFile(atPath: "\(root)/state", contents: Data()))
        let apply = Task { try await engine.apply("a") { _ in } }
        try await eventually("the refusal to load") { self.log.text.contains("a: not loaded") }
        #expect(!backend.calls.contains("load a"))
        #expect(try await engine.patch("a").state == .staged)
        #expect(try await engine.patch("a").reason?.contains("not loaded yet") == true)
        apply.cancel()
        worker.cancel()
        await worker.value
    }

    /// The wire adapter in front of `engine` (its metrics are not asked here).
    private func controlService(over engine: PatchEngine) -> ControlService {
        ControlService(
            engine: engine, metrics: PatchMetrics(source: .init(status: { await engine.status() }, patches: { [] }), version: "test"))
    }

    /// The final reply to `call` made through `service` by an unprivileged peer, as a client gets it.
    private func reply(to call: VarlinkCall, from service: ControlService) async throws -> VarlinkReply {
        let sink = CollectingSink()
        await service.handle(call, peer: PeerCredentials(pid: 1, uid: 1000, gid: 1000), replies: sink)
        return try #require(await sink.replies.last)
    }

    @Test("GetStatus is sent again without asking the engine only until the engine's next event")
    func statusReplyFollowsEvents() async throws {
        var manual = Policy()
        manual.apply = .manual
        let engine = try engine(policy: manual)
        let service = controlService(over: engine)
        let getStatus = VarlinkCall(method: LivepatchInterface.Method.getStatus.qualifiedName)
        func slowPath() async throws -> VarlinkReply { try await reply(to: getStatus, from: service) }

        #expect(service.immediateReply(to: getStatus) == nil, "nothing computed yet")
        let first = try await slowPath()
        #expect(first.parameters["apply"] == "manual")
        #expect(try service.immediateReply(to: getStatus).map { try VarlinkReply(frame: $0.frame) } == first)
        #expect(service.immediateReply(to: VarlinkCall(method: LivepatchInterface.Method.listPatches.qualifiedName)) == nil)

        await engine.update(policy: Policy())
        #expect(service.immediateReply(to: getStatus) == nil, "an event since: the engine is asked again")
        let second = try await slowPath()
        #expect(second.parameters["apply"] == "auto")
        #expect(try service.immediateReply(to: getStatus).map { try VarlinkReply(frame: $0.frame) } == second)
    }

    @Test("ListPatches sends the bytes encoded before while the list is the same, and follows the kernel without an event")
    func listReplyFollowsTheList() async throws {
        let engine = try engine()
        let worker = Task { await engine.run {} }
        try await eventually("a applied") { (try? await engine.patch("a").state) == .applied }
        let service = controlService(over: engine)
        let listPatches = VarlinkCall(method: LivepatchInterface.Method.listPatches.qualifiedName)
        func list() async throws -> VarlinkReply { try await reply(to: listPatches, from: service) }

        let first = try await list()
        let sent = service.listReplies.reply(for: await engine.list()) { _ in
            Issue.record("an unchanged list was encoded again")
            return VarlinkReply().encodedFinal()
        }
        #expect(try VarlinkReply(frame: sent.frame) == first)

        // A module of the patch loads: no engine event, and the next reply shows it.
        backend.setObjects([PatchObject(name: "vmlinux", patched: true), PatchObject(name: "ext4", patched: true)], of: "a")
        let second = try await list()
        let listed = try JSONValue.object(second.parameters).decode(PatchListReply.self, with: LivepatchInterface.makeDecoder())
        #expect(listed.patches.map(\.objects) == [[PatchObject(name: "vmlinux", patched: true), PatchObject(name: "ext4", patched: true)]])
        worker.cancel()
        await worker.value
    }
}

/// Keeps every reply sent to it.
actor CollectingSink: VarlinkReplySink {
    private(set) var replies: [VarlinkReply] = []

    func send(_ reply: VarlinkReply) async -> Bool {
        replies.append(reply)
        return true
    }

    nonisolated var isConnected: Bool { true }
}
