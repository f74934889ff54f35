import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

/// `metrics_file` for node_exporter's textfile collector, read back through the real
/// prometheus-node-exporter over HTTP, and `lpclient metrics`.
@Suite("Prometheus metrics", .serialized, .timeLimit(.minutes(5)))
struct MetricsScenarioTests {
    @Test(
        "node_exporter serves livepatchd's series from metrics_file: patch states, counts, transitions, rejections",
        .requires(.nodeExporter))
    func nodeExporterServesTheMetrics() async throws {
        let textfiles = FileManager.default.temporaryDirectory.appendingPathComponent("lp-textfile-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: textfiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: textfiles) }
        let sandbox = try Sandbox(["metrics_file": "\"\(textfiles)/livepatchd.prom\""])
        try await sandbox.start()

        try sandbox.drop(try sandbox.bundle("metered_fix"))
        try await sandbox.waitFor("metered_fix", .applied)
        let forged = try sandbox.handmadeBundle(
            "forged_fix", module: try sandbox.module("forged.ko", name: "forged_fix", functions: ["vmlinux:f"]),
            signer: SigningKey())
        try sandbox.drop(forged)
        try await sandbox.waitFor("forged_fix", .rejected)

        let exporter = try NodeExporter(textfileDirectory: textfiles)
        let version = try sandbox.call(.getStatus, as: Status.self).daemonVersion
        let wanted = [
            #"livepatchd_patch_state{patch="metered_fix",version="1",state="applied"} 1"#,
            #"livepatchd_patch_state{patch="forged_fix",version="1",state="rejected"} 1"#,
            #"livepatchd_patches{state="applied"} 1"#,
            #"livepatchd_patches{state="rejected"} 1"#,
            #"livepatchd_degraded 1"#,
            #"livepatchd_rejections_total{reason="bad-signature"} 1"#,
            #"livepatchd_transition_duration_seconds_count{kind="apply",outcome="applied"} 1"#,
            #"livepatchd_build_info{version="\#(version)"} 1"#,
            #"livepatchd_kernel_livepatch_supported "#,
            #"livepatchd_kernel_info{"#,
            #"livepatchd_start_time_seconds "#,
            #"livepatchd_last_error_timestamp_seconds "#,
            // node_exporter read the file without complaint.
            #"node_textfile_scrape_error 0"#,
        ]
        // The file is rewritten after each change: wait until node_exporter serves the last one.
        let served = try await eventually("node_exporter to serve every livepatchd series", timeout: .seconds(60)) {
            let body = (try? exporter.scrape()) ?? ""
            let lines = Self.normalized(body)
            return (wanted.allSatisfy { series in lines.contains { $0.hasPrefix(series) } }, body)
        }
        let livepatchd = served.split(separator: "\n").filter { $0.hasPrefix("livepatchd_") }
        print("node_exporter on 127.0.0.1:\(exporter.port) serves \(livepatchd.count) livepatchd series, among them:")
        for line in livepatchd where wanted.contains(where: { Self.normalized(String(line)).first?.hasPrefix($0) == true }) {
            print("  \(line)")
        }

        // lpclient metrics prints what the daemon would write, file or no file.
        let printed = try sandbox.lpclient("metrics")
        #expect(printed.status == 0, "\(printed)")
        let printedLines = Self.normalized(printed.stdout)
        for series in wanted where series.hasPrefix("livepatchd_") {
            #expect(printedLines.contains { $0.hasPrefix(series) }, "lpclient metrics lacks \(series)")
        }

        // A reverted patch changes its series, it does not leave the old one behind.
        #expect(try sandbox.lpclient("revert", "metered_fix").status == 0)
        let afterRevert = try await eventually("the file to show metered_fix reverted", timeout: .seconds(30)) {
            let text = (try? String(contentsOfFile: "\(textfiles)/livepatchd.prom", encoding: .utf8)) ?? ""
            return (text.contains(#"patch="metered_fix",version="1",state="reverted""#), text)
        }
        #expect(!afterRevert.contains(#"patch="metered_fix",version="1",state="applied""#))
        #expect(afterRevert.contains(#"livepatchd_transition_duration_seconds_count{kind="revert",outcome="reverted"} 1"#))
        #expect(temporaryFiles(under: textfiles).isEmpty, "a temporary file was left in the textfile directory")
        let mode = try FileManager.default.attributesOfItem(atPath: "\(textfiles)/livepatchd.prom")[.posixPermissions] as? Int
        #expect(mode == 0o644, "node_exporter runs as its own user and must read the file")
    }

    @Test("without metrics_file no file is written; lpclient metrics still answers")
    func offByDefault() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let printed = try sandbox.lpclient("metrics")
        #expect(printed.status == 0, "\(printed)")
        #expect(printed.stdout.contains("# TYPE livepatchd_patches gauge"))
        #expect(!sandbox.log.contains("metrics file"))
        let json = try sandbox.lpclient("metrics", "--json")
        let reply = try LivepatchInterface.makeDecoder().decode(MetricsReply.self, from: Data(json.stdout.utf8))
        #expect(reply.text.contains("# TYPE livepatchd_patches gauge"))
    }

    /// Series lines with their labels in one order, so a test names them the way it reads best.
    /// node_exporter sorts labels by name; livepatchd writes them in the order it declares.
    static func normalized(_ body: String) -> [String] {
        body.split(separator: "\n").map { line -> String in
            guard !line.hasPrefix("#"), let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else {
                return String(line)
            }
            let labels = line[line.index(after: open)..<close].split(separator: ",").map(String.init)
            let order = ["patch", "version", "state", "kind", "outcome", "reason"]
            let sorted = labels.sorted { first, second in
                let a = order.firstIndex(of: String(first.prefix { $0 != "=" })) ?? order.count
                let b = order.firstIndex(of: String(second.prefix { $0 != "=" })) ?? order.count
                return a == b ? first < second : a < b
            }
            return line[..<open] + "{" + sorted.joined(separator: ",") + line[close...]
        }
    }
}
