import Foundation
import LivepatchSystem
import Testing

@Suite struct KernelReleaseTests {
    @Test func matchesUnameR() throws {
        let uname = try #require(executable("/usr/bin/uname", "/bin/uname"))
        let result = try run(uname, ["-r"])
        #expect(result.status == 0)
        #expect(runningKernelRelease() == result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
