import FoundationEssentials
import Glibc

/// One line of the kernel's log, as journald stored it from `/dev/kmsg` (or the simulated kernel
/// logged it).
public struct KernelLogLine: Sendable, Equatable {
    public var text: String
    /// The syslog priority the kernel gave it (3 `pr_err`, 4 `pr_warn`, 5 `pr_notice`, 6 `pr_info`);
    /// nil when unknown.
    public var priority: Int?

    public init(_ text: String, priority: Int? = nil) {
        self.text = text
        self.priority = priority
    }
}

/// The kernel's own words about a refused load, enable or disable: from everything it logged
/// while the step ran, the lines that say why it refused that patch.
///
/// The kernel answers a refused livepatch with a bare errno (EINVAL for an incompatible
/// `klp_state`, for an unknown symbol, for a bad `sympos` alike) and says why only in its log.
/// A line concerns the patch when it names the module as a whole word (`lp_x: Unknown symbol
/// foo`, `Livepatch patch (lp_x) is not compatible ...`, `failed to enable patch 'lp_x'`) at
/// warning level or above, or when it is one of the refusals the kernel logs without a module
/// name (`livepatch: symbol 'foo' not found in symbol table`, `Loading of unsigned module is
/// rejected`, `Lockdown: ...: unsigned module loading is restricted`). The daemon takes one kernel
/// step at a time, so such a nameless refusal in the step's window is the step's own (a module
/// someone else loads at the very same moment could mix in; its lines name it, these do not).
/// Taint notices name the module but never say why a load failed: they are left out.
public enum KernelMessages {
    /// A storm of kernel lines (a module with hundreds of unknown symbols) is not copied whole into
    /// a reason; the journal keeps them all.
    public static let lineLimit = 6
    public static let lengthLimit = 240

    /// The lines of `lines` that concern `module`, in order, at most ``lineLimit``, each at most
    /// ``lengthLimit`` characters.
    public static func about(_ module: String, in lines: [KernelLogLine]) -> [String] {
        lines.filter { concerns($0, module) }.prefix(lineLimit).map { bounded($0.text) }
    }

    static func concerns(_ line: KernelLogLine, _ module: String) -> Bool {
        let text = line.text
        guard !text.contains("taint") else { return false }
        let severe = (line.priority ?? 0) <= 4
        if severe, names(text, module) { return true }
        if severe, text.hasPrefix("livepatch: "), namelessLivepatchRefusals.contains(where: text.contains) { return true }
        if text.hasPrefix("Loading of "), text.hasSuffix(" is rejected") { return true }
        if text.hasPrefix("Lockdown: "), text.contains("module loading is restricted") { return true }
        return false
    }

    /// What kernel/livepatch/core.c (6.1) logs when it refuses a patch without naming it; other
    /// nameless livepatch lines may be about another patch (`Livepatch patch (other) is not
    /// compatible`).
    static let namelessLivepatchRefusals = [
        "not found in symbol table", "unresolvable ambiguity for symbol", "symbol position",
        "is not marked as a livepatch symbol", "has an incorrectly formatted name", "invalid access to vmlinux symbol",
        "kallsyms size lookup failed", "pre-patch callback failed", "failed to patch object",
        "support for the livepatch consistency model", "transition may never complete",
    ]

    /// `module` as a whole word: `test_klp_state` is not named by `'test_klp_state2'`.
    static func names(_ text: String, _ module: String) -> Bool {
        guard !module.isEmpty else { return false }
        let characters = Array(text.utf8), name = Array(module.utf8)
        guard characters.count >= name.count else { return false }
        func isWordByte(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a)
        }
        for start in 0...(characters.count - name.count) where characters[start..<start + name.count].elementsEqual(name) {
            let before = start == 0 || !isWordByte(characters[start - 1])
            let end = start + name.count
            let after = end == characters.count || !isWordByte(characters[end])
            if before && after { return true }
        }
        return false
    }

    private static func bounded(_ text: String) -> String {
        let trimmed = String(text.trimmed)
        return trimmed.count <= lengthLimit ? trimmed : String(trimmed.prefix(lengthLimit - 1)) + "…"
    }

    /// What usually lies behind the kernel's words, for the cases an operator meets most.
    public static func hint(for messages: [String], errno: Int32?) -> String? {
        func said(_ words: String) -> Bool { messages.contains { $0.contains(words) } }
        if said("is not compatible with the already installed livepatches") {
            return "a newer cumulative patch holds a newer state version"
        }
        if said("Unknown symbol") || said("not found in symbol table") || said("unresolvable ambiguity for symbol")
            || said("symbol position")
        {
            return "built for another kernel build"
        }
        if said("Loading of unsigned module is rejected") || said("module loading is restricted") || errno == EKEYREJECTED {
            return "sign the module with a key the kernel trusts"
        }
        if said("pre-patch callback failed") { return "the patch's own pre_patch callback refused it" }
        return nil
    }
}
