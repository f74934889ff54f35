#if canImport(Glibc)
import Glibc
#endif
import LivepatchAPI

/// What an operator reads on stderr when a call fails: the cause and what to do about it.
enum ErrorText {
    static func describe(_ error: ClientError) -> String {
        switch error {
        case .unreachable(let socket, let errno):
            return "cannot connect to \(socket): \(reason(errno))\n"
                + "hint: is livepatchd running? systemctl status livepatchd; "
                + "or point lpclient at its socket with --socket PATH or LIVEPATCHD_SOCKET"
        case .permissionDenied(let socket, let errno):
            return "cannot connect to \(socket): \(reason(errno))\n"
                + "hint: run lpclient as a user that may open the socket (or as root)"
        case .protocolError(let detail):
            return "no usable reply from livepatchd: \(detail)"
        case .remote(let name, let parameters):
            return describeRemote(name: name, parameters: parameters)
        }
    }

    static func describeRemote(name: String, parameters p: [String: String]) -> String {
        switch LivepatchErrorName(rawValue: name) {
        case .noSuchPatch:
            return "no patch named \"\(p["name"] ?? "?")\"\nhint: lpclient list shows every patch the daemon knows"
        case .permissionDenied:
            let method = p["method"] ?? "this call"
            return "permission denied for \(method): \(p["reason"] ?? "root only")\n"
                + "hint: apply, revert and rescan change the kernel and need root: sudo lpclient …"
        case .invalidState:
            return "\(p["name"] ?? "patch") is \(p["state"] ?? "in another state"): \(p["reason"] ?? "refused")"
        case .notSupported:
            return "not supported: \(p["reason"] ?? "this kernel cannot do that")"
        case .failed:
            return "\(p["name"] ?? "patch") failed: \(p["reason"] ?? "no reason given")"
        case nil:
            let rendered = p.keys.sorted().map { "\($0)=\(p[$0] ?? "")" }.joined(separator: " ")
            return "livepatchd answered \(name)" + (rendered.isEmpty ? "" : ": \(rendered)")
        }
    }

    private static func reason(_ errno: Int32) -> String {
        String(cString: strerror(errno))
    }
}
