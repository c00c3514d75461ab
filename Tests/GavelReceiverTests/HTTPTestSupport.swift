import GavelTestSupport
import Testing

@testable import GavelReceiver

/// Shared helpers for the HTTP parsing suites.
enum HTTPTestSupport {
    /// Small limits so the every-split-point tests over limit cases stay fast.
    static let small = HTTPLimits(
        maxRequestLine: 64, maxHeaderBytes: 200, maxHeaderFields: 5, maxBodyBytes: 100,
        maxFieldLine: 64, maxChunkExtensionBytes: 16, maxTrailerBytes: 40)

    /// The outcome of one parse, comparable across split points.
    enum HeadOutcome: Equatable {
        case needMore
        case head(HTTPRequestHead, consumed: Int)
        case error(HTTPError)
    }

    static func head(_ bytes: [UInt8], _ limits: HTTPLimits = HTTPLimits()) -> HeadOutcome {
        do throws(HTTPError) {
            guard let (head, consumed) = try HTTPHeadParser.parse(bytes, limits: limits) else { return .needMore }
            return .head(head, consumed: consumed)
        } catch {
            return .error(error)
        }
    }

    static func status(_ outcome: HeadOutcome) -> Int? {
        if case .error(let e) = outcome { return e.status }
        return nil
    }

    /// Asserts that every proper prefix of `bytes` either needs more bytes or gives exactly
    /// the result of the whole input, and that prefixes shorter than a head's `consumed` need more.
    static func expectSplitInvariant(_ bytes: [UInt8], _ limits: HTTPLimits, sourceLocation: SourceLocation = #_sourceLocation) {
        let full = head(bytes, limits)
        for k in 0..<bytes.count {
            let partial = head(Array(bytes[..<k]), limits)
            if case .head(_, let consumed) = full, k < consumed {
                #expect(partial == .needMore, "prefix \(k)", sourceLocation: sourceLocation)
            } else if partial != .needMore {
                #expect(partial == full, "prefix \(k)", sourceLocation: sourceLocation)
            }
        }
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// `bytes` with 1–4 random byte flips, insertions (often CR, LF, SP, ':', NUL) or deletions.
    static func mutate(_ bytes: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var out = bytes
        let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x00, 0x3B, 0x22, 0x30, 0x7F, 0xFF]
        for _ in 0..<Int.random(in: 1...4, using: &rng) where !out.isEmpty {
            let at = Int.random(in: 0..<out.count, using: &rng)
            let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: out[at] = byte
            case 1: out.insert(byte, at: at)
            default: out.remove(at: at)
            }
        }
        return out
    }
}
