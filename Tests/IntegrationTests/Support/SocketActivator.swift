import Foundation

/// What systemd does for a `.socket` unit, and no more: it binds and listens on the socket
/// itself, keeps it open for as long as it lives, and starts the daemon with the socket as
/// descriptor 3 and `LISTEN_FDS=1`, `LISTEN_PID=<the daemon's pid>` (sd_listen_fds(3)).
/// Connections made while no daemon runs wait in the socket's queue.
final class SocketActivator: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TimeoutError(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw TimeoutError(description: "bind/listen \(path): errno \(errno)")
        }
        chmod(path, 0o666)
    }

    deinit { close(fd) }

    /// Starts `command` with the socket as descriptor 3, stdout and stderr appended to `logFile`.
    func spawn(_ command: [String], environment: [String: String], logFile: String) throws -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 3 leaves the copy without close-on-exec: the one descriptor that is passed.
        posix_spawn_file_actions_adddup2(&actions, fd, 3)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // The pid is the daemon's only once the shell has exec'd it.
        let argv = ["/bin/sh", "-c", #"LISTEN_PID=$$ exec "$0" "$@""#] + command
        var environment = environment
        environment["LISTEN_FDS"] = "1"
        environment["LISTEN_PID"] = nil
        let envp = environment.map { "\($0)=\($1)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in posix_spawn(&pid, "/bin/sh", &actions, nil, cArgv, cEnvp) }
        }
        guard result == 0 else { throw TimeoutError(description: "posix_spawn: \(result)") }
        return SpawnedProcess(pid: pid)
    }
}

/// A child started with posix_spawn; SIGKILLed when released if it still runs.
final class SpawnedProcess: @unchecked Sendable {
    let pid: pid_t
    private(set) var exitStatus: Int32?

    init(pid: pid_t) { self.pid = pid }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// SIGTERM, then the exit status, or nil when it did not exit within `timeout`.
    func stop(timeout: Duration = .seconds(30)) async -> Int32? {
        if exitStatus == nil { kill(pid, SIGTERM) }
        return try? await eventually("process \(pid) to exit", timeout: timeout) {
            if exitStatus == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status }
            }
            return (exitStatus != nil, exitStatus ?? -1)
        }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
