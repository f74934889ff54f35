import ArgumentParser
import LivepatchAPI

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Every patch the daemon knows, with its state.",
        discussion: """
            One line per patch: name, version, state, since when, and the reason when the state \
            has one (rejected, failed, pending, held back), else the issues it fixes.
            Patches loaded by someone else are listed as foreign.
            """)

    @OptionGroup var options: GlobalOptions

    func run() throws {
        if options.json {
            options.printJSON(text: try options.connect().callForJSON(.listPatches))
            return
        }
        let reply: PatchListReply = try options.connect().call(.listPatches, NoParameters())
        print(PatchText.table(reply.patches, style: options.style))
    }
}
