import Glibc

/// Runs another program to its end, without Foundation's `Process` (which would pull all of
/// Foundation and its ICU data into the binary).
public enum ChildProcess {
    /// Runs `arguments[0]`, looked up in `PATH`, with standard input from `/dev/null` and its
    /// standard output sent to `output`, standard error by default: the caller's own output
    /// stays what it prints (`lpbundle deb` prints the package's path), and what the program
    /// says is still seen. Returns the exit status, or 128 + the signal that ended it.
    public static func run(_ arguments: [String], output: Int32 = 2) throws(SystemError) -> Int32 {
        guard let program = arguments.first else { throw SystemError("posix_spawnp", nil, errno: EINVAL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, &actions, nil, &argv, environ)
        guard spawned == 0 else { throw SystemError("run", program, errno: spawned) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SystemError.current("waitpid", program) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
