import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

/// A fleet without a server: every host gets the same bundles at about the same time and decides
/// alone, from its machine id, when to apply. Real daemons on the simulated kernel share one
/// patch directory; the rest of the fleet runs the daemon's own decision-maker (``PatchMachine``)
/// in this process, in virtual time, against a kernel modelled in a few lines.
///
/// `FLEET_VIRTUAL_HOSTS` (default 10 000) and `FLEET_REAL_HOSTS` (default 24) size it.
@Suite("Fleet simulation", .serialized)
struct FleetSimulationTests {
    static let waves = 4
    static let virtualHosts = Int(ProcessInfo.processInfo.environment["FLEET_VIRTUAL_HOSTS"] ?? "") ?? 10_000
    static let realHosts = Int(ProcessInfo.processInfo.environment["FLEET_REAL_HOSTS"] ?? "") ?? 24

    static func machineID(_ host: Int) -> String { String(format: "%08x%024x", host, host &* 2_654_435_761) }

    @Test("virtual fleet: a good patch reaches 100 % in waves × bake, a bad one halted before wave 1 touches only the canaries, a replay is refused everywhere")
    func virtualFleet() async throws {
        // Seconds of pure computation: on a thread of its own, not on the cooperative pool the
        // suites running beside it (in-process servers among them) need.
        let report = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: Self.simulateVirtualFleet()) }
        }
        for problem in report.problems { Issue.record(Comment(rawValue: problem)) }
        print(report.table)
    }

    /// The virtual fleet's run: what went wrong, and the table.
    static func simulateVirtualFleet() -> (problems: [String], table: String) {
        var problems: [String] = []
        func expect(_ condition: Bool, _ message: String) { if !condition { problems.append(message) } }
        let bake: Duration = .seconds(3600)
        let released = t0
        var fleet = (0..<Self.virtualHosts).map { FleetHost(machineID: Self.machineID($0), waves: Self.waves, bake: bake) }

        // The good patch: every host gets it at the release and follows the machine until the end.
        for index in fleet.indices { fleet[index].arrive(Self.descriptor("good_fix", sequence: 2, released: released), at: released) }
        var appliedAt = Array(repeating: [Date](), count: Self.waves)
        for index in fleet.indices {
            fleet[index].run(until: released + bake * Self.waves)
            let wave = fleet[index].machine.policy.rollout.wave(for: "good_fix")
            if let at = fleet[index].appliedAt["good_fix"] { appliedAt[wave].append(at) }
        }
        let good = (0..<Self.waves).map { appliedAt[$0].count }
        let hostsPerWave = (0..<Self.waves).map { wave in fleet.filter { $0.machine.policy.rollout.wave(for: "good_fix") == wave }.count }
        expect(good == hostsPerWave, "every host applied the good patch: \(good) of \(hostsPerWave)")
        for wave in 0..<Self.waves {
            let earliest = released + bake * wave
            expect(appliedAt[wave].allSatisfy { $0 >= earliest }, "wave \(wave) applied no earlier than its turn")
        }
        let lastApply = appliedAt.joined().max() ?? released
        expect(lastApply < released + bake * (Self.waves - 1) + .seconds(5), "100 % within (waves − 1) × bake, plus the apply itself")

        // The bad patch: the canaries (wave 0) fail to load it; the authors ship a halt before wave 1.
        let badReleased = released + bake * Self.waves
        let haltAt = badReleased + bake / 2
        for index in fleet.indices {
            fleet[index].kernelRefuses = ["bad_fix"]
            fleet[index].arrive(Self.descriptor("bad_fix", sequence: 1, released: badReleased), at: badReleased)
            fleet[index].run(until: haltAt)
            fleet[index].halt("bad_fix", at: haltAt)
            fleet[index].run(until: badReleased + bake * (Self.waves + 1))
        }
        let badWave = (0..<Self.waves).map { wave in fleet.filter { $0.machine.policy.rollout.wave(for: "bad_fix") == wave } }
        let touched = badWave.map { hosts in hosts.filter { $0.loadAttempts["bad_fix", default: 0] > 0 }.count }
        let badHosts = badWave.map(\.count)
        expect(touched[0] == badWave[0].count, "every canary tried it")
        expect(touched.dropFirst().allSatisfy { $0 == 0 }, "no host after the canaries touched it: \(touched)")
        expect(badWave.dropFirst().joined().allSatisfy { $0.machine.ledger["bad_fix"]?.state == .halted }, "the others are halted")

        // The replay: the older good_fix (sequence 1) arrives everywhere.
        for index in fleet.indices {
            fleet[index].arrive(Self.descriptor("good_fix", sequence: 1, released: released, digest: "good-v1"), at: badReleased + bake * 6)
        }
        let refused = fleet.filter { $0.machine.ledger["good_fix"]?.refusedArrival?.code == .downgrade }.count
        expect(refused == fleet.count, "refused on \(refused) of \(fleet.count) hosts")
        expect(
            fleet.allSatisfy { $0.machine.ledger["good_fix"]?.state == .applied && $0.loadAttempts["good_fix"] == 1 },
            "the applied version stays, loaded once")

        return (
            problems,
            FleetTable.render(
                "virtual fleet (PatchMachine, virtual time, bake \(Units.formatDuration(bake)))", hosts: hostsPerWave, good: good,
                badHosts: badHosts, badTouched: touched, replayRefused: refused,
                timeTo100: "\(Int(lastApply.timeIntervalSince(released)))s (floor \((Self.waves - 1) * Int(bake.seconds))s)")
        )
    }

    @Test("real daemons sharing one patch directory: waves, a halt before wave 1, a replay refused")
    func realFleet() async throws {
        let bake = 8.0
        let fleetRoot = FileManager.default.temporaryDirectory.appendingPathComponent("lp-fleet-\(UUID().uuidString.prefix(8))").path
        let shared = "\(fleetRoot)/incoming"
        let keys = "\(fleetRoot)/keys"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: fleetRoot) }
        #expect(try run(Binaries.path("lpbundle"), ["keygen", "--name", "fleet", "--out", keys]).status == 0)

        var hosts: [Sandbox] = []
        for host in 0..<Self.realHosts {
            let sandbox = try Sandbox([
                "patch_dir": "\"\(shared)\"", "keys_dir": "\"\(keys)\"", "rollout_waves": "\(Self.waves)",
                "rollout_bake": "\"\(Int(bake))s\"", "machine_id_file": "\"machine-id\"", "log_level": "\"info\"",
            ])
            try (Self.machineID(host) + "\n").write(toFile: "\(sandbox.root)/machine-id", atomically: true, encoding: .utf8)
            hosts.append(sandbox)
        }
        for sandbox in hosts { try await sandbox.start() }
        let author = hosts[0]
        func bundle(_ name: String, version: String, sequence: Int, released: Date) throws -> BundleFiles {
            let module = try author.module("\(name).ko", name: name, functions: ["vmlinux:\(name)_target"])
            let out = "\(author.staging)/\(name)-\(version)"
            let made = try run(
                Binaries.path("lpbundle"),
                ["create", module, "--key", "\(keys)/fleet.key", "--version", version, "--sequence", "\(sequence)",
                 "--released", Manifest.timestamp(released), "--out", out])
            guard made.status == 0 else { throw TimeoutError(description: "lpbundle create: \(made)") }
            return BundleFiles(name: name, manifest: "\(out)/\(name).json", signature: "\(out)/\(name).json.sig", module: "\(out)/\(name).ko")
        }
        func dropShared(_ files: [String]) throws {
            for file in files {
                let target = "\(shared)/\(URL(fileURLWithPath: file).lastPathComponent)"
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: file, toPath: target)
            }
        }
        func wave(_ sandbox: Sandbox, _ patch: String) -> Int {
            Rollout.hashedWave(machineID: Self.machineID(hosts.firstIndex { $0 === sandbox }!), patch: patch, waves: Self.waves)
        }

        // The good patch; its release time as signed (whole seconds).
        let released = try #require(RFC3339.date(from: Manifest.timestamp(Date())))
        try dropShared(try bundle("good_fix", version: "2", sequence: 2, released: released).all)
        var appliedAt: [Date] = []
        for sandbox in hosts {
            let patch = try await sandbox.waitFor("good_fix", .applied, timeout: .seconds(Double(Self.waves) * bake + 60))
            let at = try #require(RFC3339.date(from: patch.since))
            let turn = released.addingTimeInterval(Double(wave(sandbox, "good_fix")) * bake)
            #expect(at >= turn, "host in wave \(wave(sandbox, "good_fix")) applied at \(patch.since)")
            appliedAt.append(at)
        }
        let timeTo100 = (appliedAt.max() ?? released).timeIntervalSince(released)
        let hostsPerWave = (0..<Self.waves).map { w in hosts.filter { wave($0, "good_fix") == w }.count }

        // The bad patch: the canaries' kernels refuse it; once they report failed, the halt ships.
        let canaries = hosts.filter { wave($0, "bad_fix") == 0 }
        for sandbox in canaries { try sandbox.inject("fail-load", "bad_fix EINVAL\n") }
        let badReleased = try #require(RFC3339.date(from: Manifest.timestamp(Date())))
        try dropShared(try bundle("bad_fix", version: "1", sequence: 1, released: badReleased).all)
        for sandbox in canaries { try await sandbox.waitFor("bad_fix", .failed) }
        let halt = try run(Binaries.path("lpbundle"), ["halt", "bad_fix", "--reason", "failed on canaries", "--key", "\(keys)/fleet.key", "--out", "\(fleetRoot)/halt"])
        #expect(halt.status == 0, "\(halt)")
        try dropShared(["\(fleetRoot)/halt/bad_fix.halt", "\(fleetRoot)/halt/bad_fix.halt.sig"])
        let haltedBefore = Date().timeIntervalSince(badReleased)
        #expect(haltedBefore < bake, "the halt shipped \(haltedBefore)s after the release, before wave 1 (\(bake)s)")
        for sandbox in hosts where wave(sandbox, "bad_fix") > 0 { try await sandbox.waitFor("bad_fix", .halted) }
        let touched = (0..<Self.waves).map { w in
            hosts.filter { wave($0, "bad_fix") == w && ($0.loadLog.contains("bad_fix") || (try? $0.patch("bad_fix"))??.state == .failed) }.count
        }
        #expect(touched.dropFirst().allSatisfy { $0 == 0 }, "only canaries touched it: \(touched)")

        // The replay of an older good_fix.
        try dropShared(try bundle("good_fix", version: "1", sequence: 1, released: released).all)
        for sandbox in hosts {
            let patch = try await eventually("the replay to be refused") {
                let patch = try sandbox.patch("good_fix")
                return (patch?.reasonCode == "downgrade", patch)
            }
            #expect(patch?.state == .applied && patch?.version == "2")
        }
        print(
            FleetTable.render(
                "real daemons (simulated kernel, shared patch directory, bake \(Int(bake))s)", hosts: hostsPerWave,
                good: (0..<Self.waves).map { w in hosts.filter { wave($0, "good_fix") == w && $0.loadLog.contains("good_fix") }.count },
                badHosts: (0..<Self.waves).map { w in hosts.filter { wave($0, "bad_fix") == w }.count },
                badTouched: touched, replayRefused: hosts.count,
                timeTo100: String(format: "%.1fs (floor %ds)", timeTo100, (Self.waves - 1) * Int(bake))))
        for sandbox in hosts { sandbox.stop() }
    }

    static func descriptor(_ name: String, sequence: Int, released: Date, digest: String? = nil) -> PatchDescriptor {
        var descriptor = PatchDescriptor(
            name: name, version: "\(sequence)", sha256: String(repeating: "a", count: 64), manifestDigest: digest ?? "\(name)-\(sequence)",
            kernels: [FleetHost.release], release: FleetHost.release, storedModulePath: "/store/\(name).ko", manifestFile: "\(name).json")
        descriptor.sequence = sequence
        descriptor.released = released
        return descriptor
    }
}

/// One host of the virtual fleet: the daemon's machine, fed the way the engine feeds it, with a
/// kernel whose transitions end at once.
struct FleetHost {
    static let release = "6.1.0-fleet-amd64"
    var machine: PatchMachine
    var now = t0
    var patches: [String: KernelPatch] = [:]
    var pending: PatchMachine.Step?
    var wake: Date?
    var kernelRefuses: Set<String> = []
    var loadAttempts: [String: Int] = [:]
    var appliedAt: [String: Date] = [:]
    var manifests: Set<String> = []
    var halts: [VerifiedHalt] = []

    init(machineID: String, waves: Int, bake: Duration) {
        var policy = Policy()
        policy.rollout = Rollout(waves: waves, bake: bake, machineID: machineID)
        machine = PatchMachine(ledger: PatchLedger(), policy: policy, release: Self.release, unsupportedReason: nil, bootID: "boot")
    }

    mutating func arrive(_ descriptor: PatchDescriptor, at time: Date) {
        run(until: time)
        manifests.insert(descriptor.manifestFile ?? "")
        send(.scanned(.init(arrivals: [.verified(descriptor, note: nil)], manifestFiles: manifests, recheckAt: nil, halts: halts)))
        settle()
    }

    mutating func halt(_ name: String, at time: Date) {
        run(until: time)
        halts = [VerifiedHalt(file: "\(name).halt", halt: Halt(halt: name, revert: false, reason: "", created: "2026-12-03T00:00:00Z"), signedBy: "fleet")]
        send(.scanned(.init(arrivals: [], manifestFiles: manifests, recheckAt: nil, halts: halts)))
        settle()
    }

    /// Lets virtual time pass to `end`, waking the machine whenever it asked to be woken.
    mutating func run(until end: Date) {
        settle()
        while let wake, wake <= end {
            now = max(now, wake)
            self.wake = nil
            send(.tick)
            settle()
        }
        now = max(now, end)
    }

    private mutating func send(_ event: PatchMachine.Event) {
        for action in machine.handle(event, now: now) {
            switch action {
            case .perform(let step): pending = step
            case .wake(let date): wake = date
            case .changed(let change) where change.to == .applied: appliedAt[change.name] = now
            default: break
            }
        }
    }

    private mutating func settle() {
        var steps = 0
        while let step = pending, steps < 100 {
            pending = nil
            steps += 1
            send(.stepFinished(step, outcome(step)))
        }
    }

    private mutating func outcome(_ step: PatchMachine.Step) -> PatchMachine.StepOutcome {
        switch step {
        case .read, .watch: return .kernel(KernelView(patches: patches.values.sorted { $0.name < $1.name }, loadedModules: Set(patches.keys)))
        case .scan: return .scanned(.init(arrivals: [], manifestFiles: manifests, recheckAt: nil, halts: halts))
        case .load(let name, _):
            loadAttempts[name, default: 0] += 1
            if kernelRefuses.contains(name) { return .failed(.init("the kernel refused the module", errno: EINVAL)) }
            patches[name] = KernelPatch(name: name, enabled: true, inTransition: false, functions: [])
            return .done
        case .disable(let name):
            patches[name] = nil
            return .done
        case .force, .unload: return .done
        case .sampleBlockers: return .blockers([])
        }
    }
}

private let t0 = Date(timeIntervalSince1970: 1_800_000_000)

private func + (date: Date, duration: Duration) -> Date { date.addingTimeInterval(duration.seconds) }

enum FleetTable {
    static func render(
        _ title: String, hosts: [Int], good: [Int], badHosts: [Int], badTouched: [Int], replayRefused: Int, timeTo100: String
    ) -> String {
        // A host's wave depends on the patch too: each patch has its own hosts per wave.
        var lines = [
            "fleet simulation: \(title)",
            "  wave  good_fix: hosts  applied  bad_fix: hosts  touched",
        ]
        for wave in hosts.indices {
            lines.append(String(format: "  %4d  %14d  %7d  %13d  %7d", wave, hosts[wave], good[wave], badHosts[wave], badTouched[wave]))
        }
        lines.append(
            String(
                format: "  all   %14d  %7d  %13d  %7d", hosts.reduce(0, +), good.reduce(0, +), badHosts.reduce(0, +),
                badTouched.reduce(0, +)))
        lines.append("  good patch at 100 % after \(timeTo100); older bundle replayed: refused on \(replayRefused) of \(hosts.reduce(0, +)) hosts")
        return lines.joined(separator: "\n")
    }
}
