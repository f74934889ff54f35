import ArgumentParser
import LivepatchAPI

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every state change the daemon recorded, oldest first.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        if options.json {
            options.printJSON(text: try options.connect().callForJSON(.getHistory))
            return
        }
        let reply: HistoryReply = try options.connect().call(.getHistory, NoParameters())
        print(HistoryText.table(reply.entries, style: options.style))
    }
}
