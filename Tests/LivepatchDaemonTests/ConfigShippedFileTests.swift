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
