#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LivepatchAPI

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print every state change as it happens, until interrupted.",
        discussion: """
            One line per change: time, patch, version, state and reason. With --json, one JSON \
            object per line (the Subscribe reply: entry and patch), for jq or a log shipper.
            Ends when interrupted (Ctrl-C) or when the daemon stops.
            """)

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let style = options.style
        try options.connect(timeout: nil).stream(.subscribe, NoParameters()) { (reply: SubscribeReply) in
            if options.json {
                try options.printJSON(reply)
            } else {
                print(HistoryText.event(reply.entry, style: style))
            }
            fflush(nil)
        }
    }
}
