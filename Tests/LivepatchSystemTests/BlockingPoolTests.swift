import Foundation
import LivepatchSystem
import Synchronization
import Testing

@Suite("BlockingPool: blocking work off the cooperative pool")
struct BlockingPoolTests {
    struct Refused: Error, Equatable {}

    @Test("a job's value comes back, and its error is thrown as it was")
    func valueAndError() async throws {
        let pool = BlockingPool(threads: 1, name: "test-value")
        #expect(await pool.run { 6 * 7 } == 42)
        await #expect(throws: Refused()) {
            try await pool.run { () throws(Refused) -> Int in throw Refused() }
        }
    }

    @Test("a job blocked in a system call does not hold up the next one", .timeLimit(.minutes(1)))
    func blockedJobDoesNotHoldUpOthers() async throws {
        let pool = BlockingPool(threads: 2, name: "test-blocked")
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        defer { close(readEnd) }
        // The first job waits for a byte that only the second job writes, and the second is
        // submitted once the first runs: with one thread for both, the first times out.
        let firstRuns = Atomic<Bool>(false)
        async let reader = pool.run { () -> Bool in
            firstRuns.store(true, ordering: .releasing)
            var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            return poll(&descriptor, 1, 30_000) == 1
        }
        while !firstRuns.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        let written = await pool.run { () -> Int in
            defer { close(writeEnd) }
            return write(writeEnd, "x", 1)
        }
        #expect(written == 1)
        #expect(await reader, "the first job did not see the second job's byte within 30 s")
    }

    @Test("every job of many tasks submitting at once is run, none lost", .timeLimit(.minutes(1)))
    func manyConcurrentJobs() async {
        let pool = BlockingPool(threads: 2, name: "test-many")
        let sums = await withTaskGroup(of: Int.self) { group in
            for task in 0..<16 {
                group.addTask {
                    var sum = 0
                    for job in 0..<500 { sum += await pool.run { task * 1000 + job } }
                    return sum
                }
            }
            return await group.reduce(0, +)
        }
        let expected = (0..<16).reduce(0) { sum, task in sum + (0..<500).reduce(0) { $0 + task * 1000 + $1 } }
        #expect(sums == expected)
    }
}
