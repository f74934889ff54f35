extension StringProtocol {
    /// Without the whitespace (blanks, tabs, newlines) at either end; FoundationEssentials, which
    /// the binaries link instead of Foundation, has no `trimmingCharacters(in:)`.
    public var trimmed: SubSequence {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = self[start...].lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
