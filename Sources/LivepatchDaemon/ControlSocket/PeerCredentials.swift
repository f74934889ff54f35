#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Who is on the other end of a control socket connection, as the kernel reports it
/// (SO_PEERCRED): the credentials at connect time, which the peer cannot forge.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var isRoot: Bool { uid == 0 }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }
}

extension PeerCredentials {
    /// Reads SO_PEERCRED of an accepted Unix socket channel. NIO has no typed option for it,
    /// so it goes through the raw socket option API, with `ucred` as the option's C type.
    static func read(from channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ControlSocketError.peerCredentialsUnavailable)
        }
        let option: EventLoopFuture<LinuxUcred> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)
        )
        return option.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}

/// `struct ucred` of <sys/socket.h> (pid_t, uid_t, gid_t), which Glibc's Swift module does not
/// export because the C header hides it behind _GNU_SOURCE. Same layout, so SO_PEERCRED can fill it.
struct LinuxUcred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
