import Foundation
import LivepatchBundle
import LivepatchCore
import LivepatchSystem
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("SafeFile and AtomicFile")
struct SafeFileTests {
    @Test func readsARegularFileWithinTheLimit() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array("hello".utf8), to: "a")
        #expect(try SafeFile.read(path: fixture.path("a"), limit: 5) == Array("hello".utf8))
        #expect(throws: SafeFileError.tooLarge(path: fixture.path("a"), size: 5, limit: 4)) {
            try SafeFile.read(path: fixture.path("a"), limit: 4)
        }
    }

    @Test func refusesSymlinksEvenToRegularFiles() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array("secret".utf8), to: "target")
        try FileManager.default.createSymbolicLink(atPath: fixture.path("link"), withDestinationPath: fixture.path("target"))
        #expect(throws: SafeFileError.symlink(path: fixture.path("link"))) {
            try SafeFile.read(path: fixture.path("link"), limit: 100)
        }
    }

    @Test func refusesAFIFOWithoutBlocking() throws {
        let fixture = try BundleFixture()
        #expect(mkfifo(fixture.path("fifo"), 0o644) == 0)
        #expect(throws: SafeFileError.notRegular(path: fixture.path("fifo"), kind: .fifo)) {
            try SafeFile.read(path: fixture.path("fifo"), limit: 100)
        }
    }

    @Test func namesWhatIsMissing() throws {
        let fixture = try BundleFixture()
        #expect(throws: SafeFileError.missing(path: fixture.path("nope"))) {
            try SafeFile.read(path: fixture.path("nope"), limit: 100)
        }
        #expect(throws: SafeFileError.notRegular(path: fixture.patchDirectory, kind: .directory)) {
            try SafeFile.read(path: fixture.patchDirectory, limit: 100)
        }
    }

    @Test func atomicWriteReplacesWholeFilesWithTheGivenMode() throws {
        let fixture = try BundleFixture()
        let path = fixture.path("state.json")
        try AtomicFile.write(Array("one".utf8), to: path, mode: 0o600)
        try AtomicFile.write(Array("two".utf8), to: path, mode: 0o600)
        #expect(try fixture.bytes("state.json") == Array("two".utf8))
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        #expect(try Directory.entries(fixture.patchDirectory) == ["state.json"])
    }
}

@Suite("ModuleInfo via libkmod")
struct ModuleInfoTests {
    @Test func readsTheScriptsModules() throws {
        let fixture = try BundleFixture()
        let path = try fixture.makeModule("livepatch-x.ko", name: "livepatch_x", functions: "vmlinux:a,vmlinux:b")
        let info = try ModuleInfo.read(path: path)
        #expect(info.name == "livepatch_x")
        #expect(info.vermagic == "\(BundleFixture.release) SMP preempt mod_unload modversions ")
        #expect(info.vermagicRelease == BundleFixture.release)
        #expect(info.isLivepatch)
        #expect(info.value("license") == "GPL")
        #expect(info.simulatedFunctions == ["vmlinux:a", "vmlinux:b"])

        let plain = try ModuleInfo.read(path: try fixture.makeModule("plain.ko", name: "plain", livepatch: false))
        #expect(!plain.isLivepatch)
        #expect(plain.simulatedFunctions.isEmpty)
    }

    @Test func aNonELFFileIsAnError() throws {
        let fixture = try BundleFixture()
        try fixture.write(Array("not elf".utf8), to: "x.ko")
        #expect(throws: SystemError.self) { try ModuleInfo.read(path: fixture.path("x.ko")) }
    }
}

@Suite("KeyDirectory")
struct KeyDirectoryTests {
    @Test func loadsValidKeysAndReportsTheRest() throws {
        let fixture = try BundleFixture()
        let key = SigningKey()
        try fixture.write(Array(key.publicKey(name: "a").fileContents.utf8), to: "a.pub")
        try fixture.write(Array("garbage".utf8), to: "b.pub")
        try fixture.write(Array("ignored".utf8), to: "c.key")
        let loaded = try KeyDirectory.load(fixture.patchDirectory)
        #expect(loaded.keys.keys.map(\.name) == ["a"])
        #expect(loaded.problems.map(\.file) == [fixture.path("b.pub")])
    }
}

@Suite("SafeFile: special files")
struct SafeFileSpecialTests {
    /// A writer blocks in open(O_WRONLY) until someone opens the FIFO for reading: if SafeFile
    /// opened it at any point, the non-blocking writer below would find a reader.
    @Test func aFIFOIsNeverOpened() throws {
        let fixture = try BundleFixture()
        let fifo = fixture.path("fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(throws: SafeFileError.notRegular(path: fifo, kind: .fifo)) { try SafeFile(path: fifo) }
        let writer = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(writer == -1 && errno == ENXIO, "no reader may be left holding the FIFO open")
        if writer >= 0 { close(writer) }
    }

    @Test func aDeviceNodeIsRefused() throws {
        let fixture = try BundleFixture()
        let device = fixture.path("null")
        // makedev(1, 3), /dev/null; needs CAP_MKNOD.
        guard mknod(device, S_IFCHR | 0o644, dev_t(1 << 8 | 3)) == 0 else {
            print("SafeFile device test: not run (mknod: \(String(cString: strerror(errno))); needs root)")
            return
        }
        #expect(throws: SafeFileError.notRegular(path: device, kind: .characterDevice)) { try SafeFile(path: device) }
    }

    @Test func aDanglingSymlinkIsASymlinkNotMissing() throws {
        let fixture = try BundleFixture()
        try FileManager.default.createSymbolicLink(atPath: fixture.path("link"), withDestinationPath: "/nonexistent/target")
        #expect(throws: SafeFileError.symlink(path: fixture.path("link"))) { try SafeFile(path: fixture.path("link")) }
    }
}
