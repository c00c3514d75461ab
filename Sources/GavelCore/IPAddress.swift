#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address, parsed strictly and printed canonically.
///
/// Parsing follows `inet_pton(3)`: IPv4 only in four-part dotted decimal with no leading
/// zeros (`127.1`, `0177.0.0.1`, `0x7f.0.0.1` and `2130706433` are refused); IPv6 in the
/// RFC 4291 text forms, with no zone index (`fe80::1%eth0` is refused) and no surrounding
/// blanks. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is canonicalized to its IPv4
/// address. `description` is the canonical text: dotted decimal, or RFC 5952 for IPv6
/// (lowercase, longest run of two or more zero groups compressed).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    /// True for an IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// Creates an address from 4 or 16 network-order bytes; nil for any other length.
    /// A 16-byte IPv4-mapped address becomes the 4-byte IPv4 address.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self.bytes = bytes
        case 16:
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                self.bytes = Array(bytes[12..<16])
            } else {
                self.bytes = bytes
            }
        default: return nil
        }
    }

    /// Parses `text` strictly (see the type's summary). Returns nil when it is not an address.
    public init?(parsing text: String) {
        guard !text.isEmpty, text.utf8.count <= 45, !text.utf8.contains(0) else { return nil }
        if text.utf8.contains(UInt8(ascii: ":")) {
            var a = in6_addr()
            guard inet_pton(AF_INET6, text, &a) == 1 else { return nil }
            let raw = withUnsafeBytes(of: &a) { Array($0) }
            self.init(bytes: raw)
        } else {
            var a = in_addr()
            guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &a) { Array($0) })
        }
    }

    /// The canonical text form (dotted decimal, or RFC 5952 for IPv6).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if isIPv4 {
            var a = in_addr()
            withUnsafeMutableBytes(of: &a) { $0.copyBytes(from: bytes) }
            _ = inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
        } else {
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) { $0.copyBytes(from: bytes) }
            _ = inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
        }
        let end = buffer.firstIndex(of: 0) ?? buffer.endIndex
        return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.bytes.count != b.bytes.count ? a.bytes.count < b.bytes.count : a.bytes.lexicographicallyPrecedes(b.bytes)
    }
}

extension IPAddress {
    /// The IPv4 address this IPv6 address carries by a translation or tunnelling embedding
    /// whose IPv4 part is routed to, and which embedding it is:
    ///
    /// - `64:ff9b::/96`, the NAT64 well-known prefix (RFC 6052 §2.1): the last 32 bits, so
    ///   `64:ff9b::a00:1` carries `10.0.0.1`;
    /// - `2002::/16`, 6to4 (RFC 3056 §2): bits 16–47, so `2002:a00:1::1` carries `10.0.0.1`.
    ///
    /// nil for an IPv4 address and for every other IPv6 address. (An IPv4-mapped address,
    /// `::ffff:a.b.c.d`, is already an IPv4 `IPAddress`; IPv4-compatible `::a.b.c.d` and the
    /// local-use NAT64 prefix `64:ff9b:1::/48` are whole internal ranges in `Allowlist`.)
    public var embeddedIPv4: (address: IPAddress, embedding: String)? {
        guard bytes.count == 16 else { return nil }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
            return IPAddress(bytes: Array(bytes[12..<16])).map { ($0, "64:ff9b::/96 (NAT64, RFC 6052)") }
        }
        if bytes[0] == 0x20 && bytes[1] == 0x02 {
            return IPAddress(bytes: Array(bytes[2..<6])).map { ($0, "2002::/16 (6to4, RFC 3056)") }
        }
        return nil
    }
}

/// An address range in CIDR notation (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6),
/// such as `10.0.0.0/8` or `fc00::/7`. A bare address is a /32 or /128.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let network: IPAddress
    /// Prefix length: 0…32 for IPv4, 0…128 for IPv6.
    public let prefixLength: Int

    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address. Returns nil when malformed
    /// (including a prefix out of range or with leading zeros or signs).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parsing: String(parts[0])) else { return nil }
        let textIsV6 = parts[0].contains(":")
        let maxBits = textIsV6 ? 128 : 32
        var length = address.bytes.count * 8
        if parts.count == 2 {
            let p = parts[1]
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                !(p.count > 1 && p.first == "0"), let n = Int(p), n <= maxBits
            else { return nil }
            // A mapped IPv6 range (::ffff:a.b.c.d/n) becomes IPv4 with n - 96 bits.
            if address.isIPv4 && textIsV6 {
                guard n >= 96 else { return nil }
                length = n - 96
            } else {
                length = n
            }
        }
        self.init(network: address, prefixLength: length)
    }

    /// A range from an address and prefix length; the host bits of `network` are cleared.
    public init(network: IPAddress, prefixLength: Int) {
        let maxBits = network.bytes.count * 8
        let n = max(0, min(prefixLength, maxBits))
        var b = network.bytes
        for i in 0..<b.count {
            let bitsHere = max(0, min(8, n - i * 8))
            b[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
        self.network = IPAddress(bytes: b) ?? network
        self.prefixLength = n
    }

    /// True when `address` lies in this range (an IPv4 address never matches an IPv6 range).
    public func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        return CIDR(network: address, prefixLength: prefixLength).network == network
    }

    public var description: String { "\(network)/\(prefixLength)" }
}
