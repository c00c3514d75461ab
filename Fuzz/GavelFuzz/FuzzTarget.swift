import Foundation

/// The fuzz targets, one per parser or encoder that sees attacker-controlled bytes. Each one
/// checks properties of the result, not only that nothing crashed (see each `…Properties`).
enum FuzzTarget: String, CaseIterable, Sendable {
    /// The HTTP request head parser (and the body that follows it in the same bytes).
    case http
    /// The chunked transfer-coding decoder, fed whole and split.
    case chunked
    /// Content-Length values and JSON number text.
    case number
    /// The Datadog payload normalizer (JSON and form bodies) and JSON round trips.
    case payload
    /// IP and CIDR parsing and canonicalization, and the IP target check.
    case ip
    /// The display sanitizer and column truncation.
    case sanitize
    /// Template parsing and action rendering (URL, headers, JSON body, argv, outbox line).
    case template
    /// The sender normalisers (`SenderIntake`) on every route, Go durations and field paths.
    case senders
    /// The word back to Datadog (signal id in the path, the body, the `datadog` section), webhook
    /// routes, and the deliveries of a post of several alerts.
    case triage

    /// `http|chunked|…` for messages.
    static var names: String { allCases.map(\.rawValue).joined(separator: "|") }

    /// The target named by `GAVEL_FUZZ_TARGET` (read once); exits 2 when it is missing or unknown.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["GAVEL_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("gavel-fuzz: set GAVEL_FUZZ_TARGET to one of \(names) (got '\(name)')\n".utf8))
            exit(2)
        }
        return target
    }()

    /// Runs one input; aborts when a property does not hold.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .http: HTTPProperties.head(bytes)
        case .chunked: HTTPProperties.chunked(bytes)
        case .number: HTTPProperties.number(bytes)
        case .payload: CoreProperties.payload(bytes)
        case .ip: CoreProperties.ip(bytes)
        case .sanitize: CoreProperties.sanitize(bytes)
        case .template: TemplateProperties.render(bytes)
        case .senders: SenderProperties.intake(bytes)
        case .triage: TriageProperties.run(bytes)
        }
    }
}

/// Checks a property of a fuzz result; a violation aborts with `message` (a libFuzzer finding).
@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError("property violated: \(message())", file: file, line: line) }
}

extension Array where Element == UInt8 {
    /// The bytes split on `separator` into at most `limit` pieces (the last keeps the rest).
    func pieces(separator: UInt8, limit: Int) -> [[UInt8]] {
        split(separator: separator, maxSplits: limit - 1, omittingEmptySubsequences: false).map(Array.init)
    }
}
