#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LivepatchAPI

/// What `apply` and `revert` share: a `more` call whose replies are the patch after each state
/// change, the last one its end state.
enum PatchChange {
    static func run(_ method: LivepatchInterface.Method, name: String, wanted: PatchState, options: GlobalOptions) throws {
        let connection = try options.connect(timeout: nil)
        let style = options.style
        var last: Patch?
        try connection.stream(method, NameParameters(name: name)) { (reply: PatchReply) in
            if !options.json, let line = PatchText.progress(reply.patch, after: last, style: style) {
                print(line)
                // Progress is only useful as it happens, also through a pipe.
                fflush(nil)
            }
            last = reply.patch
        }
        guard let final = last else {
            throw ClientError.protocolError("\(method.rawValue) ended without a reply")
        }
        if options.json {
            try options.printJSON(PatchReply(patch: final))
        } else if final.state != wanted {
            print("\(final.name) is \(final.state.rawValue), not \(wanted.rawValue)" + (final.reason.map { ": \($0)" } ?? ""))
        }
        try finish(ExitStatus.of(finalPatch: final, wanted: wanted))
    }

    /// Module file names use dashes where patch names use underscores: catch the common slip early.
    static func validate(_ name: String) throws {
        if name.isEmpty { throw ValidationError("The patch name is empty.") }
        if name.contains("-") {
            let suggestion = name.replacing("-", with: "_")
            throw ValidationError(
                "Patch names use underscores, as the kernel does (the module file name may use dashes): did you mean \(suggestion)?")
        }
    }
}
