import LivepatchAPI
import LivepatchCore
import Varlink

/// The one error type of the daemon's API: each code is one Varlink error, an `io.livepatchd.*`
/// one except for a missing parameter, which is the standard `org.varlink.service` error.
public struct LivepatchError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case noSuchPatch
        case permissionDenied
        case invalidState
        case notSupported
        case failed
        /// A call without a required parameter: `org.varlink.service.InvalidParameter`.
        case invalidParameter

        public var varlinkName: String {
            switch self {
            case .invalidParameter: VarlinkService.ErrorName.invalidParameter.rawValue
            case .noSuchPatch: LivepatchErrorName.noSuchPatch.rawValue
            case .permissionDenied: LivepatchErrorName.permissionDenied.rawValue
            case .invalidState: LivepatchErrorName.invalidState.rawValue
            case .notSupported: LivepatchErrorName.notSupported.rawValue
            case .failed: LivepatchErrorName.failed.rawValue
            }
        }
    }

    public var code: Code
    /// The Varlink error parameters, as the IDL in ``LivepatchInterface/description`` declares them.
    public var parameters: [String: String]

    public init(_ code: Code, _ parameters: [String: String]) {
        self.code = code
        self.parameters = parameters
    }

    public var description: String {
        "\(code.varlinkName) " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func invalidParameter(_ parameter: String) -> LivepatchError { .init(.invalidParameter, ["parameter": parameter]) }

    static func noSuchPatch(_ name: String) -> LivepatchError { .init(.noSuchPatch, ["name": name]) }

    static func permissionDenied(method: String) -> LivepatchError {
        .init(.permissionDenied, ["method": method, "reason": "\(method) changes the kernel and needs root (uid 0); run it with sudo"])
    }

    init(_ error: PatchLedger.RequestError) {
        switch error {
        case .noSuchPatch(let name):
            self = .noSuchPatch(name)
        case .invalidState(let name, let state, let reason):
            self.init(.invalidState, ["name": name, "state": state.rawValue, "reason": reason])
        case .notSupported(let reason):
            self.init(.notSupported, ["reason": reason])
        }
    }
}
