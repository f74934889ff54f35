import Crypto
import FoundationEssentials

/// Canary waves without a server: every host derives, from its machine id and the patch name,
/// the wave it belongs to, and applies a patch no earlier than `released + wave × bake`.
///
/// The wave is the first 8 bytes of SHA-256("livepatchd-wave" NUL machine-id NUL patch-name),
/// read as a big-endian unsigned integer, modulo `waves`. It depends on nothing that changes
/// across restarts or reboots, spreads hosts evenly, and puts a host into different waves for
/// different patches, so no host is every patch's canary unless pinned (`rollout_wave = 0`).
public struct Rollout: Sendable, Equatable {
    /// `rollout_waves`: 1 is everyone at once.
    public var waves: Int = 1
    /// `rollout_bake`: how long each wave waits after the one before.
    public var bake: Duration = .zero
    /// `rollout_wave`: this host's wave for every patch, e.g. 0 on canary hosts.
    public var pinnedWave: Int?
    /// `/etc/machine-id`, trimmed; nil when it could not be read (then the host takes the last
    /// wave: it cannot say which one is its own, so it waits the longest).
    public var machineID: String?

    public init(waves: Int = 1, bake: Duration = .zero, pinnedWave: Int? = nil, machineID: String? = nil) {
        self.waves = waves
        self.bake = bake
        self.pinnedWave = pinnedWave
        self.machineID = machineID
    }

    /// This host's wave for `patch`, from 0 to `waves - 1`.
    public func wave(for patch: String) -> Int {
        guard waves > 1 else { return 0 }
        if let pinnedWave { return min(max(pinnedWave, 0), waves - 1) }
        guard let machineID else { return waves - 1 }
        return Self.hashedWave(machineID: machineID, patch: patch, waves: waves)
    }

    public static func hashedWave(machineID: String, patch: String, waves: Int) -> Int {
        var input = Array("livepatchd-wave".utf8)
        input.append(0)
        input += Array(machineID.utf8)
        input.append(0)
        input += Array(patch.utf8)
        let digest = Array(SHA256.hash(data: input))
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(value % UInt64(waves))
    }

    /// The earliest time a patch that arrived at `arrived` applies by itself: its wave's start
    /// (`released + wave × bake`, not before it arrived), plus `apply_delay`.
    public func applyAt(patch: String, released: Date?, arrived: Date, applyDelay: Duration) -> Date {
        let waveStart = (released ?? arrived) + bake * wave(for: patch)
        return max(arrived, waveStart) + applyDelay
    }
}
