import ArgumentParser
import LivepatchAPI

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a staged patch now and follow it to applied or failed (root only).",
        discussion: """
            Prints each state change as it happens, including the tasks that keep the kernel's \
            transition from finishing, then waits for the end state. A transition that does not \
            finish within the daemon's transition_timeout is reverted and the patch is failed.
            Also re-applies a failed or reverted patch. Exits 0 when applied, 1 otherwise.

            Example: sudo lpclient apply fix_cve_2024_1
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The patch name, as lpclient list shows it.")
    var name: String

    func validate() throws { try PatchChange.validate(name) }

    func run() throws {
        try PatchChange.run(.apply, name: name, wanted: .applied, options: options)
    }
}
