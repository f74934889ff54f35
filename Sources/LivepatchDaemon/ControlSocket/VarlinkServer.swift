#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import LivepatchSystem
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Varlink

/// Serves Varlink on a Unix socket: frames and validates calls, answers `org.varlink.service`
/// itself, and passes the calls of its interfaces to a ``VarlinkRequestHandler``.
///
/// `run()` binds the socket (mode 0666: every local user may connect; methods authorize with
/// ``PeerCredentials``), serves until graceful shutdown or cancellation, and removes the socket.
/// ``waitUntilBound()`` tells the daemon when to send READY=1.
///
/// Socket activated (`listening` given), the socket is systemd's: it is neither bound nor
/// removed here, and connections that arrive while no daemon runs wait in its queue. Graceful
/// shutdown then loses no call: the server stops accepting, answers what its connections have
/// asked or ask within ``drainDeadline``, and closes; the next daemon takes the queue.
public final class VarlinkServer: Service {
    public let socketPath: String
    /// A listening socket passed by the service manager, or nil to bind `socketPath`.
    public let listening: CInt?
    /// How long graceful shutdown waits for calls in progress, and for connections accepted
    /// just before it to send theirs.
    public let drainDeadline: Duration
    public let limits: Limits
    /// Served interface names, in the order given, with their descriptions.
    let interfaces: [(name: String, description: String)]
    let info: [String: JSONValue]
    let handler: any VarlinkRequestHandler
    let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let bindState = BindState()
    private let closedState = BindState()
    let connections = ConnectionCounter()
    let drain = ConnectionDrain()

    public init(
        socketPath: String,
        interfaces: [(name: String, description: String)],
        vendor: String,
        product: String,
        version: String,
        url: String,
        handler: some VarlinkRequestHandler,
        logger: Logger,
        limits: Limits = Limits(),
        listening: CInt? = nil,
        drainDeadline: Duration = .seconds(5),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.socketPath = socketPath
        self.listening = listening
        self.drainDeadline = drainDeadline
        self.interfaces = interfaces
        let names = [VarlinkService.interfaceName] + interfaces.map(\.name)
        self.info = [
            "vendor": .string(vendor), "product": .string(product), "version": .string(version),
            "url": .string(url), "interfaces": .array(names.map { .string($0) }),
        ]
        self.handler = handler
        self.logger = logger
        self.limits = limits
        self.eventLoopGroup = eventLoopGroup
    }

    /// Returns once the socket is bound and connectable; throws what made `run()` fail first.
    public func waitUntilBound() async throws {
        try await bindState.wait()
    }

    /// Connections being served now.
    public var activeConnections: Int {
        get async { await connections.count }
    }

    /// Returns once `run()` has ended: after graceful shutdown, once every connection is answered.
    public func waitUntilClosed() async {
        try? await closedState.wait()
    }

    public func run() async throws {
        do {
            try await bindAndServe()
        } catch {
            await bindState.fail(error)
            await closedState.succeed()
            throw error
        }
        await closedState.succeed()
    }

    private func bindAndServe() async throws {
        let listener: UnixListener
        var inode: ino_t?
        if let listening {
            listener = try UnixListener(adopting: listening)
            logger.info("control socket passed by the service manager", metadata: ["socket": "\(socketPath)"])
        } else {
            try SocketFile.removeStale(at: socketPath)
            listener = try UnixListener.bind(path: socketPath)
            inode = try SocketFile.makeConnectableByAll(socketPath)
            logger.info("control socket listening", metadata: ["socket": "\(socketPath)"])
        }
        await bindState.succeed()

        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await self.acceptConnections(from: listener)
            } onCancel: {
                listener.stop()
            }
        } onGracefulShutdown: { [drain, drainDeadline] in
            // Accept no more: under socket activation they wait for the next daemon.
            listener.stop()
            Task { await drain.begin(deadline: drainDeadline) }
        }
        if let inode { removeSocketFile(inode: inode) }
        logger.info("control socket closed", metadata: ["socket": "\(socketPath)"])
    }

    /// Serves every connection `listener` accepts until it is stopped, then waits for them all.
    private func acceptConnections(from listener: UnixListener) async throws {
        let (accepted, continuation) = AsyncStream.makeStream(of: CInt.self)
        // accept() blocks: on a thread of its own, not on the cooperative pool.
        try DetachedThread.start(name: "control-accept") { [logger] in
            while true {
                do {
                    guard let fd = try listener.accept() else { break }
                    continuation.yield(fd)
                } catch {
                    // EMFILE and the like: the connection waits in the queue; try again shortly.
                    logger.warning("control socket accept failed", metadata: ["error": "\(error)"])
                    usleep(100_000)
                }
            }
            continuation.finish()
        }

        let limits = self.limits
        let logger = self.logger
        let handler = self.handler
        let drain = self.drain
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .channelOption(
                .writeBufferWaterMark,
                value: .init(low: limits.maxPendingOutputBytes / 2, high: limits.maxPendingOutputBytes)
            )
        await withDiscardingTaskGroup { group in
            for await fd in accepted {
                let result: AcceptedConnection
                do {
                    result = try await bootstrap.withConnectedSocket(NIOBSDSocket.Handle(fd)) { channel in
                        Self.setUpConnection(channel, limits: limits, logger: logger, handler: handler, drain: drain)
                    }
                } catch {
                    result = .failure(error)
                }
                let connection: Connection
                switch result {
                case .success(let value):
                    connection = value
                case .failure(let error):
                    logger.warning("control socket connection could not be set up", metadata: ["error": "\(error)"])
                    continue
                }
                if let refusal = await connections.open(for: connection.peer, limits: limits) {
                    if let refused = await connections.refusalsToReport() {
                        logRefusal(refusal, refused: refused, peer: connection.peer)
                    }
                    group.addTask { try? await connection.channel.executeThenClose { _, _ in } }
                    continue
                }
                group.addTask {
                    await self.serve(connection)
                    await self.connections.close(for: connection.peer)
                }
            }
        }
    }

    private func logRefusal(_ refusal: ConnectionCounter.Refusal, refused: Int, peer: PeerCredentials) {
        let (what, limit) =
            switch refusal {
            case .total(let limit): ("too many control socket connections", limit)
            case .user(let limit): ("too many control socket connections from one user", limit)
            }
        logger.warning("\(what); refused \(refused) since the last report", metadata: [
            "limit": "\(limit)", "peer_pid": "\(peer.pid)", "peer_uid": "\(peer.uid)",
        ])
    }

    private func removeSocketFile(inode: ino_t) {
        do {
            try SocketFile.remove(socketPath, ifInode: inode)
        } catch {
            logger.warning("cannot remove the control socket", metadata: ["error": "\(error)"])
        }
    }

    /// Never fails: a failed initializer would end the whole accept stream, so a connection
    /// that cannot be set up (e.g. its peer already left) is reported as a value instead.
    private static func setUpConnection(
        _ channel: any Channel, limits: Limits, logger: Logger, handler: any VarlinkRequestHandler, drain: ConnectionDrain
    ) -> EventLoopFuture<AcceptedConnection> {
        let calls = CallsInFlight()
        return channel.eventLoop.makeCompletedFuture { () throws -> NIOAsyncChannel<VarlinkInbound, ByteBuffer> in
            let framing = VarlinkConnectionHandler(
                limits: limits, logger: logger, calls: calls, immediate: { handler.immediateReply(to: $0) },
                draining: { drain.isDraining })
            try channel.pipeline.syncOperations.addHandler(framing)
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
        }.flatMap { asyncChannel in
            PeerCredentials.read(from: channel).map { peer in
                AcceptedConnection.success(Connection(channel: asyncChannel, peer: peer, calls: calls))
            }
        }.flatMapError { error in
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededFuture(.failure(error))
        }
    }
}

/// An accepted connection, ready to serve.
struct Connection: Sendable {
    var channel: NIOAsyncChannel<VarlinkInbound, ByteBuffer>
    var peer: PeerCredentials
    /// Counted up by the framing handler, down by the call loop.
    var calls: CallsInFlight
}

typealias AcceptedConnection = Result<Connection, any Error>

/// Counts connections, in all and per user, for ``VarlinkServer/Limits``.
actor ConnectionCounter {
    enum Refusal: Equatable {
        case total(limit: Int)
        case user(limit: Int)
    }

    private var countByUser: [UInt32: Int] = [:]
    var count: Int { countByUser.values.reduce(0, +) }

    /// Admits a connection (nil) or says which limit it is past.
    func open(for peer: PeerCredentials, limits: VarlinkServer.Limits) -> Refusal? {
        guard count < limits.maxConnections else { return .total(limit: limits.maxConnections) }
        let ofUser = countByUser[peer.uid, default: 0]
        if !peer.isRoot, ofUser >= limits.maxConnectionsPerUser { return .user(limit: limits.maxConnectionsPerUser) }
        countByUser[peer.uid] = ofUser + 1
        return nil
    }

    private var refusedSinceReport = 0
    private var lastReport: ContinuousClock.Instant?

    /// A flood of refused connections would otherwise flood the journal: refusals are
    /// reported at most every 10 s, with how many there were.
    func refusalsToReport(now: ContinuousClock.Instant = .now) -> Int? {
        refusedSinceReport += 1
        if let lastReport, now - lastReport < .seconds(10) { return nil }
        defer { refusedSinceReport = 0 }
        lastReport = now
        return refusedSinceReport
    }

    func close(for peer: PeerCredentials) {
        let left = countByUser[peer.uid, default: 1] - 1
        countByUser[peer.uid] = left > 0 ? left : nil
    }
}

/// Lets the daemon wait for the socket to be bound before it reports READY=1.
actor BindState {
    private enum State {
        case waiting([CheckedContinuation<Void, any Error>])
        case bound
        case failed(any Error)
    }

    private var state = State.waiting([])

    func wait() async throws {
        switch state {
        case .bound: return
        case .failed(let error): throw error
        case .waiting(let waiters):
            try await withCheckedThrowingContinuation { continuation in
                state = .waiting(waiters + [continuation])
            }
        }
    }

    func succeed() {
        guard case .waiting(let waiters) = state else { return }
        state = .bound
        waiters.forEach { $0.resume() }
    }

    func fail(_ error: any Error) {
        guard case .waiting(let waiters) = state else { return }
        state = .failed(error)
        waiters.forEach { $0.resume(throwing: error) }
    }
}
