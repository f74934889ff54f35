import LivepatchCore
import Testing

@testable import LivepatchDaemon

@Suite("Config layers: defaults, file, drop-ins, flags")
struct ConfigLoaderTests {
    @Test func missingDefaultFileGivesTheDefaults() throws {
        let scratch = try ConfigScratch()
        let config = try scratch.load(explicit: false)
        #expect(config == Configuration())
        #expect(config.sources.isEmpty)
    }

    @Test func missingExplicitFileIsAnError() throws {
        let scratch = try ConfigScratch()
        let error = try #require(scratch.loadError(explicit: true))
        #expect(error.kind == .unreadable)
        #expect(error.description == "\(scratch.configPath): cannot read: file does not exist")
    }

    @Test func fileSetsEveryKey() throws {
        let scratch = try ConfigScratch()
        try scratch.write(
            "livepatchd.toml",
            """
            # a comment
            backend = "simulated"
            simulated_root = "/tmp/sim"
            simulated_kernel = "6.1.0-26-amd64"
            patch_dir = "/srv/patches"
            state_dir = "/srv/state"
            socket = "/tmp/lp.sock"
            keys_dir = "/srv/keys"
            apply = "manual"
            apply_delay = "2min 30s"
            transition_timeout = "90s"
            force_after_timeout = true
            require_signature = false
            max_module_size = "8MiB"
            settle_timeout = "500ms"
            log_level = "debug"
            """)
        let config = try scratch.load()
        #expect(config.backend == .simulated)
        #expect(config.simulatedRoot == "/tmp/sim")
        #expect(config.simulatedKernel == "6.1.0-26-amd64")
        #expect(config.patchDir == "/srv/patches")
        #expect(config.stateDir == "/srv/state")
        #expect(config.socket == "/tmp/lp.sock")
        #expect(config.keysDir == "/srv/keys")
        #expect(config.policy.apply == .manual)
        #expect(config.policy.applyDelay == .seconds(150))
        #expect(config.policy.transitionTimeout == .seconds(90))
        #expect(config.policy.forceAfterTimeout)
        #expect(!config.policy.requireSignature)
        #expect(config.policy.maxModuleSize == 8 << 20)
        #expect(config.policy.settleTimeout == .milliseconds(500))
        #expect(config.logLevel == .debug)
        #expect(config.sources == [scratch.configPath])
    }

    @Test func dropInsOverrideTheFileInNameOrder() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "apply_delay = \"1min\"\nlog_level = \"debug\"\n")
        let late = try scratch.write("livepatchd.toml.d/50-canary.toml", "apply_delay = \"3min\"\n")
        let early = try scratch.write("livepatchd.toml.d/10-site.toml", "apply_delay = \"2min\"\napply = \"manual\"\n")
        try scratch.write("livepatchd.toml.d/90-ignored.conf", "apply_delay = \"9min\"\n")
        try scratch.write("livepatchd.toml.d/.99-editor-backup.toml", "apply_delay = \"9min\"\n")
        let config = try scratch.load()
        #expect(config.policy.applyDelay == .seconds(180))
        #expect(config.policy.apply == .manual)
        #expect(config.logLevel == .debug)
        #expect(config.sources == [scratch.configPath, early, late])
    }

    @Test func dropInsApplyWhenTheDefaultFileIsMissing() throws {
        let scratch = try ConfigScratch()
        let dropIn = try scratch.write("livepatchd.toml.d/10-site.toml", "backend = \"simulated\"\n")
        let config = try scratch.load(explicit: false)
        #expect(config.backend == .simulated)
        #expect(config.sources == [dropIn])
    }

    @Test func flagsOverrideFileAndDropIns() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "apply = \"manual\"\nsocket = \"/tmp/file.sock\"\n")
        try scratch.write("livepatchd.toml.d/10-site.toml", "apply = \"manual\"\nlog_level = \"debug\"\n")
        let config = try scratch.load(ConfigOverrides(socket: "/tmp/flag.sock", logLevel: "error", apply: "auto"))
        #expect(config.policy.apply == .auto)
        #expect(config.socket == "/tmp/flag.sock")
        #expect(config.logLevel == .error)
    }

    @Test func relativePathsFollowTheFileThatSetsThem() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "patch_dir = \"incoming\"\nstate_dir = \"./state/../state\"\n")
        try scratch.write("livepatchd.toml.d/10-keys.toml", "keys_dir = \"keys\"\n")
        let config = try scratch.load()
        #expect(config.patchDir == scratch.root + "/incoming")
        #expect(config.stateDir == scratch.root + "/state")
        #expect(config.keysDir == scratch.root + "/livepatchd.toml.d/keys")
    }

    @Test func relativeFlagPathsFollowTheWorkingDirectory() throws {
        let scratch = try ConfigScratch()
        let config = try scratch.load(explicit: false, ConfigOverrides(patchDir: "incoming"))
        #expect(config.patchDir == ConfigFiles.currentDirectory() + "/incoming")
    }

    @Test func emptySimulatedKernelRestoresTheRunningRelease() throws {
        let scratch = try ConfigScratch()
        try scratch.write("livepatchd.toml", "simulated_kernel = \"5.10.0-1-amd64\"\n")
        try scratch.write("livepatchd.toml.d/10-undo.toml", "simulated_kernel = \"\"\n")
        #expect(try scratch.load().simulatedKernel == nil)
    }
}
