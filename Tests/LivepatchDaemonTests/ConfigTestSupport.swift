import Foundation
@testable import LivepatchDaemon

/// A temporary directory for one test, with helpers to write config files into it.
final class ConfigScratch {
    let root: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/livepatchd-config-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        // Resolve symlinks in the temporary directory so paths compare as the loader reports them.
        root = URL(fileURLWithPath: String(cString: made)).resolvingSymlinksInPath().path
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var configPath: String { root + "/livepatchd.toml" }

    @discardableResult
    func write(_ relativePath: String, _ text: String) throws -> String {
        let path = root + "/" + relativePath
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Loads with the default path pointed into this directory, so the host's /etc never leaks in.
    func load(explicit: Bool = true, _ overrides: ConfigOverrides = ConfigOverrides()) throws(ConfigError) -> Configuration {
        try ConfigLoader.load(configPath: explicit ? configPath : nil, defaultPath: configPath, overrides: overrides)
    }

    /// The error loading gives, or nil when it loads.
    func loadError(explicit: Bool = true, _ overrides: ConfigOverrides = ConfigOverrides()) -> ConfigError? {
        do {
            _ = try load(explicit: explicit, overrides)
            return nil
        } catch {
            return error
        }
    }
}
