#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
// Not Foundation: its ICU data would triple the binary and slow every start (issue 12).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LivepatchAPI

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments, ClientOptions {
    @Option(
        name: .long, help: ArgumentHelp(
            "Control socket of livepatchd (default: $LIVEPATCHD_SOCKET, else \(LivepatchInterface.defaultSocketPath)).",
            valueName: "path"),
        completion: .file())
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's reply as one JSON object (snake_case fields, as on the wire).")
    var json = false
}

/// What the commands do with `--socket` and `--json`, however they were read: by ArgumentParser
/// (``GlobalOptions``) or by the monitoring fast path (``StatusFastPath``).
protocol ClientOptions {
    var socket: String? { get }
    var json: Bool { get }
}

extension ClientOptions {
    /// `--socket`, else `LIVEPATCHD_SOCKET`, else the daemon's default.
    var socketPath: String {
        if let socket { return socket }
        if let value = getenv("LIVEPATCHD_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return LivepatchInterface.defaultSocketPath
    }

    /// Reads answer at once; a daemon that does not answer within `timeout` is reported as
    /// unreachable (exit 3) rather than hanging a monitoring check. Apply, revert and watch pass
    /// nil: they last as long as the kernel's transition, or forever.
    func connect(timeout: Duration? = .seconds(30)) throws -> any DaemonConnection {
        try DaemonConnector.connect(socket: socketPath, timeout: timeout)
    }

    var style: Style { json ? .plain : .forStandardOutput() }

    /// One JSON object on one line, the field names of the wire (`blocking_tasks`).
    /// Prints JSON text as it came (``DaemonConnection/callForJSON(_:)``).
    func printJSON(text: [UInt8]) {
        print(String(decoding: text, as: UTF8.self))
    }

    func printJSON<T: Encodable>(_ value: T) throws {
        let data: Data
        do {
            data = try LivepatchInterface.makeEncoder().encode(value)
        } catch {
            throw ClientError.protocolError("cannot encode the reply as JSON: \(error)")
        }
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Ends a command with a non-zero exit code without printing anything more.
func finish(_ status: ExitStatus) throws {
    if status != .ok { throw ExitCode(status.rawValue) }
}
