import LivepatchAPI

/// lpclient's exit codes (DESIGN.md "Programs"), Nagios-style so `lpclient status` is a
/// monitoring check: 0 OK, 1 WARNING, 3 UNKNOWN.
enum ExitStatus: Int32 {
    /// All desired patches applied and nothing failed; or the command did what was asked.
    case ok = 0
    /// The daemon reports itself degraded, or the command failed on a patch.
    case degraded = 1
    /// No usable answer from the daemon: not running, not listening, or not speaking its protocol.
    case unreachable = 3
    /// Bad arguments (ArgumentParser's validation errors exit with this EX_USAGE code too).
    case usage = 64
    /// Needs root (Apply, Revert, Rescan), or the socket is not accessible (EX_NOPERM).
    case permissionDenied = 77

    static func of(_ status: Status) -> ExitStatus { status.degraded ? .degraded : .ok }

    /// Apply and Revert succeed only when the patch reached the state asked for.
    static func of(finalPatch patch: Patch, wanted: PatchState) -> ExitStatus {
        patch.state == wanted ? .ok : .degraded
    }

    static func of(_ error: ClientError) -> ExitStatus {
        switch error {
        case .unreachable, .protocolError: .unreachable
        case .permissionDenied: .permissionDenied
        case .remote(let name, _): name == LivepatchErrorName.permissionDenied.rawValue ? .permissionDenied : .degraded
        }
    }
}
