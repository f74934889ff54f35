/// A value kept in one immutable allocation that copies share: copying what holds it costs one
/// retain, however many strings and arrays the value has. A change stores a new allocation.
///
/// For the large parts of records the machine copies on every event (with 1000 patches, copying
/// each record's descriptor field by field was most of a step). Encoded and compared as the value
/// itself: the state file does not change.
@propertyWrapper
public struct Shared<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    private final class Box: Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private var box: Box

    public init(wrappedValue: Value) { box = Box(wrappedValue) }

    public var wrappedValue: Value {
        get { box.value }
        set { box = Box(newValue) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.box === rhs.box || lhs.box.value == rhs.box.value
    }

    public init(from decoder: any Decoder) throws { box = Box(try Value(from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try box.value.encode(to: encoder) }
}
