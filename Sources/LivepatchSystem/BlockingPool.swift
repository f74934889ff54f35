import Glibc
import Synchronization

/// A few threads of its own for work that blocks in system calls (hashing a module, `flock`,
/// walking `/proc`), so Swift's cooperative pool, which answers the control socket, never waits
/// on it.
///
/// Idle threads sleep on a POSIX semaphore, not a condition variable: Debian 12's glibc (2.36)
/// lacks the fix for its bug 25847, in which `pthread_cond_signal` can fail to wake a waiter,
/// and NIO's thread pool wakes one waiter with exactly that call (swift-nio PR 3507, in 2.101).
/// A wake-up lost there leaves a job queued with every thread asleep until the next job comes,
/// which on an idle daemon may be never. A semaphore's count cannot lose a post.
public final class BlockingPool: Sendable {
    /// The daemon's pool, started on first use: programs that never block on it start no thread.
    /// A process that cannot start its threads stops there (as it did with NIO's pool).
    public static let shared = BlockingPool(threads: 4, name: "blocking")

    private typealias Job = @Sendable () -> Void

    private let jobs = Mutex<[Job]>([])
    /// Counts queued jobs: each post lets one thread take one job.
    private let queued: Semaphore

    /// Starts `threads` threads named `name-0`, `name-1`, …; they run until the process ends.
    public init(threads: Int, name: String) {
        queued = Semaphore()
        for index in 0..<threads {
            do {
                try DetachedThread.start(name: "\(name)-\(index)") { [self] in work() }
            } catch {
                // Without its threads the process cannot do any blocking work: nothing to go on with.
                fatalError("cannot start the \(name) threads: \(error)")
            }
        }
    }

    /// Runs `body` on one of the pool's threads and returns what it returned or threw.
    /// Not cancellable once queued: blocking work runs to its end, as a system call does.
    public func run<T: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, Failure>, Never>) in
            submit {
                continuation.resume(returning: Result { () throws(Failure) -> T in try body() })
            }
        }
        return try result.get()
    }

    private func submit(_ job: @escaping Job) {
        jobs.withLock { $0.append(job) }
        queued.post()
    }

    private func work() {
        while true {
            queued.wait()
            // One post per job: a thread past wait() always finds one.
            let job = jobs.withLock { $0.removeFirst() }
            job()
        }
    }
}

/// A POSIX counting semaphore (glibc implements it on a futex directly).
private final class Semaphore: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init() {
        // Fails only for a value above SEM_VALUE_MAX; 0 is not.
        precondition(sem_init(semaphore, 0, 0) == 0, "sem_init failed: errno \(errno)")
    }

    func post() {
        // EOVERFLOW only, past SEM_VALUE_MAX (2^31 - 1) queued jobs.
        precondition(sem_post(semaphore) == 0, "sem_post failed: errno \(errno)")
    }

    func wait() {
        while sem_wait(semaphore) != 0 {
            // EINTR: a signal handler ran and the count is untouched; anything else is a bug.
            precondition(errno == EINTR, "sem_wait failed: errno \(errno)")
        }
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }
}
