import Foundation

/// Checks the receiver's shared secret on a request head.
///
/// Datadog does not sign webhooks; its admin can add a custom header or HTTP Basic auth.
/// The secret is accepted as `Authorization: Bearer SECRET` (RFC 6750 §2.1), as the password
/// of `Authorization: Basic` (RFC 7617, any user name), or in a custom header (default
/// `X-Gavel-Token`). Comparison is constant-time in the length of the presented value.
public struct Authenticator: Sendable {
    /// The shared secret; nil disables authentication.
    public let secret: [UInt8]?
    /// The custom header's name (case-insensitive).
    public let headerName: String

    public init(secret: String?, headerName: String = "X-Gavel-Token") {
        self.secret = secret.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.headerName = headerName
    }

    /// True when no secret is set, or one of the accepted places carries it.
    public func allows(_ head: HTTPRequestHead) -> Bool {
        guard let secret else { return true }
        var ok = false
        if let value = head.field(headerName) {
            ok = Authenticator.constantTimeEqual(Array(value.utf8), secret) || ok
        }
        if let auth = head.field("Authorization") {
            let parts = auth.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2 {
                let scheme = parts[0].lowercased()
                let credentials = String(parts[1]).trimmingCharacters(in: .whitespaces)
                if scheme == "bearer" {
                    ok = Authenticator.constantTimeEqual(Array(credentials.utf8), secret) || ok
                } else if scheme == "basic", let decoded = Data(base64Encoded: credentials) {
                    let bytes = [UInt8](decoded)
                    if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
                        ok = Authenticator.constantTimeEqual(Array(bytes[(colon + 1)...]), secret) || ok
                    }
                }
            }
        }
        return ok
    }

    /// Compares two byte strings without an early exit: the time depends only on the lengths.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
