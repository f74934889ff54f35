import ArgumentParser

@main
struct LPBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lpbundle",
        abstract: "Create, sign, verify and inspect livepatchd patch bundles.",
        discussion: """
            A bundle is three files dropped into livepatchd's patch directory, in any order:
              NAME.json       the manifest (name, version, module file, its sha256, kernels, ...)
              NAME.json.sig   an Ed25519 signature of the exact manifest bytes
              the module      a livepatch kernel module (MODULE_INFO(livepatch, "Y"))

            A typical session:
              lpbundle keygen --name release --out ~/keys
              lpbundle create livepatch-fix.ko --key ~/keys/release.key --version 1 --fixes CVE-2026-1234 --out out/
              lpbundle verify out/livepatch_fix.json --keys ~/keys
              install -m 0644 ~/keys/release.pub /etc/livepatchd/keys/   # on every host, once
              cp out/* /var/lib/livepatchd/incoming/
            or, through a fleet's apt repository:
              lpbundle deb out/livepatch_fix.json --out pool/    # livepatch-fix_1_all.deb
            and, if the canary hosts show a problem, before the next wave:
              lpbundle halt livepatch_fix --reason "oops on canaries" --key ~/keys/release.key --out halt/
              cp halt/* /var/lib/livepatchd/incoming/

            Key files are one line of base64: NAME.pub the raw 32-byte Ed25519 public key,
            NAME.key the raw 32-byte private key (mode 0600; keep it off the hosts).
            `verify` runs the daemon's own verifier, so its answer is the daemon's.
            """,
        subcommands: [Keygen.self, Create.self, Verify.self, Inspect.self, Deb.self, HaltCommand.self]
    )
}

/// Options every subcommand that reports shares.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
}

/// A failure the user can act on; ArgumentParser prints it as "Error: ..." and exits 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
