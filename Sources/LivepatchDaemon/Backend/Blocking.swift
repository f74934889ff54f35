import NIOPosix

/// Runs blocking file work (hashing a 64 MiB module, `flock`, walking `/proc`) on NIO's thread
/// pool, so the cooperative pool that answers the control socket never waits on it.
enum Blocking {
    static func run<T: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        let result: Result<T, Failure>
        do {
            result = try await NIOThreadPool.singleton.runIfActive { () -> Result<T, Failure> in
                do throws(Failure) { return .success(try body()) } catch { return .failure(error) }
            }
        } catch {
            // The pool is shut down only when the process ends; run it here rather than lose it.
            result = Result { () throws(Failure) -> T in try body() }
        }
        return try result.get()
    }
}
