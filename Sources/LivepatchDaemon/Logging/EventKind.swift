import Logging

/// The events an operator may want to find in the journal, each with its own `MESSAGE_ID`
/// (`journalctl MESSAGE_ID=...`) and an entry in systemd/livepatchd.catalog
/// (`journalctl -x` shows it). The ids are fixed forever: monitoring matches on them.
public enum EventKind: String, CaseIterable, Sendable {
    case started, ready, reloaded, stopping, configError
    case patchPending, patchRejected, patchStaged, patchApplying, patchApplied, patchFailed
    case patchReverting, patchReverted, patchSuperseded, patchForeign, patchHalted, patchQuarantined
    case transitionBlocked, kernelUnsupported

    /// 128-bit id as 32 lowercase hex digits, generated once with `uuid.uuid4().hex`.
    public var messageID: String {
        switch self {
        case .started: "afcf4b1b21af472686807093bcb02269"
        case .ready: "9d19c9d2762a47969e13096ae8f7efe3"
        case .reloaded: "46b8a3106d6f4c429f680fbd22552a79"
        case .stopping: "e67eae1182d2495f8be9cb1afc01654e"
        case .configError: "fb9f64f37f6246c6bcfd194cffc0013f"
        case .patchPending: "9f2bca366a654109a1e3382669001292"
        case .patchRejected: "0226251c175b4bcd9a8535a13a7e44ed"
        case .patchStaged: "cb773c6a20224a18848691bf9805efbc"
        case .patchApplying: "47846050be7d4182930d1a582bf4d05a"
        case .patchApplied: "bd3502770a4346c48ca8a0eaccb317fa"
        case .patchFailed: "f07d97327aeb43b79000a8c9aaa922ea"
        case .patchReverting: "5f3c3775001849a595ba407f842161bc"
        case .patchReverted: "ed2900cbbbfe4fa4acdd4f5ed45f9b64"
        case .patchSuperseded: "39f3453ce3414965a9e3aaa2fcaacd3a"
        case .patchForeign: "84279dc8b3574e2f8b2180dbaa9b458b"
        case .patchHalted: "345cb61001b34375b12aa5599212b651"
        case .patchQuarantined: "db028a0d5c7345d4acbd6bb8d06f65b2"
        case .transitionBlocked: "c70debdeadc24c64baad7019cdbf61b9"
        case .kernelUnsupported: "e31ad369d0dd491e87c4035fc996788c"
        }
    }

    public init?(messageID: String) {
        guard let kind = Self.allCases.first(where: { $0.messageID == messageID }) else { return nil }
        self = kind
    }
}

/// Metadata keys of the daemon's log entries; each becomes the journal field of the same
/// name uppercased (`livepatch_name` → `LIVEPATCH_NAME`).
public enum LivepatchField {
    public static let name = "livepatch_name"
    public static let sha256 = "livepatch_sha256"
    public static let state = "livepatch_state"
    public static let kernel = "livepatch_kernel"
    public static let reason = "livepatch_reason"
    /// The reason's stable code (`hash-mismatch`, `load-failed`, …).
    public static let reasonCode = "livepatch_reason_code"
    public static let version = "livepatch_version"
    /// The kernel's own log lines that a failed step's reason quotes, one a line.
    public static let kernelMessage = "livepatch_kernel_message"
    /// Set by ``Logging/Logger/event(_:_:level:metadata:file:function:line:)``.
    public static let messageID = "message_id"
}

extension Logger {
    /// Logs an operator-visible event: `metadata` plus the kind's `MESSAGE_ID`.
    public func event(
        _ kind: EventKind, _ message: @autoclosure () -> Logger.Message, level: Logger.Level = .notice,
        metadata: @autoclosure () -> Logger.Metadata = [:],
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        log(
            level: level, message(),
            metadata: metadata().merging([LivepatchField.messageID: .string(kind.messageID)]) { _, id in id },
            file: file, function: function, line: line)
    }
}
