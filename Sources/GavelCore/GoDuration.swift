/// Go's duration text (`time.ParseDuration`), as CrowdSec writes a decision's `duration`:
/// `4h`, `3h59m58.123456789s`, `90m`, `1.5h`, `300ms`, `0`.
///
/// Grammar: an optional sign, then one or more decimal numbers (digits with an optional
/// fraction) each followed by a unit `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`,
/// `h`; or the bare `0`. Parsed exactly in nanoseconds; refused (nil) when malformed or beyond
/// Go's range (±2⁶³−1 ns, about 292 years).
public enum GoDuration {
    /// The duration in nanoseconds, or nil when `text` is not a Go duration.
    public static func nanoseconds(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        if bytes.elementsEqual("0".utf8) { return 0 }
        guard !bytes.isEmpty else { return nil }
        var total: UInt64 = 0
        while !bytes.isEmpty {
            let whole = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
            bytes = bytes.dropFirst(whole.count)
            var fraction: ArraySlice<UInt8> = []
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                fraction = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
                bytes = bytes.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            let unitBytes = bytes.prefix { !($0 >= 0x30 && $0 <= 0x39) && $0 != UInt8(ascii: ".") }
            bytes = bytes.dropFirst(unitBytes.count)
            guard let unit = unitNanoseconds[String(decoding: unitBytes, as: UTF8.self)] else { return nil }
            // whole × unit, exactly, refusing overflow.
            var value: UInt64 = 0
            for d in whole {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.addingReportingOverflow(UInt64(d - 0x30))
                guard !o1, !o2 else { return nil }
                value = next
            }
            let (scaled, o3) = value.multipliedReportingOverflow(by: unit)
            guard !o3 else { return nil }
            // fraction × unit, truncated (as Go does), digit by digit.
            var part: UInt64 = 0
            var scale = unit
            for d in fraction {
                scale /= 10
                if scale == 0 { break }
                part += UInt64(d - 0x30) * scale
            }
            let (sum, o4) = scaled.addingReportingOverflow(part)
            let (next, o5) = total.addingReportingOverflow(sum)
            guard !o4, !o5, next <= UInt64(Int64.max) + (negative ? 1 : 0) else { return nil }
            total = next
        }
        if negative { return total == UInt64(Int64.max) + 1 ? Int64.min : -Int64(total) }
        return Int64(total)
    }

    /// The duration in whole seconds (rounded down), or nil when `text` is not a Go duration.
    public static func seconds(_ text: String) -> Int64? {
        nanoseconds(text).map { $0 / 1_000_000_000 }
    }

    private static let unitNanoseconds: [String: UInt64] = [
        "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}
