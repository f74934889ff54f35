import Glibc

/// A POSIX thread of its own for a loop that blocks in a system call (`poll` on inotify,
/// `accept`), so it never holds one of the few threads of Swift's cooperative pool.
/// Foundation's `Thread` would do the same, but linking it pulls in all of Foundation and its
/// ICU data (38 MB) into every binary that links this module.
public enum DetachedThread {
    /// Starts `body` on a new detached thread named `name` (truncated to the kernel's 15 bytes).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let result = spawn(Body(name: name, run: body))
        guard result == 0 else { throw SystemError("pthread_create", name, errno: result) }
    }

    /// pthread_create's result (0, or the error number).
    private static func spawn(_ body: Body) -> Int32 {
        let box = Unmanaged.passRetained(body).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, detachedThreadEntry, box)
        if result == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Body>.fromOpaque(box).release()
        }
        return result
    }

    /// What `ps -L` and `top -H` show (pthread_setname_np is not visible from Swift's Glibc).
    fileprivate static func nameThisThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    fileprivate final class Body: Sendable {
        let name: String
        let run: @Sendable () -> Void

        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }
}

/// The new thread's start: takes over the retained ``DetachedThread/Body``.
private func detachedThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let body = Unmanaged<DetachedThread.Body>.fromOpaque(argument!).takeRetainedValue()
    DetachedThread.nameThisThread(body.name)
    body.run()
    return nil
}
