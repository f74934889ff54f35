import ArgumentParser
import LivepatchCore
import LivepatchSystem

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate an Ed25519 signing key pair.",
        discussion: """
            Writes DIR/NAME.key (private, mode 0600) and DIR/NAME.pub (public). Install
            NAME.pub in /etc/livepatchd/keys/ on the hosts that should trust it; keep
            NAME.key where bundles are built. Existing files are never overwritten.
            """
    )

    @Option(help: "Key name: the file names, and how livepatchd names the signer.")
    var name: String

    @Option(help: "Directory to write NAME.key and NAME.pub into (created if missing).")
    var out: String

    func validate() throws {
        let allowed = name.utf8.allSatisfy { byte in
            (0x61...0x7a).contains(byte) || (0x41...0x5a).contains(byte) || (0x30...0x39).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard !name.isEmpty, allowed, !name.hasPrefix(".") else {
            throw ValidationError("--name must be letters, digits, '_', '-' or '.', not starting with '.': \(name)")
        }
    }

    func run() throws {
        let privatePath = "\(out)/\(name).key"
        let publicPath = "\(out)/\(name).pub"
        for path in [privatePath, publicPath] where Files.exists(path) {
            throw Failure("\(path) already exists; choose another --name or remove it first")
        }
        do {
            try Directory.create(out, mode: 0o700)
            let key = SigningKey()
            try AtomicFile.write(Array(key.fileContents.utf8), to: privatePath, mode: 0o600)
            try AtomicFile.write(Array(key.publicKey(name: name).fileContents.utf8), to: publicPath, mode: 0o644)
        } catch {
            throw Failure(error.description)
        }
        print("wrote \(privatePath) (private, keep it secret) and \(publicPath) (install in /etc/livepatchd/keys/)")
    }
}
