import ArgumentParser
import FoundationEssentials
import LivepatchBundle
import LivepatchCore
import LivepatchSystem

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a signed manifest for a livepatch module.",
        discussion: """
            Reads the module's modinfo: its name becomes the patch name (NAME.json), and its
            vermagic release the default --kernel. Writes DIR/NAME.json, DIR/NAME.json.sig and
            a copy of the module (unless DIR already holds it). A module without livepatch=Y
            is refused: livepatchd would reject it.

            Rollout: hosts apply the patch no earlier than --released plus their wave times
            rollout_bake (see livepatchd.toml(5)). --sequence must grow with every bundle of a
            name: a host refuses a bundle whose sequence is lower than one it has verified (an
            older bundle replayed). By default it is --released in seconds since 1970, so a
            later bundle gets a higher one without anyone counting; give it explicitly only if
            you keep counting yourself for this name from then on.
            """
    )

    @Argument(help: "The livepatch module (.ko).")
    var module: String

    @Option(help: "Private key file written by `lpbundle keygen` (NAME.key).")
    var key: String

    @Option(help: "Version of this patch, free text (e.g. 1, 2026.11.05-1).")
    var version: String

    @Option(name: .customLong("kernel"), help: "A `uname -r` release the module is built for; repeat for several. Default: the module's vermagic release.")
    var kernels: [String] = []

    @Flag(help: "Cumulative patch: enabling it atomically replaces every other livepatch.")
    var replace = false

    @Option(name: .customLong("fixes"), help: "An issue this patch fixes, e.g. a CVE id; repeat for several.")
    var fixes: [String] = []

    @Option(help: "One line for operators.")
    var description: String = ""

    @Option(help: "Increases with every bundle of this name (default: --released in seconds since 1970).")
    var sequence: Int?

    @Option(help: ArgumentHelp("When the rollout starts, RFC 3339 (default: now).", valueName: "time"))
    var released: String?

    @Option(help: ArgumentHelp("The bundle expires then, RFC 3339: hosts reject it when it arrives later.", valueName: "time"))
    var notAfter: String?

    @Option(help: "Directory to write the bundle into (created if missing).")
    var out: String

    func validate() throws {
        for (flag, value) in [("--released", released), ("--not-after", notAfter)] {
            if let value, !RFC3339.isValid(value) {
                throw ValidationError("\(flag) must be an RFC 3339 time such as 2026-12-03T10:00:00Z, got \"\(value)\"")
            }
        }
        if let sequence, sequence < 0 { throw ValidationError("--sequence must be 0 or more, got \(sequence)") }
        if let released, let notAfter, let start = RFC3339.date(from: released), let end = RFC3339.date(from: notAfter), end <= start {
            throw ValidationError("--not-after (\(notAfter)) must be later than --released (\(released))")
        }
    }

    @OptionGroup var output: OutputOptions

    func run() throws {
        let moduleFile = Files.fileName(of: module)
        let moduleBytes: [UInt8]
        let info: ModuleInfo
        let keyBytes: [UInt8]
        do {
            moduleBytes = try SafeFile.read(path: module, limit: Policy().maxModuleSize)
            info = try ModuleInfo.read(path: module)
            keyBytes = try SafeFile.read(path: key, limit: 4096)
        } catch let error as SafeFileError {
            throw Failure(error.description)
        } catch {
            throw Failure("cannot read the modinfo of \(module): \(error)")
        }
        guard info.isLivepatch else {
            throw Failure("\(module) is not a livepatch module (no livepatch=Y in its modinfo)")
        }
        guard let name = info.name, Manifest.isValidName(name) else {
            throw Failure("\(module) has no usable modinfo name (need [a-z0-9_]{1,55}, got \(info.name ?? "none"))")
        }
        guard let release = info.vermagicRelease else { throw Failure("\(module) has no vermagic in its modinfo") }
        let signingKey: SigningKey
        do {
            signingKey = try SigningKey(fileContents: keyBytes)
        } catch {
            throw Failure("\(key): \(error)")
        }

        let now = Date()
        let releasedAt = released.flatMap(RFC3339.date(from:)) ?? now
        let manifest = Manifest(
            name: name, version: version, module: moduleFile, sha256: sha256Hex(moduleBytes),
            kernels: kernels.isEmpty ? [release] : kernels, replace: replace, description: description,
            fixes: fixes, created: Manifest.timestamp(now), sequence: sequence ?? Int(releasedAt.timeIntervalSince1970),
            released: released ?? Manifest.timestamp(now), notAfter: notAfter)
        let bytes = [UInt8](manifest.encoded())
        // What the daemon will parse must be exactly what was meant: check it the same way.
        do {
            _ = try Manifest.parse(bytes)
        } catch {
            throw Failure("the manifest would be rejected: \(error)")
        }
        if !kernels.isEmpty && !kernels.contains(release) {
            Files.warn("the module is built for \(release), which is not among --kernel; livepatchd will reject it")
        }

        let manifestPath = "\(out)/\(name).json"
        do {
            try Directory.create(out)
            let moduleCopy = "\(out)/\(moduleFile)"
            if !Files.sameFile(module, moduleCopy) {
                try AtomicFile.write(moduleBytes, to: moduleCopy, mode: 0o644)
            }
            try Files.writeSigned(bytes, to: manifestPath, key: signingKey)
        } catch {
            throw Failure("cannot write the bundle into \(out): \(error)")
        }
        if output.json {
            try Files.printJSON(manifest)
        } else {
            print("wrote \(manifestPath), \(manifestPath).sig and \(out)/\(moduleFile)")
            print("patch \(name) version \(version) for \(manifest.kernels.joined(separator: ", ")), module sha256 \(manifest.sha256)")
            let expiry = manifest.notAfter.map { ", expires \($0)" } ?? ""
            print("sequence \(manifest.sequence), released \(manifest.released ?? manifest.created)\(expiry)")
        }
    }
}
