import ArgumentParser
import LivepatchAPI

struct RescanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescan",
        abstract: "Make the daemon read its patch directory again (root only).",
        discussion: "The daemon watches the directory; rescan is for file systems that do not report changes.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let reply: PatchListReply = try options.connect().call(.rescan, NoParameters())
        if options.json {
            try options.printJSON(reply)
        } else {
            print(PatchText.table(reply.patches, style: options.style))
        }
    }
}
