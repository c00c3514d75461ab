import Foundation
import Testing

@testable import GavelReceiver

/// The shared-secret check (hardening checklist R1; issue 16 item 3).
@Suite struct AuthenticatorTests {
    static let secret = Array("s3cret-0123456789abcdef".utf8)

    static func head(authorization: String? = nil, token: [UInt8]? = nil) -> HTTPRequestHead {
        var fields = [HTTPField(name: "Host", value: "x")]
        if let authorization { fields.append(HTTPField(name: "Authorization", value: authorization)) }
        if let token { fields.append(HTTPField(name: "X-Gavel-Token", value: String(decoding: token, as: UTF8.self))) }
        return HTTPRequestHead(method: "POST", target: "/webhook", path: "/webhook", query: nil, versionMinor: 1, fields: fields, framing: .none)
    }

    /// The secret followed by NUL bytes is refused whatever their count: the length difference
    /// used to be folded into one byte, so 256 (or 512, …) NULs compared equal.
    @Test(arguments: [1, 255, 256, 257, 512, 65_536])
    func secretFollowedByNULBytesIsRefused(_ padding: Int) {
        let padded = Self.secret + [UInt8](repeating: 0, count: padding)
        #expect(!Authenticator.constantTimeEqual(padded, Self.secret))
        #expect(!Authenticator.constantTimeEqual(Self.secret, padded))
        let basic = Data((Array("datadog:".utf8) + padded)).base64EncodedString()
        let auth = Authenticator(secret: String(decoding: Self.secret, as: UTF8.self))
        #expect(!auth.allows(Self.head(authorization: "Basic \(basic)")))
    }

    @Test func equalOnlyForTheSameBytesAndLength() {
        #expect(Authenticator.constantTimeEqual(Self.secret, Self.secret))
        #expect(!Authenticator.constantTimeEqual([], Self.secret))
        #expect(!Authenticator.constantTimeEqual(Array(Self.secret.dropLast()), Self.secret))
        #expect(!Authenticator.constantTimeEqual(Self.secret + Self.secret, Self.secret))
        var first = Self.secret
        first[0] ^= 1
        var last = Self.secret
        last[last.count - 1] ^= 1
        #expect(!Authenticator.constantTimeEqual(first, Self.secret))
        #expect(!Authenticator.constantTimeEqual(last, Self.secret))
        #expect(Authenticator.constantTimeEqual([], []))
    }

    @Test func everyAcceptedPlaceCarriesTheSecret() {
        let auth = Authenticator(secret: String(decoding: Self.secret, as: UTF8.self))
        let text = String(decoding: Self.secret, as: UTF8.self)
        #expect(auth.allows(Self.head(authorization: "Bearer \(text)")))
        #expect(auth.allows(Self.head(authorization: "Basic " + Data("any:\(text)".utf8).base64EncodedString())))
        #expect(auth.allows(Self.head(token: Self.secret)))
        #expect(!auth.allows(Self.head()))
        #expect(!auth.allows(Self.head(authorization: "Bearer \(text)x")))
        // Only SP/HTAB around the token are whitespace: a Unicode space is part of the token,
        // as in the custom header and the Basic password.
        #expect(auth.allows(Self.head(authorization: "Bearer \t\(text) ")))
        #expect(!auth.allows(Self.head(authorization: "Bearer \u{00A0}\(text)")))
        #expect(!auth.allows(Self.head(authorization: "Bearer \(text)\u{3000}")))
        #expect(Authenticator(secret: nil).allows(Self.head()))
    }
}
