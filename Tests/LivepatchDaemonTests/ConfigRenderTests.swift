import Testing

@testable import LivepatchDaemon

@Suite("livepatchd --check-config output")
struct ConfigRenderTests {
    @Test func defaultsListEveryKeyInFileNotation() {
        let text = Configuration().renderTOML()
        for key in ConfigKey.allCases {
            #expect(text.contains("\n\(key.rawValue) = "), "missing \(key.rawValue)")
        }
        #expect(text.contains("\nmax_module_size = \"64MiB\"\n"))
        #expect(text.contains("\ntransition_timeout = \"1min\"\n"))
        #expect(text.contains("\nsettle_timeout = \"30s\"\n"))
        #expect(text.contains("\napply_delay = \"0\"\n"))
        #expect(text.contains("No config file was read"))
    }

    @Test func renderedConfigLoadsBackToTheSameValues() throws {
        let scratch = try ConfigScratch()
        var config = Configuration()
        config.backend = .simulated
        config.simulatedKernel = "6.1.0-26-amd64"
        config.patchDir = "/srv/with \"quotes\" and \\ backslash"
        config.policy.apply = .manual
        config.policy.applyDelay = .milliseconds(90_500)
        config.policy.maxModuleSize = 1536
        config.policy.requireSignature = false
        config.logLevel = .warning
        try scratch.write("livepatchd.toml", config.renderTOML())
        var loaded = try scratch.load()
        #expect(loaded.sources == [scratch.configPath])
        loaded.sources = []
        #expect(loaded == config)
    }
}
