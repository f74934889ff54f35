import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

/// Every bundle of `Tests/HostileCorpus` dropped into one running daemon: each must end
/// `rejected` with its own reason, nothing is loaded, the patch directory is left as it was,
/// and the daemon keeps answering and still applies a good bundle afterwards.
@Suite("Hostile corpus", .serialized, .timeLimit(.minutes(5)))
struct HostileCorpusTests {
    @Test("every corpus bundle is rejected with its expected reason, and nothing is loaded")
    func corpus() async throws {
        let cases = try HostileCorpus.cases()
        #expect(cases.count >= 60)
        #expect(Set(cases.map(\.id)).count == cases.count, "ids must be unique")
        let sandbox = try Sandbox(["max_module_size": "\"\(Sandbox.corpusModuleLimit / 1024)KiB\"", "settle_timeout": "\"3s\""])
        try await sandbox.start()
        let prober = LatencyProbe(socket: sandbox.socket, pause: .milliseconds(50))

        var notRun: [(CorpusCase, String)] = []
        var placed: [CorpusCase] = []
        for corpusCase in cases {
            switch try sandbox.place(corpusCase) {
            case .placed: placed.append(corpusCase)
            case .notRun(let why): notRun.append((corpusCase, why))
            }
        }
        let before = try PatchDirectorySnapshot(sandbox.incoming)

        // Wait until every placed case has settled in `rejected` (or has shown a wrong end state).
        let byName = try await eventually("every corpus bundle to be rejected", timeout: .seconds(120), every: .milliseconds(200)) {
            let patches = Dictionary(try sandbox.patches().map { ($0.name, $0) }) { first, _ in first }
            let settled = placed.allSatisfy { patches[$0.listedName].map { $0.state != .pending } ?? false }
            return (settled, patches)
        }
        var wrong: [String] = []
        for corpusCase in placed {
            let patch = byName[corpusCase.listedName]
            if patch?.state != .rejected || !HostileCorpus.matches(corpusCase, reason: patch?.reason) {
                wrong.append(
                    "\(corpusCase): want \(corpusCase.kind) containing \"\(corpusCase.substring)\", got \(patch?.state.rawValue ?? "nothing"): \(patch?.reason ?? "")")
            }
        }
        let unexpected = Set(byName.keys).subtracting(placed.map(\.listedName))
        let notRunNote = notRun.isEmpty ? "" : ", \(notRun.count) not run (need root for mknod)"
        print("hostile corpus: \(placed.count) bundles, \(placed.count - wrong.count) rejected with the expected reason\(notRunNote)")
        for (corpusCase, why) in notRun { print("hostile corpus: NOT RUN \(corpusCase): \(why)") }
        #expect(wrong.isEmpty, "\(wrong.count) cases wrong:\n\(wrong.joined(separator: "\n"))")
        #expect(unexpected.isEmpty, "patches nobody dropped: \(unexpected.sorted())")
        #expect(sandbox.loadLog.isEmpty, "nothing may be loaded, loaded: \(sandbox.loadLog)")
        #expect(getuid() != 0 || notRun.isEmpty, "as root every case runs: \(notRun.map(\.1))")

        // The daemon never modified, removed or followed anything in the patch directory, and
        // kept nothing of the rejected bundles in its store.
        #expect(try PatchDirectorySnapshot(sandbox.incoming) == before)
        let store = (try? FileManager.default.contentsOfDirectory(atPath: "\(sandbox.state)/store")) ?? []
        #expect(store.isEmpty, "store after rejections only: \(store)")

        // Still serving: the well-behaved client was answered all along, and a good bundle that
        // takes the name the duplicates fought over applies.
        try sandbox.drop(try sandbox.bundle("dupe", version: "3"))
        let good = try await sandbox.waitFor("dupe", .applied)
        #expect(good.version == "3")
        #expect(sandbox.loadLog == ["dupe"])
        for id in ["dupe_v1", "dupe_v2"] { #expect(try sandbox.patch(id)?.state == .rejected) }
        let show = try sandbox.lpclient("show", "json_nested_arrays", "--json")
        #expect(show.stdout.contains("\"rejected\""), "\(show)")

        let probe = await prober.stopped()
        print("hostile corpus: GetStatus answered \(probe.latencies.count) times during the run, \(probe.failures.count) failed, slowest \(Int(probe.latencies.percentile(1).milliseconds)) ms")
        #expect(probe.failures.isEmpty, "\(probe.failures.prefix(5))")
        #expect(probe.latencies.count > 10)
    }

    /// The module is changed in the patch directory after it verified, through a hard link from
    /// outside the directory (no inotify event, no rescan): applying must load the store's copy,
    /// the bytes that verified, never the file now in the patch directory.
    @Test("a module swapped after verification: the verified store copy is what gets loaded")
    func swappedAfterVerification() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        let bundle = try sandbox.bundle("toctou", functions: ["vmlinux:good_fn"])
        try sandbox.drop([bundle.signature, bundle.manifest])
        let outside = "\(sandbox.staging)/toctou-outside.ko"
        try FileManager.default.copyItem(atPath: bundle.module, toPath: outside)
        try FileManager.default.linkItem(atPath: outside, toPath: "\(sandbox.incoming)/toctou.ko")
        let staged = try await sandbox.waitFor("toctou", .staged)
        let verified = Array(try Data(contentsOf: URL(fileURLWithPath: bundle.module)))
        #expect(staged.sha256 == sha256Hex(verified))

        // Same name, same size class, other functions: the evil twin, written in place.
        let evil = try sandbox.module("evil.ko", name: "toctou", functions: ["vmlinux:evil_fn"])
        let evilBytes = try Data(contentsOf: URL(fileURLWithPath: evil))
        try evilBytes.write(to: URL(fileURLWithPath: outside))
        #expect(sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.incoming)/toctou.ko")))) != staged.sha256)

        let apply = try sandbox.lpclient("apply", "toctou")
        #expect(apply.status == 0, "\(apply)")
        let applied = try #require(try sandbox.patch("toctou"))
        #expect(applied.state == .applied)
        #expect(applied.functions == ["vmlinux:good_fn"], "the kernel must run the verified module")
        #expect(sandbox.loadLog == ["toctou"])
        let loaded = try String(contentsOfFile: "\(sandbox.kernel)/modules/toctou.json", encoding: .utf8)
        #expect(loaded.contains("good_fn") && !loaded.contains("evil_fn"), "\(loaded)")
        let stored = "\(sandbox.state)/store/\(staged.sha256)/toctou.ko"
        #expect(sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: stored)))) == staged.sha256)

        // Once the daemon looks again, the changed file no longer verifies; the loaded patch
        // stays what it is and the swapped bytes are never loaded.
        #expect(try sandbox.lpclient("rescan").status == 0)
        #expect(try sandbox.patch("toctou")?.state == .applied)
        #expect(sandbox.loadLog == ["toctou"])
    }
}

/// What the daemon could have changed in a directory: names (as raw bytes: some are not UTF-8),
/// kinds, inodes, sizes, times.
struct PatchDirectorySnapshot: Equatable {
    struct Entry: Equatable {
        var mode: UInt32, inode: UInt64, size: Int64, mtime: Int, mtimeNanoseconds: Int, ctime: Int, ctimeNanoseconds: Int
    }

    var entries: [[UInt8]: Entry] = [:]

    init(_ directory: String) throws {
        guard let stream = opendir(directory) else { throw SpecialFile.posixError("opendir", directory) }
        defer { closedir(stream) }
        let descriptor = dirfd(stream)
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == Array(".".utf8) || name == Array("..".utf8) { continue }
            var info = stat()
            let result = (name.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { buffer in
                buffer.baseAddress.map { fstatat(descriptor, $0, &info, AT_SYMLINK_NOFOLLOW) } ?? -1
            }
            guard result == 0 else { throw SpecialFile.posixError("fstatat", String(decoding: name, as: UTF8.self)) }
            entries[name] = Entry(
                mode: info.st_mode, inode: UInt64(info.st_ino), size: Int64(info.st_size), mtime: info.st_mtim.tv_sec,
                mtimeNanoseconds: info.st_mtim.tv_nsec, ctime: info.st_ctim.tv_sec, ctimeNanoseconds: info.st_ctim.tv_nsec)
        }
    }
}
