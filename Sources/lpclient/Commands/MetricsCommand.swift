import ArgumentParser
import LivepatchAPI

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "The daemon's Prometheus metrics, in the text exposition format.",
        discussion: """
            Prints what livepatchd writes to its metrics_file for node_exporter's textfile \
            collector, whether or not that file is configured: each patch's state, patches per \
            state, kernel support, transition durations, rejections by reason, the last error, \
            and when the daemon started.

            Examples:
              lpclient metrics | grep '^livepatchd_patches{'
              curl -s http://127.0.0.1:9100/metrics | grep '^livepatchd_'   (node_exporter, metrics_file set)
            """)

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let reply: MetricsReply = try options.connect().call(.getMetrics, NoParameters())
        if options.json {
            try options.printJSON(reply)
        } else {
            print(reply.text, terminator: "")
        }
    }
}
