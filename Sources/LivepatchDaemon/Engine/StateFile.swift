import Foundation
import LivepatchCore
import LivepatchSystem

/// The ledger on disk: `<state_dir>/state.json`, replaced atomically (write, fsync, rename),
/// so a crash at any point leaves either the old or the new state, never a torn one.
public struct StateFile: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    public let path: String
    private static let format = 1

    public init(stateDirectory: String) {
        path = "\(stateDirectory)/state.json"
    }

    private struct Contents: Codable {
        var format: Int
        var ledger: PatchLedger
    }

    /// A missing file is a first start; an unreadable one stops the daemon rather than
    /// forget what it applied.
    public func load() throws(Error) -> PatchLedger {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw Error(description: "\(path) exists but cannot be read") }
            return PatchLedger()
        }
        do {
            let contents = try JSONDecoder.stateDecoder.decode(Contents.self, from: data)
            guard contents.format == Self.format else {
                throw Error(description: "\(path) has format \(contents.format); this livepatchd reads format \(Self.format)")
            }
            return contents.ledger
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "\(path) is not a valid state file (\(error)); move it aside to start afresh, the kernel's view will be reconciled")
        }
    }

    public func save(_ ledger: PatchLedger) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601WithFractionalSeconds
        let data = try encoder.encode(Contents(format: Self.format, ledger: ledger))
        try AtomicFile.write(
            data, to: path, mode: 0o600,
            failpoints: CommitFailpoints(beforeRename: .stateWriteBeforeRename, afterRename: .stateWriteAfterRename))
    }
}

extension JSONDecoder {
    static var stateDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601WithFractionalSeconds
        return decoder
    }
}

extension JSONEncoder.DateEncodingStrategy {
    static let iso8601WithFractionalSeconds = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date))
    }
}

extension JSONDecoder.DateDecodingStrategy {
    static let iso8601WithFractionalSeconds = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        return date
    }
}
