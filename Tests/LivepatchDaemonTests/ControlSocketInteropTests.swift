import Foundation
import LivepatchAPI
import LivepatchDaemon
import Testing
import Varlink

/// Python's `varlink` package (PyPI) is a second, independent implementation: if its CLI can
/// introspect and call the server, generic Varlink clients can.
@Suite("Control socket: python varlink CLI", .requires(.pythonVarlink))
struct ControlSocketInteropTests {
    /// Runs `python -m varlink.cli ARGS` with the interpreter scripts/test.sh provides: stdout
    /// and stderr. The CLI exits 0 even on Varlink errors (FACTS.md), so callers judge by the output.
    private func cli(_ arguments: String...) async throws -> (out: String, err: String) {
        let python = try #require(TestDependency.varlinkPython)
        return try await offloaded {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-m", "varlink.cli"] + arguments
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            let errData = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
        }
    }

    private func start() async throws -> (RunningServer, String) {
        let directory = try TestDirectory()
        let handler = TestHandler()
        let server = RunningServer.makeServer(
            path: directory.path + "/io.test", handler: handler,
            extraInterfaces: [(name: LivepatchInterface.name, description: LivepatchInterface.description)])
        let task = Task { try await server.run() }
        try await server.waitUntilBound()
        return (RunningServer(server: server, task: task, directory: directory, handler: handler), "unix:" + server.socketPath)
    }

    @Test("info lists the service and its interfaces")
    func info() async throws {
        let (running, address) = try await start()
        let (out, err) = try await cli("info", address)
        #expect(err.isEmpty, "\(err)")
        #expect(out.contains("Product: livepatchd-test"))
        #expect(out.contains("io.livepatchd") && out.contains("org.example.test") && out.contains("org.varlink.service"))
        try await running.stop()
    }

    @Test("help prints io.livepatchd's description, which Python's IDL parser accepts")
    func help() async throws {
        let (running, address) = try await start()
        let (out, err) = try await cli("help", address + "/io.livepatchd")
        #expect(err.isEmpty, "\(err)")
        #expect(out.contains("method GetStatus()"))
        #expect(out.contains("error NoSuchPatch"))
        try await running.stop()
    }

    @Test("call and call --more get the handler's replies; errors come out on stderr")
    func call() async throws {
        let (running, address) = try await start()
        let echo = try await cli("call", address + "/org.example.test.Echo", #"{"x": 1}"#)
        #expect(echo.err.isEmpty, "\(echo.err)")
        #expect(echo.out.contains(#""x": 1"#))

        let stream = try await cli("call", "--more", address + "/org.example.test.Count", #"{"n": 2}"#)
        #expect(stream.err.isEmpty, "\(stream.err)")
        #expect(stream.out.contains(#""i": 0"#) && stream.out.contains(#""i": 1"#) && stream.out.contains(#""done": true"#))

        let missing = try await cli("call", address + "/org.example.test.Nope", "{}")
        #expect(missing.err.contains("MethodNotFound"))
        try await running.stop()
    }
}
