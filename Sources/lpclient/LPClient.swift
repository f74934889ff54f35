#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

@main
struct LPClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpclient",
        abstract: "Ask livepatchd what it did to the running kernel, and tell it what to do.",
        discussion: """
            livepatchd verifies the kernel livepatches dropped into its patch directory, \
            applies them according to its policy and answers lpclient over a Unix socket. \
            Reading (status, list, show, history, watch) is open to every local user; \
            apply, revert and rescan need root.

            Examples:
              lpclient                       same as lpclient status
              lpclient list                  every patch with its state
              lpclient show fix_cve_2024_1   everything about one patch
              sudo lpclient apply fix_cve_2024_1
              lpclient metrics               Prometheus metrics, as node_exporter serves them
              lpclient list --json | jq -r '.patches[] | select(.state=="failed").name'

            As a monitoring check, Nagios-style (0 OK, 1 WARNING, 3 UNKNOWN):
              lpclient status >/dev/null; echo $?

            Exit codes:
              0   every desired patch is applied and nothing failed,
                  or the command did what was asked
              1   degraded: a patch failed or was rejected, or is stuck pending
                  or applying (patches staged on purpose are fine);
                  or apply/revert did not reach the state asked for
              3   livepatchd unreachable: not running, wrong socket, no usable reply
              64  usage error
              77  permission denied: the call needs root, or the socket is closed to you

            Socket: --socket PATH, else $LIVEPATCHD_SOCKET, else
            /run/livepatchd/io.livepatchd. Color only on a terminal and without NO_COLOR.
            """,
        subcommands: [
            StatusCommand.self, ListCommand.self, ShowCommand.self, ApplyCommand.self, RevertCommand.self,
            RescanCommand.self, HistoryCommand.self, WatchCommand.self, MetricsCommand.self,
        ],
        defaultSubcommand: StatusCommand.self
    )

    /// Parsing errors exit 64 (EX_USAGE) through ArgumentParser; a failed call exits with the
    /// code its ``ClientError`` maps to, after one message with a hint on stderr.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let options = StatusFastPath(arguments) {
            finish { try StatusCommand.run(options) }
        }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            exit(withError: error)
        }
        finish { try command.run() }
    }

    private static func finish(_ run: () throws -> Void) -> Never {
        do {
            try run()
        } catch let error as ClientError {
            var standardError = StandardError()
            print("lpclient: " + ErrorText.describe(error), to: &standardError)
            Glibc.exit(ExitStatus.of(error).rawValue)
        } catch let code as ExitCode {
            // A code without a message (degraded: 1). ArgumentParser's exit(withError:) would
            // build its help over every subcommand first (callgrind: 3.2 M of the 6.5 M
            // instructions of `lpclient status` on a degraded host; 40 ms of 105 in the VM).
            Glibc.exit(code.rawValue)
        } catch {
            exit(withError: error)
        }
        exit()
    }
}

/// `lpclient`, `lpclient status`, with `--json` and `--socket PATH` in any order: what monitoring
/// runs every minute on every host, read without ArgumentParser. Its parse of the whole command
/// tree (protocol conformance lookups and reflection over nine subcommands) was three quarters
/// of the instructions `lpclient status` executes (callgrind: 8.6 M of 11.5 M). Anything else,
/// `--help` and every mistake included, goes to ArgumentParser, so usage stays in one place.
struct StatusFastPath: ClientOptions {
    var socket: String?
    var json = false

    init?(_ arguments: [String]) {
        var rest = arguments[...]
        if rest.first == "status" { rest = rest.dropFirst() }
        while let argument = rest.popFirst() {
            switch argument {
            case "--json" where !json:
                json = true
            case "--socket" where socket == nil:
                guard let path = rest.popFirst(), !path.hasPrefix("-") else { return nil }
                socket = path
            default:
                return nil
            }
        }
    }
}

/// stderr as a `TextOutputStream`, for `print(_:to:)`.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }  // nowhere left to report to
            bytes = bytes.dropFirst(written)
        }
    }
}
