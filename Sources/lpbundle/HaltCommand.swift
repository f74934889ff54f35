import ArgumentParser
import FoundationEssentials
import LivepatchCore
import LivepatchSystem

struct HaltCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "halt",
        abstract: "Write a signed halt file that stops a patch's rollout.",
        discussion: """
            Writes DIR/TARGET.halt and DIR/TARGET.halt.sig. Ship them the way bundles travel
            (into every host's patch directory): hosts that have not applied the patch yet do
            not apply it (state halted); with --revert, hosts that applied it revert it too.
            TARGET is a patch name (every version of it) or a module's sha256 (that build only,
            e.g. a bad version while a fixed one is on its way). Removing the halt file from the
            patch directory resumes the rollout. Hosts honour a halt only when a key they trust
            signed it.
            """
    )

    @Argument(help: ArgumentHelp("A patch name, or the sha256 of one module build.", valueName: "name|sha256"))
    var target: String

    @Flag(help: "Also revert the patch where it is applied.")
    var revert = false

    @Option(help: "Why, for operators (shown with the halted patches).")
    var reason: String = ""

    @Option(help: "Private key file written by `lpbundle keygen` (NAME.key).")
    var key: String

    @Option(help: "Directory to write the halt file into (created if missing).")
    var out: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let halt = Halt(halt: target, revert: revert, reason: reason, created: Manifest.timestamp(Date()))
        let bytes = [UInt8](halt.encoded())
        do {
            _ = try Halt.parse(bytes)
        } catch {
            throw Failure("\(target): not a patch name ([a-z0-9_]{1,55}) nor a module sha256 (64 lowercase hex digits): \(error)")
        }
        let signingKey: SigningKey
        do {
            signingKey = try SigningKey(fileContents: try SafeFile.read(path: key, limit: 4096))
        } catch {
            throw Failure("\(key): \(error)")
        }
        let path = "\(out)/\(halt.fileName)"
        do {
            try Directory.create(out)
            try Files.writeSigned(bytes, to: path, key: signingKey)
        } catch {
            throw Failure("cannot write the halt file into \(out): \(error)")
        }
        if output.json {
            try Files.printJSON(halt)
        } else {
            print("wrote \(path) and \(path).sig")
            print("halts \(halt.targetsModuleHash ? "module sha256" : "patch") \(target)\(revert ? " and reverts it where applied" : "")")
        }
    }
}
