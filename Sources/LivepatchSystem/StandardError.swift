import Glibc

/// Text on standard error, written whole with write(2): no Foundation `FileHandle`, and no
/// `stderr` stream (shared mutable C state that Swift 6 refuses).
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written > 0 {
                bytes = bytes.dropFirst(written)
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return  // nowhere to say it
            }
        }
    }
}
