import ArgumentParser
import LivepatchAPI

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every state change the daemon recorded, oldest first.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let reply: HistoryReply = try options.connect().call(.getHistory, NoParameters())
        if options.json {
            try options.printJSON(reply)
        } else {
            print(HistoryText.table(reply.entries, style: options.style))
        }
    }
}
