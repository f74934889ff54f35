import ArgumentParser
import LivepatchAPI

struct RevertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Revert an applied patch and follow it to reverted (root only).",
        discussion: """
            Refused while other patches are stacked on top of it (they patch the same functions \
            and were applied later): revert from the top, or ship a replace patch. \
            lpclient show NAME lists what is stacked on top. Exits 0 when reverted, 1 otherwise.

            Example: sudo lpclient revert fix_cve_2024_1
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The patch name, as lpclient list shows it.")
    var name: String

    func validate() throws { try PatchChange.validate(name) }

    func run() throws {
        try PatchChange.run(.revert, name: name, wanted: .reverted, options: options)
    }
}
