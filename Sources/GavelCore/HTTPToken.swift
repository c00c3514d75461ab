/// RFC 9110 §5.6.2 `token` syntax, shared by the receiver's parser, the config loader (header
/// names) and the dispatcher (methods and header names it will send).
public enum HTTPToken {
    /// True for a `tchar`: ALPHA, DIGIT or one of ``!#$%&'*+-.^_`|~``.
    @inline(__always)
    public static func isTchar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// True for a non-empty `token` (1*tchar).
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTchar)
    }
}
