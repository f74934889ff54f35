import Foundation
import Testing

@testable import LivepatchDaemon

@Suite("config/livepatchd.toml, the shipped file")
struct ConfigShippedFileTests {
    static let shippedPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/livepatchd.toml").path

    @Test func loadsAsTheDefaults() throws {
        var config = try ConfigLoader.load(configPath: Self.shippedPath, defaultPath: "/nonexistent", overrides: ConfigOverrides())
        config.sources = []
        #expect(config == Configuration())
    }

    /// Every key is present, commented out, with a value equal to the default: uncommenting
    /// any line leaves the configuration as it was.
    @Test func commentedValuesAreTheDefaults() throws {
        let text = try String(contentsOfFile: Self.shippedPath, encoding: .utf8)
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("#") && $0.dropFirst().first?.isLetter == true ? $0.dropFirst() : $0 }
            .joined(separator: "\n")
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", uncommented)
        let lines = KeyLines(uncommented)
        for key in ConfigKey.allCases {
            #expect(lines.line(of: key.rawValue) != nil, "\(key.rawValue) is not in the shipped config")
        }
        var config = try scratch.load()
        config.sources = []
        #expect(config == Configuration())
    }
}

@Suite("docs/man/livepatchd.toml.5, the config file's man page")
struct ConfigManPageTests {
    static let pagePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/man/livepatchd.toml.5").path

    /// Each key has its own entry, `.BR key " (default " VALUE`, with the default the daemon uses.
    @Test func everyKeyWithItsDefault() throws {
        let page = try String(contentsOfFile: Self.pagePath, encoding: .utf8)
        let rendered = Configuration().renderTOML().split(separator: "\n")
        for key in ConfigKey.allCases {
            let entry = ".BR \(key.rawValue) \" (default \" "
            #expect(page.contains(entry), "\(key.rawValue) has no entry in livepatchd.toml(5)")
            // The running kernel's release stands in for simulated_kernel's empty default.
            guard key != .simulatedKernel, let line = rendered.first(where: { $0.hasPrefix("\(key.rawValue) = ") }) else { continue }
            var value = String(line.dropFirst("\(key.rawValue) = ".count))
            if let note = value.range(of: "  # ") { value = String(value[..<note.lowerBound]) }
            let shown = value.replacingOccurrences(of: "\"", with: #"\(dq"#)
            #expect(page.contains(entry + shown), "livepatchd.toml(5) does not give \(key.rawValue)'s default \(value)")
        }
    }
}
