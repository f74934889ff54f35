import ArgumentParser
import LivepatchAPI

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Summary, kernel support and problems; exits 1 when degraded.",
        discussion: """
            Shows the daemon's one-line summary, what the kernel supports (release, livepatch, \
            ftrace, lockdown, module signature enforcement, taint), the backend and apply policy, \
            and every problem that makes the daemon degraded.

            Use it as a monitoring check: exit 0 means every desired patch is applied and nothing \
            failed, 1 degraded, 3 daemon unreachable, 77 permission denied.
            """)

    @OptionGroup var options: GlobalOptions

    func run() throws { try Self.run(options) }

    static func run(_ options: some ClientOptions) throws {
        let reply = try options.connect().status()
        if options.json {
            options.printJSON(text: reply.json)
        } else {
            print(StatusText.render(reply.status, style: options.style))
        }
        try finish(ExitStatus.of(reply.status))
    }
}
