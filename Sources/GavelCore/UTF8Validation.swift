/// Strict UTF-8 checks shared by the JSON parser, form decoding and payload intake.
///
/// Well-formed sequences are those of the Unicode Standard, Table 3-7: no overlong forms,
/// no encoded surrogates (U+D800…U+DFFF), nothing above U+10FFFF.
enum UTF8Validation {
    /// The length (1…4) of the well-formed UTF-8 sequence starting at `bytes[index]`, or nil
    /// when the bytes there are not one (including a sequence cut off by the end of `bytes`).
    @inline(__always)
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let b0 = bytes[index]
        if b0 < 0x80 { return 1 }
        let remaining = bytes.count - index
        func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            k < remaining && bytes[index + k] >= low && bytes[index + k] <= high
        }
        switch b0 {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : nil
        case 0xE0:
            return continuation(1, 0xA0) && continuation(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(1) && continuation(2) ? 3 : nil
        case 0xED:
            return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : nil
        case 0xF0:
            return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF4:
            return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : nil
        default:
            return nil
        }
    }

    /// The byte offset of the first byte that does not start a well-formed UTF-8 sequence,
    /// or nil when all of `bytes` is well-formed UTF-8.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                if p[i] < 0x80 {
                    i += 1
                    continue
                }
                guard let n = sequenceLength(p, at: i) else { return i }
                i += n
            }
            return nil
        }
    }
}
