// The yardstick `lpclient status` is measured against (issue 12): the least a static Swift
// program does to print a JSON reply — FoundationEssentials' JSONEncoder, nothing else.
import FoundationEssentials

struct Reply: Encodable {
    var summary: String
    var degraded: Bool
    var counts: [String: Int]
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
let data = try encoder.encode(Reply(summary: "20 applied", degraded: false, counts: ["applied": 20]))
print(String(decoding: data, as: UTF8.self))
