import ArgumentParser
import LivepatchAPI

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Everything about one patch.",
        discussion: """
            Includes the functions it redirects, the tasks blocking a running transition, and the \
            patches stacked on top of it (which must be reverted first).

            Example: lpclient show fix_cve_2024_1
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The patch name, as lpclient list shows it.")
    var name: String

    func run() throws {
        let reply: PatchReply = try options.connect().call(.getPatch, NameParameters(name: name))
        if options.json {
            try options.printJSON(reply)
        } else {
            print(PatchText.detail(reply.patch, style: options.style))
        }
    }
}
