import LivepatchSystem

/// Why the control socket could not be served.
public enum ControlSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another server answers on the socket path.
    case socketInUse(path: String)
    /// Something that is not a socket occupies the socket path; it is left alone.
    case notASocket(path: String)
    /// The accepted channel cannot report its peer's credentials, so no call can be authorized.
    case peerCredentialsUnavailable
    case system(SystemError)

    public var description: String {
        switch self {
        case .socketInUse(let path):
            "\(path) is in use by a running server — is another livepatchd running?"
        case .notASocket(let path):
            "\(path) exists and is not a socket; remove it or configure another socket path"
        case .peerCredentialsUnavailable:
            "cannot read the peer credentials (SO_PEERCRED) of a control socket connection"
        case .system(let error):
            error.description
        }
    }
}
