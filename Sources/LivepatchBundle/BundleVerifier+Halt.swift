import LivepatchCore
import LivepatchSystem

extension BundleVerifier {
    /// Halt files in `directory`: `*.halt`, sorted, hidden files skipped.
    public static func haltFileNames(inDirectory directory: String) throws(SystemError) -> [String] {
        try Directory.entries(directory).filter { $0.hasSuffix(Halt.fileSuffix) && !$0.hasPrefix(".") }
    }

    /// Verifies one halt file the way a manifest is verified: a regular file, bounded, well-formed,
    /// signed by a trusted key (unless signatures are not required). A halt that does not verify
    /// halts nothing: anyone who can write to the patch directory must not stop a rollout.
    /// - Returns: the halt, or why it does not count, in one line that names the file.
    public func verifyHalt(fileName: String) -> Result<VerifiedHalt, HaltProblem> {
        let shown = Self.printable(fileName)
        func problem(_ detail: String) -> Result<VerifiedHalt, HaltProblem> {
            .failure(HaltProblem(file: shown, detail: detail))
        }
        let bytes: [UInt8]
        switch read(fileName, limit: Int64(Halt.maximumSize)) {
        case .success(let read): bytes = read
        case .failure(.missing): return problem("it went away while being read")
        case .failure(.tooLarge(_, let size, let limit)): return problem("it is \(size) bytes, more than the \(limit) allowed")
        case .failure(.rejected(let reason)): return problem(reason.description)
        }
        let halt: Halt
        do { halt = try Halt.parse(bytes) } catch { return problem("malformed: \(error)") }
        guard halt.fileName == fileName else { return problem("it must be named \(halt.fileName), after what it halts") }
        var signedBy: String?
        if policy.requireSignature {
            switch read("\(fileName).sig", limit: Self.maximumSignatureSize) {
            case .success(let signature):
                do { signedBy = try keys.verify(signatureFile: signature, of: bytes) } catch { return problem("bad signature: \(error)") }
            case .failure(.missing): return problem("its signature \(shown).sig is missing")
            case .failure(.tooLarge): return problem("its signature is not one line of base64")
            case .failure(.rejected(let reason)): return problem(reason.description)
            }
        }
        return .success(VerifiedHalt(file: fileName, halt: halt, signedBy: signedBy))
    }
}

/// Why a halt file halts nothing.
public struct HaltProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var detail: String
    public var description: String { "halt file \(file) is ignored: \(detail); sign it with `lpbundle halt` and a trusted key" }
}
