import Foundation
import GavelCore

/// Checks the receiver's shared secret on a request head.
///
/// Datadog does not sign webhooks; its admin can add a custom header or HTTP Basic auth.
/// The secret is accepted as `Authorization: Bearer SECRET` (RFC 6750 §2.1), as the password
/// of `Authorization: Basic` (RFC 7617, any user name), or in a custom header (default
/// `X-Gavel-Token`). Comparison is constant-time in the length of the presented value
/// (`constantTimeEqual`).
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
                // Only SP and HTAB are optional whitespace in a field value (RFC 9110 §5.6.3); a
                // Unicode space around the token is part of it, as in the other two places.
                let credentials = String(parts[1]).trimmingASCIIWhitespace()
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

    /// True when `provided` equals `secret`, compared without an early exit.
    ///
    /// The loop runs over every byte of `provided` (the attacker's input) whatever the secret,
    /// so its time depends only on the provided length, never on where a difference is or how
    /// long the secret is. A length mismatch always fails: the lengths are compared in full
    /// (not truncated to a byte: issue 16 found the secret followed by 256 NUL bytes accepted).
    /// - Parameters:
    ///   - provided: The credential from the request.
    ///   - secret: The configured shared secret.
    /// - Returns: true only when both have the same length and the same bytes.
    public static func constantTimeEqual(_ provided: [UInt8], _ secret: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: provided.count ^ secret.count)
        let n = secret.count
        for i in 0..<provided.count {
            // Compare with the secret cycled (or 0 for an empty one): the same work per byte.
            let y = n == 0 ? 0 : secret[i % n]
            difference |= UInt(provided[i] ^ y)
        }
        return difference == 0
    }
}
