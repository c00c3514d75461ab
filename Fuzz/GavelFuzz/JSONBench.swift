import Foundation
import GavelCore

/// `gavel-fuzz --bench-json [SECONDS]`: JSON parse time against element count (BENCHMARKS.md,
/// "JSON parse time against element count"). Not a test: it prints one Markdown table row per
/// case and never judges the figures. Run it from a release build (`bench/json_parse.sh`).
///
/// Cases, each parsed several times (best time kept):
/// - `JSONValue.parse` of a top-level array of N numbers and of an object of N members;
/// - `SignalPayload.decode` of a Datadog body whose `SECURITY_SIGNAL_ATTRIBUTES` hold such an
///   array or object (the whole normalizer, as the receiver runs it);
/// - a 1 MiB body of zeros, `[0,0,…]` (524,287 values): refused at the element limit, and
///   parsed whole with the limit lifted, to show the parse linear up to the body limit.
///
/// A series stops growing once one of its cases took longer than `SECONDS` (default 30), so a
/// quadratic parser is measured where it is still measurable instead of hanging the run.
enum JSONBench {
    static let counts = [1_000, 10_000, 40_000, 100_000]

    static func run(budgetSeconds: Double) {
        print("| case | elements | body bytes | best of runs | result |")
        print("| --- | ---: | ---: | ---: | --- |")
        series("array, parse", budgetSeconds) { n in (arrayText(n), .parse) }
        series("object, parse", budgetSeconds) { n in (objectText(n), .parse) }
        series("array in attributes, decode", budgetSeconds) { n in (payload(arrayText(n)), .decode) }
        series("object in attributes, decode", budgetSeconds) { n in (payload(objectText(n)), .decode) }
        var zeros: [UInt8] = [UInt8(ascii: "[")]
        while zeros.count + 2 < 1 << 20 { zeros += [UInt8(ascii: "0"), UInt8(ascii: ",")] }
        zeros[zeros.count - 1] = UInt8(ascii: "]")
        measure("1 MiB of zeros, parse", elements: (zeros.count - 1) / 2, zeros, .parse)
        measure("1 MiB of zeros, parse, no element limit", elements: (zeros.count - 1) / 2, zeros, .parseWithoutLimit)
        measure("1 MiB of zeros, decode", elements: (zeros.count - 1) / 2, zeros, .decode)
    }

    enum Step { case parse, parseWithoutLimit, decode }

    static func series(_ name: String, _ budgetSeconds: Double, _ make: (Int) -> ([UInt8], Step)) {
        for n in counts {
            let (bytes, step) = make(n)
            let seconds = measure(name, elements: n, bytes, step)
            if seconds > budgetSeconds {
                print("| \(name) | larger | | | skipped: the last case took over \(Int(budgetSeconds)) s |")
                return
            }
        }
    }

    /// Times `step` over `bytes` (3 runs, or 1 when a run takes over a second); prints a row.
    @discardableResult
    static func measure(_ name: String, elements: Int, _ bytes: [UInt8], _ step: Step) -> Double {
        var best = Double.infinity
        var outcome = ""
        for _ in 0..<3 {
            let clock = ContinuousClock()
            let start = clock.now
            switch step {
            case .parse, .parseWithoutLimit:
                do {
                    let value = try JSONValue.parse(bytes, maxElements: step == .parse ? JSONValue.defaultMaxElements : .max)
                    outcome = "parsed (\(value.typeName))"
                } catch {
                    outcome = "refused: \(error.message)"
                }
            case .decode:
                do {
                    let signal = try SignalPayload.decode(body: bytes, format: .json)
                    outcome = "decoded (\(signal.attributes?.typeName ?? "no attributes"))"
                } catch {
                    outcome = "refused: \(error)"
                }
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            best = min(best, seconds)
            if seconds > 1 { break }
        }
        let shown = best >= 1 ? String(format: "%.2f s", best) : String(format: "%.2f ms", best * 1000)
        print("| \(name) | \(elements) | \(bytes.count) | \(shown) | \(outcome) |")
        return best
    }

    static func arrayText(_ n: Int) -> [UInt8] {
        Array(("[" + (0..<n).map(String.init).joined(separator: ",") + "]").utf8)
    }

    static func objectText(_ n: Int) -> [UInt8] {
        Array(("{" + (0..<n).map { #""\#($0)":0"# }.joined(separator: ",") + "}").utf8)
    }

    /// A Datadog-shaped body with `attributes` as `SECURITY_SIGNAL_ATTRIBUTES.a`.
    static func payload(_ attributes: [UInt8]) -> [UInt8] {
        Array(#"{"SECURITY_SIGNAL_ID":"bench","SECURITY_RULE_NAME":"bench","SECURITY_SIGNAL_ATTRIBUTES":{"a":"#.utf8) + attributes
            + Array("}}".utf8)
    }
}
