extension VarlinkServer {
    /// What one client may cost the daemon. Exceeding a limit costs the client its connection,
    /// never another client's service.
    public struct Limits: Sendable, Equatable {
        /// Largest call accepted, in bytes without the NUL. A larger one gets
        /// `org.varlink.service.InvalidParameter` (`parameter: "message"`) and a disconnect.
        public var maxMessageSize: Int
        /// A message begun must end (its NUL arrive) within this, or the client is disconnected.
        public var partialMessageTimeout: Duration
        /// Connections beyond this are closed as soon as they are accepted (a call the event
        /// loop answers from a reply at hand, GetStatus, may be answered in between).
        public var maxConnections: Int
        /// Connections of one non-root user beyond this are closed as soon as they are
        /// accepted, so one user cannot take every slot from the others (root, trusted
        /// anyway, counts against `maxConnections` only). The defaults are sd-varlink's.
        public var maxConnectionsPerUser: Int
        /// Replies queued for a client that does not read, in bytes, beyond which the
        /// connection stops being writable and a streaming handler waits.
        public var maxPendingOutputBytes: Int
        /// A connection that stays unwritable this long is closed.
        public var writeStallTimeout: Duration

        public init(
            maxMessageSize: Int = 64 * 1024,
            partialMessageTimeout: Duration = .seconds(10),
            maxConnections: Int = 4096,
            maxConnectionsPerUser: Int = 128,
            maxPendingOutputBytes: Int = 1024 * 1024,
            writeStallTimeout: Duration = .seconds(10)
        ) {
            self.maxMessageSize = maxMessageSize
            self.partialMessageTimeout = partialMessageTimeout
            self.maxConnections = maxConnections
            self.maxConnectionsPerUser = maxConnectionsPerUser
            self.maxPendingOutputBytes = maxPendingOutputBytes
            self.writeStallTimeout = writeStallTimeout
        }
    }
}
