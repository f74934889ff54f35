import ArgumentParser
import FoundationEssentials
import LivepatchBundle
import LivepatchCore
import LivepatchSystem

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide a bundle the way livepatchd would.",
        discussion: """
            Runs livepatchd's verifier on MANIFEST and the files next to it, with the keys in
            --keys; it writes nothing. Prints verified, pending (files missing) or rejected with
            the reason. Exit status 0 only when verified.
            """
    )

    @Argument(help: "The manifest, NAME.json; its signature and module are looked for in the same directory.")
    var manifest: String

    @Option(help: "Directory of trusted NAME.pub files (livepatchd uses /etc/livepatchd/keys).")
    var keys: String?

    @Flag(help: "Decide as with require_signature = false.")
    var allowUnsigned = false

    @Option(help: "Decide with this max_module_size, in bytes.")
    var maxModuleSize: Int64?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if keys == nil && !allowUnsigned {
            throw ValidationError("--keys DIR is required (or --allow-unsigned to decide as require_signature = false)")
        }
    }

    func run() throws {
        var trusted = TrustedKeys()
        if let keys {
            do {
                let loaded = try KeyDirectory.load(keys)
                trusted = loaded.keys
                for problem in loaded.problems {
                    Files.warn("skipped key \(problem)")
                }
            } catch {
                throw Failure("cannot read the keys directory: \(error)")
            }
        }
        var policy = Policy()
        policy.requireSignature = !allowUnsigned
        if let maxModuleSize { policy.maxModuleSize = maxModuleSize }

        let verifier = BundleVerifier(patchDirectory: Files.directory(of: manifest), keys: trusted, policy: policy)
        let outcome = verifier.verify(manifestFileName: Files.fileName(of: manifest))
        let report = VerifyReport(outcome)
        if output.json {
            try Files.printJSON(report)
        } else {
            print(report.text)
        }
        if report.decision != "verified" { throw ExitCode(1) }
    }

}

/// What `verify` prints, as text or JSON.
struct VerifyReport: Encodable {
    var decision: String
    var name: String
    var code: String?
    var reason: String?
    var missing: [String]?
    var version: String?
    var sha256: String?
    var release: String?
    var kernels: [String]?
    var signedBy: String?
    var functions: [String]?

    init(_ outcome: BundleOutcome) {
        name = outcome.name
        switch outcome {
        case .incomplete(_, let manifest, _, let files):
            decision = "pending"
            missing = files
            version = manifest?.version
        case .rejected(_, let manifest, let why):
            decision = "rejected"
            code = why.code
            reason = why.description
            version = manifest?.version
        case .verified(let bundle):
            decision = "verified"
            version = bundle.manifest.version
            sha256 = bundle.manifest.sha256
            release = bundle.release
            kernels = bundle.manifest.kernels
            signedBy = bundle.signedBy
            functions = bundle.functions
        }
    }

    var text: String {
        switch decision {
        case "verified":
            var line = "verified: \(name) version \(version ?? "") for \(release ?? "") (module sha256 \(sha256 ?? ""))"
            line += signedBy.map { ", signed by \($0)" } ?? ", signature not required"
            return line
        case "pending":
            return "pending: \(name) is waiting for \((missing ?? []).joined(separator: ", "))"
        default:
            return "rejected: \(name): \(reason ?? "")"
        }
    }
}
