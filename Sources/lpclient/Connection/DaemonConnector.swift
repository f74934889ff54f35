/// Opens the connection every command uses; the one place that knows the transport.
///
/// The Varlink client (target `Varlink`) is being written in parallel: until it is wired in
/// here, every command reports the daemon as unusable rather than pretending to talk to it.
enum DaemonConnector {
    static func connect(socket: String) throws -> any DaemonConnection {
        throw ClientError.protocolError("lpclient was built without its Varlink transport (DaemonConnector.connect)")
    }
}
