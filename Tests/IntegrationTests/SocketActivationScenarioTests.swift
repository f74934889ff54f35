import Foundation
import LivepatchAPI
import Testing
import Varlink

/// The daemon started the way livepatchd.socket starts it: the listening socket held by a
/// stand-in for systemd across restarts (``SocketActivator``).
@Suite("Socket activation", .serialized, .timeLimit(.minutes(5)))
struct SocketActivationScenarioTests {
    @Test("restarting the daemon while a client calls GetStatus in a loop fails no call")
    func restartUnderLoad() async throws {
        let sandbox = try Sandbox()
        let activator = try SocketActivator(path: sandbox.socket)
        var daemon = try await startActivated(sandbox, activator)
        let load = StatusLoad(socket: sandbox.socket)
        load.start()
        defer { load.stop() }

        let restarts = 3
        var waitedForNextDaemon = 0
        for _ in 1...restarts {
            let answered = load.counts.succeeded
            _ = try await eventually("the client to get answers", timeout: .seconds(60)) {
                (load.counts.succeeded >= answered + 20, load.counts)
            }
            guard await daemon.stop() != nil else { throw TimeoutError(description: "the daemon did not stop:\n\(sandbox.log)") }
            // The next daemon starts only once a call is waiting for it in the socket's queue, as
            // one does whenever a client calls during `systemctl restart`: with the old daemon
            // gone, a call still in flight can only be answered by the next one.
            _ = try await eventually("a call waiting while no daemon runs", timeout: .seconds(60)) {
                (load.callInFlight, load.counts)
            }
            waitedForNextDaemon += 1
            daemon = try await startActivated(sandbox, activator)
        }
        let answered = load.counts.succeeded
        _ = try await eventually("the client to get answers from the last daemon", timeout: .seconds(60)) {
            (load.counts.succeeded >= answered + 20, load.counts)
        }
        load.stop()
        let counts = load.counts
        print(
            "restart under load: \(restarts) restarts, \(counts.succeeded) GetStatus calls answered, \(counts.failed) failed; "
                + "\(waitedForNextDaemon) calls waited in the queue for the next daemon")
        #expect(counts.failed == 0, "failed calls: \(counts.failures.prefix(5))\ndaemon log:\n\(sandbox.log.suffix(3000))")
        #expect(!sandbox.log.contains("control socket listening"), "an activated daemon must not bind its own socket")
        #expect(sandbox.log.contains("control socket passed by the service manager"))

        _ = await daemon.stop()
        // The socket is the service manager's: the daemon leaves it in place.
        var status = stat()
        #expect(lstat(sandbox.socket, &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK)
    }

    private func startActivated(_ sandbox: Sandbox, _ activator: SocketActivator) async throws -> SpawnedProcess {
        let before = sandbox.notify.received.count
        let daemon = try activator.spawn(
            [Binaries.path("livepatchd"), "--config", sandbox.configFile], environment: sandbox.daemonEnvironment(),
            logFile: sandbox.logFile)
        do {
            try await sandbox.notify.waitFor("READY=1", after: before, timeout: .seconds(60))
        } catch {
            throw TimeoutError(description: "\(error)\ndaemon log:\n\(sandbox.log)")
        }
        return daemon
    }
}

/// One client calling GetStatus over and over on its own thread, each call on a new connection
/// with lpclient's 30 s timeout, as `while lpclient status; do :; done` would.
final class StatusLoad: @unchecked Sendable {
    struct Counts: Sendable, CustomStringConvertible {
        var succeeded = 0
        var failed = 0
        var failures: [String] = []
        var description: String { "\(succeeded) answered, \(failed) failed" }
    }

    let socket: String
    private let lock = NSLock()
    private var state = Counts()
    private var running = false
    private var callStarted = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(socket: String) { self.socket = socket }

    var counts: Counts { lock.withLock { state } }

    /// A call has been made and not yet answered (nor failed).
    var callInFlight: Bool { lock.withLock { callStarted } }

    func start() {
        lock.withLock { running = true }
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                lock.withLock { callStarted = true }
                let result = Result { () throws -> Void in
                    let client = try VarlinkClient(socketPath: socket, timeout: .seconds(30))
                    defer { client.close() }
                    _ = try client.call(LivepatchInterface.Method.getStatus.qualifiedName)
                }
                lock.withLock {
                    callStarted = false
                    switch result {
                    case .success: state.succeeded += 1
                    case .failure(let error):
                        state.failed += 1
                        state.failures.append("\(error)")
                    }
                }
            }
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        let wasRunning = lock.withLock {
            defer { running = false }
            return running
        }
        if wasRunning { finished.wait() }
    }
}
