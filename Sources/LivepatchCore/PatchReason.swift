/// Why a patch is in its state: a stable code for scripts and monitoring, and the message an
/// operator reads. From the verifier's rejection to the wire (`reason`, `reason_code`), one type.
public struct PatchReason: Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String
    /// The kernel's own log lines that `message` quotes, when the kernel refused a load, enable or
    /// disable and said why (``KernelMessages``): the journal's `LIVEPATCH_KERNEL_MESSAGE`.
    public var kernelMessages: [String]

    public init(_ code: Code, _ message: String, kernelMessages: [String] = []) {
        self.code = code
        self.message = message
        self.kernelMessages = kernelMessages
    }

    public var description: String { message }

    public enum Code: String, Codable, Sendable, CaseIterable {
        // The verifier's, in DESIGN.md's order (see RejectionReason).
        case malformedManifest = "malformed-manifest"
        case badSignature = "bad-signature"
        case unsafeFile = "unsafe-file"
        case unreadableFile = "unreadable-file"
        case moduleTooLarge = "module-too-large"
        case hashMismatch = "hash-mismatch"
        case notLivepatch = "not-livepatch"
        case nameMismatch = "name-mismatch"
        case wrongKernel = "wrong-kernel"
        case unreadableModule = "unreadable-module"
        case storeFailed = "store-failed"
        case settleTimeout = "settle-timeout"
        // Rollout safety, decided by the machine from what verified.
        case downgrade
        case expired
        case halted
        case quarantined
        // Waiting, on purpose or not.
        case waitingForFiles = "waiting-for-files"
        case otherKernel = "other-kernel"
        case upgradeWaits = "upgrade-waits"
        case notRecorded = "not-recorded"
        // What the kernel did with a step.
        case loadFailed = "load-failed"
        case transitionTimeout = "transition-timeout"
        case rollbackFailed = "rollback-failed"
        case forceFailed = "force-failed"
        case revertFailed = "revert-failed"
        case droppedByKernel = "dropped-by-kernel"
        case oldModuleLoaded = "old-module-loaded"
        // What the kernel showed that the daemon had not done.
        case disabledOutside = "disabled-outside"
        case foundEnabled = "found-enabled"
        case loadedBySomeoneElse = "foreign"
        case replaced
        case notInKernel = "not-in-kernel"
        case loadNotDone = "load-not-done"
        case revertInterrupted = "revert-interrupted"
        /// Written by a livepatchd that kept reasons as text only.
        case unclassified
    }
}

extension PatchReason: Codable {
    private enum Keys: String, CodingKey { case code, message, kernelMessages }

    /// A state file from before reasons had codes holds the message alone.
    public init(from decoder: any Decoder) throws {
        if let message = try? decoder.singleValueContainer().decode(String.self) {
            self.init(.unclassified, message)
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
        self.init(
            try container.decode(Code.self, forKey: .code), try container.decode(String.self, forKey: .message),
            kernelMessages: try container.decodeIfPresent([String].self, forKey: .kernelMessages) ?? [])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        if !kernelMessages.isEmpty { try container.encode(kernelMessages, forKey: .kernelMessages) }
    }
}

extension RejectionReason {
    public var patchReason: PatchReason { PatchReason(patchReasonCode, description) }

    var patchReasonCode: PatchReason.Code {
        switch self {
        case .malformedManifest: .malformedManifest
        case .badSignature: .badSignature
        case .unsafeFile: .unsafeFile
        case .unreadableFile: .unreadableFile
        case .moduleTooLarge: .moduleTooLarge
        case .hashMismatch: .hashMismatch
        case .notLivepatch: .notLivepatch
        case .nameMismatch: .nameMismatch
        case .wrongKernel: .wrongKernel
        case .unreadableModule: .unreadableModule
        case .storeFailed: .storeFailed
        case .settleTimeout: .settleTimeout
        }
    }
}
