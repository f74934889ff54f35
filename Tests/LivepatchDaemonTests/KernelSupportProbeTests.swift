import Foundation
import LivepatchAPI
import LivepatchDaemon
import Testing

/// A fake /sys and /proc in a temporary directory.
private struct FakeRoots {
    let base: String
    var sys: String { base + "/sys" }
    var proc: String { base + "/proc" }

    init() throws {
        base = NSTemporaryDirectory() + "/kernel-support-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    func write(_ relativePath: String, _ content: String) throws {
        let url = URL(fileURLWithPath: base + "/" + relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }

    func makeDirectory(_ relativePath: String) throws {
        try FileManager.default.createDirectory(atPath: base + "/" + relativePath, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: base) }

    var probe: KernelSupportProbe { KernelSupportProbe(sysfsRoot: sys, procRoot: proc) }
}

@Suite struct KernelSupportProbeTests {
    @Test func readsAKernelThatSupportsLivePatching() throws {
        let roots = try FakeRoots()
        defer { roots.cleanUp() }
        try roots.makeDirectory("sys/kernel/livepatch/fix_cve")
        try roots.write("proc/sys/kernel/ftrace_enabled", "1\n")
        try roots.write("sys/kernel/security/lockdown", "[none] integrity confidentiality\n")
        try roots.write("sys/module/module/parameters/sig_enforce", "N\n")
        try roots.write("proc/sys/kernel/tainted", "12288\n")

        let support = roots.probe.probe(release: "6.1.0-56-amd64", simulated: false)
        #expect(
            support
                == KernelSupport(
                    release: "6.1.0-56-amd64", livepatch: true, ftrace: true, lockdown: "none",
                    signatureEnforced: false, taint: 12288, simulated: false))
        #expect(support.unsupportedReason == nil)
        #expect(support.taintFlags == "OE")
    }

    @Test func reportsWhatStopsPatching() throws {
        let roots = try FakeRoots()
        defer { roots.cleanUp() }
        try roots.write("proc/sys/kernel/ftrace_enabled", "0\n")
        try roots.write("sys/kernel/security/lockdown", "none integrity [confidentiality]\n")
        try roots.write("sys/module/module/parameters/sig_enforce", "Y\n")
        try roots.write("proc/sys/kernel/tainted", "0\n")

        let support = roots.probe.probe(release: "5.10.0", simulated: true)
        #expect(support.livepatch == false)
        #expect(support.ftrace == false)
        #expect(support.lockdown == "confidentiality")
        #expect(support.signatureEnforced == true)
        #expect(support.taint == 0)
        #expect(support.simulated)
        #expect(support.unsupportedReason?.contains("no livepatch support") == true)
    }

    @Test func livepatchMustBeADirectory() throws {
        let roots = try FakeRoots()
        defer { roots.cleanUp() }
        try roots.write("sys/kernel/livepatch", "")

        #expect(roots.probe.probe(release: "6.1", simulated: false).livepatch == false)
    }

    @Test func unreadableOrGarbledAttributesAreUnknown() throws {
        let roots = try FakeRoots()
        defer { roots.cleanUp() }
        try roots.makeDirectory("sys/kernel/livepatch")
        try roots.write("proc/sys/kernel/ftrace_enabled", "maybe\n")
        try roots.write("sys/kernel/security/lockdown", "none integrity\n")
        try roots.write("proc/sys/kernel/tainted", "lots\n")

        let support = roots.probe.probe(release: "6.1", simulated: false)
        #expect(support.livepatch)
        #expect(support.ftrace == nil)
        #expect(support.lockdown == nil)
        #expect(support.signatureEnforced == nil)
        #expect(support.taint == nil)
    }

    @Test func emptyRootsMeanNoSupportAndNothingKnown() throws {
        let roots = try FakeRoots()
        defer { roots.cleanUp() }

        #expect(
            roots.probe.probe(release: "6.1", simulated: false)
                == KernelSupport(
                    release: "6.1", livepatch: false, ftrace: nil, lockdown: nil, signatureEnforced: nil, taint: nil,
                    simulated: false))
    }
}
