import Foundation
import Testing

/// The fuzz harness's seed corpus and past findings (Fuzz/corpus/TARGET/*), replayed through the
/// same property checks by the debug `gavel-fuzz` binary, so a regression fails the normal suite
/// even where libFuzzer is not run.
@Suite struct FuzzCorpusTests {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var binary: String {
        URL(fileURLWithPath: GavelBinary.path).deletingLastPathComponent().appendingPathComponent("gavel-fuzz").path
    }

    @Test func everyCommittedInputSatisfiesItsProperties() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["--corpus", Self.root + "/Fuzz/corpus"]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "last input and failure:\n\(e.split(separator: "\n").suffix(4).joined(separator: "\n"))")
        let count = Int(o.split(separator: " ").dropFirst().first ?? "") ?? 0
        let targets = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/Fuzz/corpus")
        #expect(Set(targets).isSuperset(of: ["http", "chunked", "number", "payload", "ip", "sanitize", "template", "senders", "triage"]))
        #expect(count >= 50, "\(o)")
    }
}
