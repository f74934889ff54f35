import Foundation
import LivepatchCore

/// One row of `Tests/HostileCorpus/expected.tsv`: a bad bundle and the rejection it must get.
struct CorpusCase: CustomStringConvertible {
    var id: String
    var category: String
    /// How the manifest is made: `file` (committed in `manifests/`), `template`, or a hostile kind.
    var manifest: String
    var signature: String
    var module: String
    /// `RejectionReason.code`.
    var kind: String
    /// Part of the reason the daemon must report.
    var substring: String

    var description: String { "\(id) [\(category)]" }

    /// Bytes a hostile manifest file name adds after the id (before `.json`).
    var fileNameSuffix: [UInt8]? {
        switch manifest {
        case "filename-escape": [0x1B] + Array("[31m".utf8)
        case "filename-newline": [0x0A]
        case "filename-not-utf8": [0xFF]
        default: nil
        }
    }

    /// The name the daemon lists it under: the file name without `.json`, escaped.
    var listedName: String {
        switch manifest {
        case "filename-escape": id + "\\u{1B}[31m"
        case "filename-newline": id + "\\n"
        case "filename-not-utf8": id + "\\u{FFFD}"
        default: id
        }
    }
    var moduleFile: String { "\(id).ko" }
    var manifestFile: String { "\(id).json" }
}

/// The committed corpus: the table a reviewer reads, and the hostile manifests it names.
enum HostileCorpus {
    static let directory = "\(Binaries.repository)/Tests/HostileCorpus"

    static func cases() throws -> [CorpusCase] {
        let text = try String(contentsOfFile: "\(directory)/expected.tsv", encoding: .utf8)
        var cases: [CorpusCase] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty && !line.hasPrefix("#") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 7 else {
                throw TimeoutError(description: "expected.tsv line \(number + 1): \(columns.count) columns, want 7")
            }
            cases.append(
                CorpusCase(
                    id: columns[0], category: columns[1], manifest: columns[2], signature: columns[3], module: columns[4],
                    kind: columns[5], substring: columns[6]))
        }
        return cases
    }

    /// A committed manifest with its placeholders filled in.
    static func manifestFile(_ id: String, sha256: String, release: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: "\(directory)/manifests/\(id).json", encoding: .utf8)
        return Array(text.replacingOccurrences(of: "@SHA256@", with: sha256).replacingOccurrences(of: "@RELEASE@", with: release).utf8)
    }

    /// How the daemon's reason text starts for each `RejectionReason.code`, taken from the type
    /// itself so the table's kinds cannot drift from the code.
    static let reasonPrefixes: [String: String] = {
        let samples: [RejectionReason] = [
            .malformedManifest(.notUTF8), .badSignature(.noTrustedKeys), .unsafeFile(file: "f", kind: .fifo),
            .unreadableFile(file: "f", detail: "d"), .moduleTooLarge(module: "m", size: 2, limit: 1),
            .hashMismatch(module: "m", expected: "a", actual: "b"), .notLivepatch(module: "m"),
            .nameMismatch(manifest: "a", module: "b"), .wrongKernel(release: "r", kernels: ["k"]),
            .unreadableModule(module: "m", detail: "d"), .storeFailed(detail: "d"), .settleTimeout(missing: ["m"]),
        ]
        var prefixes: [String: String] = [:]
        for sample in samples {
            prefixes[sample.code] = String(sample.description.prefix { $0 != ":" }) + ":"
        }
        return prefixes
    }()

    /// Whether `reason` is the one `corpusCase` expects.
    static func matches(_ corpusCase: CorpusCase, reason: String?) -> Bool {
        guard let reason, let prefix = reasonPrefixes[corpusCase.kind] else { return false }
        return reason.hasPrefix(prefix) && reason.contains(corpusCase.substring)
    }
}

/// Special files made with the syscalls, for the corpus and the file-safety tests.
enum SpecialFile {
    struct NotPermitted: Error, CustomStringConvertible {
        var description: String
    }

    static func fifo(_ path: String) throws {
        guard mkfifo(path, 0o644) == 0 else { throw posixError("mkfifo", path) }
    }

    /// Device nodes need CAP_MKNOD: without it this throws ``NotPermitted``, so the caller can
    /// record the case as not run rather than passed.
    static func device(_ path: String, block: Bool) throws {
        // 1:3 is /dev/null, 7:0 is loop0: harmless even if something did open them.
        let mode = (block ? S_IFBLK : S_IFCHR) | 0o644
        // makedev is a macro that does not import; (major << 8) | minor is its value for small numbers.
        guard mknod(path, mode, dev_t(block ? 7 << 8 : 1 << 8 | 3)) == 0 else {
            if errno == EPERM { throw NotPermitted(description: "mknod \(path): not permitted (needs root / CAP_MKNOD)") }
            throw posixError("mknod", path)
        }
    }

    /// A bound Unix socket's file, left behind after the socket is closed.
    static func socket(_ path: String) throws {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket", path) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw posixError("socket path too long", path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw posixError("bind", path) }
    }

    /// A file that says it is `size` bytes long without using the disk.
    static func sparse(_ path: String, size: Int64) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw posixError("open", path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw posixError("ftruncate", path) }
    }

    /// Writes a file whose path is raw bytes (not necessarily UTF-8).
    static func write(_ bytes: [UInt8], toRawPath path: [UInt8]) throws {
        let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) } ?? -1
        }
        let shown = String(decoding: path, as: UTF8.self)
        guard fd >= 0 else { throw posixError("open", shown) }
        defer { close(fd) }
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw posixError("write", shown) }
    }

    static func posixError(_ operation: String, _ path: String) -> TimeoutError {
        TimeoutError(description: "\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}
