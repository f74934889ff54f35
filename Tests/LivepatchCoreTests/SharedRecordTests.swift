import Foundation
import Testing

@testable import LivepatchCore

/// A record's descriptor lives in one shared allocation (``Shared``): copies must still behave
/// as values, and the state file must read and write the same JSON as before.
@Suite("Records with a shared descriptor")
struct SharedRecordTests {
    let record = PatchRecord(
        descriptor: PatchDescriptor(
            name: "a", version: "2", sha256: "ab", manifestDigest: "cd", kernels: ["6.1.0-sim-amd64"],
            release: "6.1.0-sim-amd64", storedModulePath: "/var/lib/livepatchd/store/ab/a.ko", functions: ["vmlinux:f"],
            manifestFile: "a.json"),
        state: .staged, since: Date(timeIntervalSince1970: 1_700_000_000))

    @Test("a change to a copy's descriptor leaves the original as it was")
    func copiesAreValues() {
        var copy = record
        copy.descriptor.functions = ["vmlinux:g"]
        #expect(record.descriptor.functions == ["vmlinux:f"])
        #expect(copy.descriptor.functions == ["vmlinux:g"])
        #expect(copy != record)
        copy.descriptor.functions = ["vmlinux:f"]
        #expect(copy == record)
    }

    @Test("the descriptor is written as a plain object, and a record written before reads back")
    func stateFileShape() throws {
        let encoded = try JSONEncoder().encode(record)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        let descriptor = try #require(object["descriptor"] as? [String: Any])
        #expect(descriptor["name"] as? String == "a")
        #expect(descriptor["storedModulePath"] as? String == "/var/lib/livepatchd/store/ab/a.ko")

        // As a state file of the previous version holds it (the descriptor's own keys, no wrapper).
        let saved = """
            {"descriptor":{"name":"a","version":"2","sha256":"ab","manifestDigest":"cd","kernels":["6.1.0-sim-amd64"],
            "fixes":[],"replace":false,"release":"6.1.0-sim-amd64","storedModulePath":"/var/lib/livepatchd/store/ab/a.ko",
            "functions":["vmlinux:f"],"manifestFile":"a.json"},"state":"staged","since":721692800,"desired":false,
            "revertRequested":false}
            """
        #expect(try JSONDecoder().decode(PatchRecord.self, from: Data(saved.utf8)) == record)
    }
}

@Suite("Kernel view lookups")
struct KernelViewTests {
    @Test("a patch is found by name, also after the list changed")
    func lookupFollowsChanges() {
        var view = KernelView(
            patches: [KernelPatch(name: "a", enabled: true, inTransition: false, functions: [])], loadedModules: ["a"])
        #expect(view.patch("a")?.enabled == true)
        #expect(view.patch("b") == nil)
        view.patches.insert(KernelPatch(name: "b", enabled: false, inTransition: true, functions: []), at: 0)
        view.patches[1].enabled = false
        #expect(view.patch("b")?.inTransition == true)
        #expect(view.patch("a")?.enabled == false)
        view.patches.removeAll { $0.name == "b" }
        #expect(view.patch("b") == nil)
        #expect(view.patch("a")?.name == "a")
    }
}
