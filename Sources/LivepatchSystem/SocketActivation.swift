import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Sockets the service manager passed at start (socket activation, sd_listen_fds(3)).
///
/// Under `livepatchd.socket` systemd owns the listening socket: it keeps it open, and its
/// queue, while the daemon restarts, so a client that connects in between is answered by the
/// next daemon instead of being refused.
public enum SocketActivation {
    /// What the manager passed.
    public enum Passed: Sendable, Equatable {
        /// Not socket activated: bind the socket yourself.
        case none
        /// A listening Unix stream socket, bound to `path` (nil when bound elsewhere or abstract).
        case listening(fd: CInt, path: String?)
    }

    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case system(SystemError)
        /// Descriptors were passed but none is a listening Unix stream socket.
        case noListeningUnixSocket(count: Int)

        public var description: String {
            switch self {
            case .system(let error): "socket activation: \(error)"
            case .noListeningUnixSocket(let count):
                "socket activation: the service manager passed \(count) descriptor(s), none a listening Unix stream socket; "
                    + "the socket unit needs ListenStream= with a path"
            }
        }
    }

    /// Takes the passed listening socket, preferring the one bound to `path`. The `LISTEN_*`
    /// variables are removed from the environment, so no child process takes them for its own.
    /// Descriptors left over are closed; the one returned is close-on-exec.
    public static func take(preferring path: String) throws(Problem) -> Passed {
        let count = sd_listen_fds(1)
        if count < 0 { throw .system(SystemError("sd_listen_fds", errno: -count)) }
        guard count > 0 else { return .none }
        let stream = Int32(SOCK_STREAM.rawValue)
        let descriptors = (0..<count).map { SD_LISTEN_FDS_START + $0 }
        let listening = descriptors.filter { sd_is_socket_unix($0, stream, 1, nil, 0) > 0 }
        let chosen = listening.first { sd_is_socket_unix($0, stream, 1, path, 0) > 0 } ?? listening.first
        for fd in descriptors where fd != chosen { close(fd) }
        guard let chosen else { throw .noListeningUnixSocket(count: Int(count)) }
        _ = fcntl(chosen, F_SETFD, FD_CLOEXEC)
        let boundToPath = sd_is_socket_unix(chosen, stream, 1, path, 0) > 0
        return .listening(fd: chosen, path: boundToPath ? path : nil)
    }
}
