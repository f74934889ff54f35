// FoundationEssentials has the JSON coders and nothing heavier: lpclient links this module and
// must not carry full Foundation's ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `io.livepatchd` Varlink interface: method names, parameters, replies and errors.
///
/// Field names go over the wire in snake_case (`blocking_tasks`): encode with
/// ``LivepatchInterface/makeEncoder()`` and decode with ``LivepatchInterface/makeDecoder()``.
public enum LivepatchInterface {
    public static let name = "io.livepatchd"
    /// Default control socket path (DESIGN.md "Files").
    public static let defaultSocketPath = "/run/livepatchd/io.livepatchd"

    public enum Method: String, Sendable, CaseIterable {
        case getStatus = "GetStatus"
        case listPatches = "ListPatches"
        case getPatch = "GetPatch"
        case apply = "Apply"
        case revert = "Revert"
        case rescan = "Rescan"
        case getHistory = "GetHistory"
        case subscribe = "Subscribe"
        case getMetrics = "GetMetrics"

        public var qualifiedName: String { "\(LivepatchInterface.name).\(rawValue)" }

        /// Methods that change the system: uid 0 only (checked with SO_PEERCRED).
        public var requiresRoot: Bool {
            switch self {
            case .apply, .revert, .rescan: true
            default: false
            }
        }
    }

    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The interface description served by `org.varlink.service.GetInterfaceDescription`.
    public static let description = """
        # Live patching agent: verifies, stages and applies kernel livepatch modules.
        # Reading is open to every local user; Apply, Revert and Rescan need uid 0.
        interface io.livepatchd

        # A task the kernel has not yet switched to the patch state of a running transition.
        type BlockingTask (pid: int, comm: string)

        # An object of a loaded patch: vmlinux, or a module (patched only while it is loaded).
        type PatchObject (name: string, patched: bool)

        type Patch (
          name: string,
          version: string,
          sha256: string,
          # pending, rejected, staged, applying, applied, failed, reverting, reverted, superseded, foreign,
          # halted, quarantined
          state: string,
          reason: ?string,
          # reason as a stable code: hash-mismatch, load-failed, transition-timeout, disabled-outside, ...
          reason_code: ?string,
          replace: bool,
          kernels: []string,
          fixes: []string,
          # RFC 3339 time the patch entered its state
          since: string,
          description: ?string,
          desired: bool,
          # object:function pairs the loaded patch redirects
          functions: []string,
          blocking_tasks: []BlockingTask,
          # patches stacked on top of this one
          stacked_below: []string,
          # the kernel's view of each object of a loaded patch, read when asked
          objects: []PatchObject,
          # this host's rollout wave for the patch (0 first), for patches verified here
          wave: ?int,
          # RFC 3339 time a staged patch applies by itself (its wave's turn plus apply_delay)
          apply_at: ?string
        )

        type KernelSupport (
          release: string,
          livepatch: bool,
          ftrace: ?bool,
          lockdown: ?string,
          signature_enforced: ?bool,
          taint: ?int,
          simulated: bool
        )

        type HistoryEntry (time: string, name: string, version: string, state: string, reason: ?string)

        # Daemon, kernel support and a summary; degraded is what lpclient status exits 1 on.
        method GetStatus() -> (
          summary: string,
          degraded: bool,
          problems: []string,
          backend: string,
          # auto, manual or off
          apply: string,
          kernel: KernelSupport,
          counts: [string]int,
          daemon_version: string
        )

        method ListPatches() -> (patches: []Patch)

        method GetPatch(name: string) -> (patch: Patch)

        # Replies when the patch is applied or failed; with more, streams each state change first.
        method Apply(name: string) -> (patch: Patch)

        # Replies when the patch is reverted; refused while patches are stacked on top of it.
        method Revert(name: string) -> (patch: Patch)

        # Reads the patch directory again.
        method Rescan() -> (patches: []Patch)

        method GetHistory() -> (entries: []HistoryEntry)

        # Needs more: streams every state change of every patch.
        method Subscribe() -> (entry: HistoryEntry, patch: Patch)

        # Prometheus text exposition (format 0.0.4): what metrics_file holds.
        method GetMetrics() -> (text: string)

        error NoSuchPatch (name: string)
        error PermissionDenied (method: string, reason: string)
        error InvalidState (name: string, state: string, reason: string)
        error NotSupported (reason: string)
        error Failed (name: string, reason: string)
        """
}

// MARK: - Parameters and replies

public struct NameParameters: Codable, Sendable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct PatchReply: Codable, Sendable, Equatable {
    public var patch: Patch
    public init(patch: Patch) { self.patch = patch }
}

public struct PatchListReply: Codable, Sendable, Equatable {
    public var patches: [Patch]
    public init(patches: [Patch]) { self.patches = patches }
}

public struct HistoryReply: Codable, Sendable, Equatable {
    public var entries: [HistoryEntry]
    public init(entries: [HistoryEntry]) { self.entries = entries }
}

public struct MetricsReply: Codable, Sendable, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
}

public struct SubscribeReply: Codable, Sendable, Equatable {
    public var entry: HistoryEntry
    public var patch: Patch
    public init(entry: HistoryEntry, patch: Patch) {
        self.entry = entry
        self.patch = patch
    }
}

/// The errors of `io.livepatchd`, by their Varlink names.
public enum LivepatchErrorName: String, Sendable, CaseIterable {
    case noSuchPatch = "io.livepatchd.NoSuchPatch"
    case permissionDenied = "io.livepatchd.PermissionDenied"
    case invalidState = "io.livepatchd.InvalidState"
    case notSupported = "io.livepatchd.NotSupported"
    case failed = "io.livepatchd.Failed"
}
