import Foundation
import LivepatchAPI

/// One operation the crash trials cut short: how the world is set up before it, how it is
/// started, and which end states keep every promise made to the operator.
struct CrashScenario: Sendable {
    enum Trigger: Sendable {
        /// The bundle arrives in the patch directory (each file renamed into place, manifest last);
        /// it arrives whether the daemon is up or not.
        case drop(String)
        /// An `lpclient` request; acknowledged when lpclient exits 0. Not sent to a dead daemon.
        case lpclient([String])
        /// `systemctl reload`: SIGHUP, which reloads the configuration and rescans.
        case hangup
    }

    struct BundleSpec: Sendable {
        var name: String
        var functions: [String]
        var replace = false
    }

    /// "apply", "revert", "replace" or "rescan": the test that runs it.
    var group: String
    var name: String
    var settings: [String: String] = [:]
    var bundles: [BundleSpec]
    /// Brings a daemon to the state before the operation and stops it; the result is the snapshot.
    var prepare: @Sendable (CrashBench) async throws -> Void
    /// A change behind the daemon's back just before the trigger (a hand-loaded module...),
    /// made whether the daemon is up or not.
    var beforeTrigger: @Sendable (CrashBench) throws -> Void = { _ in }
    var trigger: Trigger
    /// An operator's retry of a request that got no answer (the daemon died under it).
    var retry: [String]?
    /// Allowed end states per patch (absent: the patch must not be listed), given whether the
    /// request was acknowledged (or retried successfully).
    var expected: @Sendable (_ acknowledged: Bool) -> [String: Set<PatchState>]
}

extension CrashScenario {
    static let applyDrop = CrashScenario(
        group: "apply", name: "apply (bundle dropped)",
        bundles: [.init(name: "base", functions: ["vmlinux:base_fn"]), .init(name: "fresh", functions: ["vmlinux:fresh_fn"])],
        prepare: { bench in
            try await bench.sandbox.start()
            try bench.drop("base")
            try await bench.sandbox.waitFor("base", .applied)
            bench.sandbox.stop()
        },
        trigger: .drop("fresh"),
        expected: { _ in ["base": [.applied], "fresh": [.applied]] })

    static let applyClient = CrashScenario(
        group: "apply", name: "apply (lpclient apply, manual policy)", settings: ["apply": "\"manual\""],
        bundles: [.init(name: "base", functions: ["vmlinux:shared"]), .init(name: "fresh", functions: ["vmlinux:shared"])],
        prepare: { bench in
            try await bench.sandbox.start()
            try bench.drop("base")
            try bench.drop("fresh")
            try await bench.sandbox.waitFor("base", .staged)
            try await bench.sandbox.waitFor("fresh", .staged)
            guard try bench.sandbox.lpclient("apply", "base").status == 0 else { throw TimeoutError(description: "apply base") }
            bench.sandbox.stop()
        },
        trigger: .lpclient(["apply", "fresh"]), retry: ["apply", "fresh"],
        expected: { acknowledged in ["base": [.applied], "fresh": acknowledged ? [.applied] : [.staged, .applied]] })

    /// The transition of `stuck` never ends: past transition_timeout it is rolled back (or, with
    /// `force`, forced), while `base` stays applied.
    static func timeout(force: Bool) -> CrashScenario {
        CrashScenario(
            group: "apply", name: force ? "apply (stuck transition forced)" : "apply (stuck transition rolled back)",
            settings: ["transition_timeout": "\"300ms\"", "force_after_timeout": force ? "true" : "false"],
            bundles: [.init(name: "base", functions: ["vmlinux:base_fn"]), .init(name: "stuck", functions: ["vmlinux:stuck_fn"])],
            prepare: { bench in
                try bench.sandbox.inject("stall", "stuck\n")
                try await bench.sandbox.start()
                try bench.drop("base")
                try await bench.sandbox.waitFor("base", .applied)
                bench.sandbox.stop()
            },
            trigger: .drop("stuck"),
            expected: { _ in ["base": [.applied], "stuck": force ? [.applied] : [.failed]] })
    }

    static let revert = CrashScenario(
        group: "revert", name: "revert (lpclient revert of the top of a stack)",
        bundles: [.init(name: "base", functions: ["vmlinux:shared"]), .init(name: "top", functions: ["vmlinux:shared"])],
        prepare: { bench in
            try await bench.sandbox.start()
            try bench.drop("base")
            try await bench.sandbox.waitFor("base", .applied)
            try bench.drop("top")
            try await bench.sandbox.waitFor("top", .applied)
            bench.sandbox.stop()
        },
        trigger: .lpclient(["revert", "top"]), retry: ["revert", "top"],
        expected: { acknowledged in ["base": [.applied], "top": acknowledged ? [.reverted] : [.applied, .reverted]] })

    static let replace = CrashScenario(
        group: "replace", name: "replace (cumulative bundle dropped over two patches and a foreign one)",
        bundles: [
            .init(name: "first", functions: ["vmlinux:one"]), .init(name: "second", functions: ["vmlinux:two"]),
            .init(name: "cumulative", functions: ["vmlinux:one", "vmlinux:two"], replace: true),
        ],
        prepare: { bench in
            try await bench.sandbox.start()
            try bench.drop("first")
            try await bench.sandbox.waitFor("first", .applied)
            try bench.drop("second")
            try await bench.sandbox.waitFor("second", .applied)
            try bench.kernel.insertForeign("by_hand", functions: ["vmlinux:three"])
            _ = try bench.sandbox.lpclient("rescan")
            try await bench.sandbox.waitFor("by_hand", .foreign)
            bench.sandbox.stop()
        },
        trigger: .drop("cumulative"),
        expected: { _ in ["cumulative": [.applied], "first": [.superseded], "second": [.superseded], "by_hand": [.superseded]] })

    /// The kernel changed behind the daemon: one of its patches is gone (removed by hand), a
    /// foreign one it knew left, a new foreign one arrived. A rescan finds all three.
    static func rescan(_ trigger: Trigger, how: String) -> CrashScenario {
        CrashScenario(
            group: "rescan", name: "rescan (\(how) after the kernel changed)",
            bundles: [.init(name: "keep", functions: ["vmlinux:keep_fn"]), .init(name: "victim", functions: ["vmlinux:victim_fn"])],
            prepare: { bench in
                try await bench.sandbox.start()
                try bench.drop("keep")
                try bench.drop("victim")
                try await bench.sandbox.waitFor("keep", .applied)
                try await bench.sandbox.waitFor("victim", .applied)
                try bench.kernel.insertForeign("leaving", functions: ["vmlinux:leaving_fn"])
                _ = try bench.sandbox.lpclient("rescan")
                try await bench.sandbox.waitFor("leaving", .foreign)
                bench.sandbox.stop()
            },
            beforeTrigger: { bench in
                try bench.kernel.remove("victim")
                try bench.kernel.remove("leaving")
                try bench.kernel.insertForeign("arriving", functions: ["vmlinux:arriving_fn"])
            },
            trigger: trigger,
            expected: { _ in ["keep": [.applied], "victim": [.applied], "arriving": [.foreign]] })
    }

    static let all: [CrashScenario] = [
        applyDrop, applyClient, timeout(force: false), timeout(force: true), revert, replace, rescan(.lpclient(["rescan"]), how: "lpclient rescan"),
        rescan(.hangup, how: "SIGHUP"),
    ]
}
