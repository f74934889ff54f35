import Foundation
import LivepatchSystem
import Testing

@Suite struct DirectoryWatcherTests {
    /// What can happen to a patch directory, each to be noticed on its own.
    enum Change: String, CaseIterable, Sendable {
        case create, append, renameInside, moveIn, moveOut, delete, changeMode

        /// Prepares `directory` (and `outside`) so that `perform` is the only change watched.
        func prepare(_ directory: TemporaryDirectory, outside: TemporaryDirectory) throws {
            let manager = FileManager.default
            switch self {
            case .create: break
            case .moveIn: #expect(manager.createFile(atPath: outside.file("new.ko"), contents: Data("ko".utf8)))
            default: #expect(manager.createFile(atPath: directory.file("p.json"), contents: Data("{}".utf8)))
            }
        }

        func perform(_ directory: TemporaryDirectory, outside: TemporaryDirectory) throws {
            let manager = FileManager.default
            switch self {
            case .create:
                #expect(manager.createFile(atPath: directory.file("p.json"), contents: Data("{}".utf8)))
            case .append:
                let handle = try #require(FileHandle(forWritingAtPath: directory.file("p.json")))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("\n".utf8))
                try handle.close()
            case .renameInside: try manager.moveItem(atPath: directory.file("p.json"), toPath: directory.file("q.json"))
            case .moveIn: try manager.moveItem(atPath: outside.file("new.ko"), toPath: directory.file("new.ko"))
            case .moveOut: try manager.moveItem(atPath: directory.file("p.json"), toPath: outside.file("p.json"))
            case .delete: try manager.removeItem(atPath: directory.file("p.json"))
            case .changeMode: #expect(chmod(directory.file("p.json"), 0o600) == 0)
            }
        }
    }

    @Test(arguments: Change.allCases)
    func reportsChange(_ change: Change) async throws {
        let directory = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        defer {
            directory.cleanUp()
            outside.cleanUp()
        }
        try change.prepare(directory, outside: outside)
        let watcher = try DirectoryWatcher(path: directory.path)
        defer { watcher.stop() }

        try change.perform(directory, outside: outside)
        let element: Void? = try await nextElement(of: watcher.changes, "a change after \(change)")
        #expect(element != nil, "the stream ended instead of reporting \(change)")
    }

    @Test func keepsReportingAfterTheFirstBatch() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let watcher = try DirectoryWatcher(path: directory.path)
        defer { watcher.stop() }

        for index in 0..<3 {
            #expect(FileManager.default.createFile(atPath: directory.file("f\(index)"), contents: Data()))
            let element: Void? = try await nextElement(of: watcher.changes, "change \(index)")
            #expect(element != nil)
        }
    }

    @Test func stopEndsTheStream() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let watcher = try DirectoryWatcher(path: directory.path)

        watcher.stop()
        watcher.stop()
        let element: Void? = try await nextElement(of: watcher.changes, "the end of the stream")
        #expect(element == nil)
    }

    @Test func releasingTheWatcherEndsTheStream() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        var watcher: DirectoryWatcher? = try DirectoryWatcher(path: directory.path)
        let changes = try #require(watcher?.changes)

        watcher = nil
        let element: Void? = try await nextElement(of: changes, "the end of the stream")
        #expect(element == nil)
    }

    @Test func removingTheDirectoryEndsTheStream() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let watcher = try DirectoryWatcher(path: directory.path)
        defer { watcher.stop() }

        try FileManager.default.removeItem(atPath: directory.path)
        var elements = 0
        while try await nextElement(of: watcher.changes, "the end of the stream") != nil {
            elements += 1
            #expect(elements < 100, "the stream should end once the directory is gone")
            if elements >= 100 { break }
        }
        #expect(elements >= 1, "the deletion itself is a change worth a rescan")
    }

    @Test func refusesWhatIsNotADirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        #expect(FileManager.default.createFile(atPath: directory.file("plain"), contents: Data()))

        #expect(throws: SystemError("inotify_add_watch", directory.file("missing"), errno: ENOENT)) {
            try DirectoryWatcher(path: directory.file("missing"))
        }
        #expect(throws: SystemError("inotify_add_watch", directory.file("plain"), errno: ENOTDIR)) {
            try DirectoryWatcher(path: directory.file("plain"))
        }
    }
}
