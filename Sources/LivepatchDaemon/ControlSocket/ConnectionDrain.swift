import NIOCore
import Synchronization

/// What graceful shutdown does to each open connection, so that a restart loses no call.
///
/// A connection between calls that has already been answered is closed at once: its client
/// holds a reply, and reconnects for the next call. A call in progress is answered first. A
/// connection accepted but still silent is given until the deadline to send its call (lpclient
/// writes right after connecting; closing it unanswered would fail that call). A `more` call
/// (Subscribe, apply with progress) is a stream without an end in sight: closed at once.
/// At the deadline whatever is left is closed.
actor ConnectionDrain {
    private enum Phase {
        case awaitingFirstCall
        case betweenCalls
        case inCall
        case streaming
    }

    private var open: [ObjectIdentifier: (channel: any Channel, calls: CallsInFlight, phase: Phase)] = [:]
    /// Atomic rather than the actor's own: the event loops read it and cannot wait for the actor.
    private nonisolated let draining = Atomic<Bool>(false)

    nonisolated var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    func opened(_ channel: any Channel, calls: CallsInFlight) {
        open[ObjectIdentifier(channel)] = (channel, calls, .awaitingFirstCall)
        guard isDraining, let deadline else { return }
        // Accepted before the drain began, served after: treated as it would have been then.
        if calls.anyAnsweredAtOnce { channel.close(promise: nil) } else { scheduleClose(channel, at: deadline) }
    }

    func closed(_ channel: any Channel) {
        open[ObjectIdentifier(channel)] = nil
    }

    func callStarted(on channel: any Channel, more: Bool) {
        let id = ObjectIdentifier(channel)
        guard open[id] != nil else { return }
        open[id]?.phase = more ? .streaming : .inCall
        if isDraining && more { channel.close(promise: nil) }
    }

    /// True when the connection must close now that its call is answered.
    func callFinished(on channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        open[id]?.phase = .betweenCalls
        return isDraining
    }

    private var deadline: ContinuousClock.Instant?

    func begin(deadline after: Duration) {
        // Only the actor sets it, so reading and then setting it cannot race.
        guard !isDraining else { return }
        draining.store(true, ordering: .sequentiallyConsistent)
        let deadline = ContinuousClock.now + after
        self.deadline = deadline
        for (channel, calls, phase) in open.values {
            switch phase {
            case .betweenCalls, .streaming: channel.close(promise: nil)
            // Its calls were all answered by its event loop: it is between calls.
            case .awaitingFirstCall where calls.anyAnsweredAtOnce: channel.close(promise: nil)
            case .awaitingFirstCall, .inCall: scheduleClose(channel, at: deadline)
            }
        }
    }

    private func scheduleClose(_ channel: any Channel, at deadline: ContinuousClock.Instant) {
        Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            channel.close(promise: nil)
        }
    }
}
