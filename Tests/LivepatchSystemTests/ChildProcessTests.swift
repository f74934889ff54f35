import Foundation
import LivepatchSystem
import Testing

@Suite("ChildProcess: another program run to its end")
struct ChildProcessTests {
    @Test("the exit status comes back as it was given")
    func exitStatus() throws {
        #expect(try ChildProcess.run(["sh", "-c", "exit 3"]) == 3)
        #expect(try ChildProcess.run(["true"]) == 0)
    }

    @Test("a program ended by a signal gives 128 + the signal, as a shell says")
    func killedBySignal() throws {
        #expect(try ChildProcess.run(["sh", "-c", "kill -9 $$"]) == 128 + SIGKILL)
    }

    @Test("standard input is /dev/null; standard output goes where it is sent")
    func standardStreams() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let file = directory.file("output")
        let descriptor = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let script = #"echo "said"; readlink /proc/$$/fd/0; cat"#
        #expect(try ChildProcess.run(["sh", "-c", script], output: descriptor) == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "said\n/dev/null\n")
    }

    @Test("a program that is not in PATH is an error that names it, not an exit status")
    func missingProgram() {
        #expect(throws: SystemError("run", "livepatchd-no-such-program", errno: ENOENT)) {
            try ChildProcess.run(["livepatchd-no-such-program"])
        }
    }
}
