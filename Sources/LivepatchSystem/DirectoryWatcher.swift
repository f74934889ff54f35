import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches one directory with inotify and reports that something in it changed.
///
/// A dedicated thread sleeps in poll(2) on the inotify descriptor and a wake-up pipe, so an
/// idle directory costs no wake-ups. Each element of ``changes`` stands for one batch of
/// events: the consumer rescans the directory rather than interpreting single events, which
/// also covers a queue overflow (IN_Q_OVERFLOW), where events were lost.
public final class DirectoryWatcher: Sendable {
    /// What changes the contents of a patch directory, or the directory itself.
    private static let mask: UInt32 =
        UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)
        | UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
    /// The watch no longer follows `path`: the directory was deleted, moved, or unmounted.
    private static let watchGone: UInt32 = UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)

    public let path: String
    /// One element per batch of changes; coalesced while the consumer is busy, so a
    /// single pending element always means "rescan". Ends after ``stop()``, on a read
    /// error, or when the directory itself is deleted or moved (watch `path` anew then).
    /// Meant for a single consumer.
    public let changes: AsyncStream<Void>
    private let descriptors: Descriptors

    public init(path: String) throws(SystemError) {
        let inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { throw SystemError.current("inotify_init1", path) }
        guard inotify_add_watch(inotify, path, Self.mask) >= 0 else {
            let error = SystemError.current("inotify_add_watch", path)
            close(inotify)
            throw error
        }
        // A pipe rather than an eventfd: Swift's Glibc module exports neither
        // <sys/eventfd.h> nor pipe2, and a pipe wakes poll(2) just the same.
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let error = SystemError.current("pipe", path)
            close(inotify)
            throw error
        }
        for end in pipeEnds where fcntl(end, F_SETFD, FD_CLOEXEC) != 0 {
            let error = SystemError.current("fcntl", "wake-up pipe")
            pipeEnds.forEach { close($0) }
            close(inotify)
            throw error
        }
        let descriptors = Descriptors(inotify: inotify, wakeupRead: pipeEnds[0], wakeupWrite: pipeEnds[1])
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.path = path
        self.changes = stream
        self.descriptors = descriptors
        // A consumer that cancels its iteration ends the stream; the thread goes with it.
        continuation.onTermination = { _ in descriptors.wakeThreadToStop() }
        // The thread holds the descriptors, not the watcher, so dropping the watcher
        // stops the thread (deinit) and the descriptors close once both let go.
        do {
            try DetachedThread.start(name: "inotify \(path)") { Self.run(descriptors, continuation) }
        } catch {
            continuation.finish()
            throw error
        }
    }

    deinit {
        stop()
    }

    /// Stops watching and ends ``changes``. Safe to call more than once.
    public func stop() {
        descriptors.wakeThreadToStop()
    }

    private static func run(_ descriptors: Descriptors, _ continuation: AsyncStream<Void>.Continuation) {
        defer { continuation.finish() }
        // Large enough for hundreds of events per read; one event needs at most
        // sizeof(inotify_event) + NAME_MAX + 1 bytes.
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var fds = [
            pollfd(fd: descriptors.inotify, events: Int16(POLLIN), revents: 0),
            pollfd(fd: descriptors.wakeupRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            guard (try? retryingOnInterrupt("poll") { poll(&fds, nfds_t(fds.count), -1) }) != nil else { return }
            if fds[1].revents != 0 { return }
            if fds[0].revents & Int16(POLLIN) == 0 { return }  // POLLERR or POLLHUP: nothing more will come
            var masks: UInt32 = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptors.inotify, $0.baseAddress, $0.count) }
                if count > 0 {
                    masks |= eventMasks(buffer.prefix(count))
                    continue
                }
                if count < 0 && errno == EINTR { continue }
                if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                return  // a read error or end of file: the watch is unusable
            }
            continuation.yield()
            if masks & watchGone != 0 { return }
        }
    }

    /// The union of the masks of the events in `bytes` (whole events, as read(2) returns them).
    private static func eventMasks(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        let header = MemoryLayout<inotify_event>.size
        var masks: UInt32 = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + header <= raw.count {
                let mask = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int32>.size, as: UInt32.self)
                let nameLength = raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)
                masks |= mask
                offset += header + Int(nameLength)
            }
        }
        return masks
    }
}

/// The inotify descriptor and the wake-up pipe, closed when the last of watcher and thread
/// is gone, so neither ever polls or writes a descriptor number already reused elsewhere.
private final class Descriptors: Sendable {
    let inotify: Int32
    let wakeupRead: Int32
    let wakeupWrite: Int32

    private let woken = Mutex(false)

    init(inotify: Int32, wakeupRead: Int32, wakeupWrite: Int32) {
        self.inotify = inotify
        self.wakeupRead = wakeupRead
        self.wakeupWrite = wakeupWrite
    }

    /// Makes the thread's poll(2) return and the thread end; only the first call writes.
    func wakeThreadToStop() {
        let first = woken.withLock { woken in
            defer { woken = true }
            return !woken
        }
        guard first else { return }
        // One byte into an empty pipe cannot fail for lack of space, and the pipe stays
        // open as long as this object lives, so the byte reaches the thread.
        var byte: UInt8 = 1
        let descriptor = wakeupWrite
        _ = try? retryingOnInterrupt("write", "wake-up pipe") { write(descriptor, &byte, 1) }
    }

    deinit {
        close(inotify)
        close(wakeupRead)
        close(wakeupWrite)
    }
}
