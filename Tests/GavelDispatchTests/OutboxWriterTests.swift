import Dispatch
import Foundation
import GavelCore
import GavelTestSupport
import Glibc
import Testing

@testable import GavelDispatch

@Suite("OutboxWriter")
struct OutboxWriterTests {
    let writer = OutboxWriter()

    func lines(of path: String) throws -> [String] {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.hasSuffix("\n"))
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test("lines are appended in order, each ended by a newline, in a 0600 file")
    func appendsLines() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("gavel-outbox.jsonl")
        let first = #"{"method":"POST","url":"https://fw.example/ban","body":{"ip":"203.0.113.7"}}"#
        let second = #"{"method":"POST","url":"https://idp.example/disable","body":{"user":"u-\u0000\"x"}}"#

        #expect(writer.execute(OutboxDispatchRequest(path: path, line: first)).kind == .success)
        #expect(writer.execute(OutboxDispatchRequest(path: path, line: second)).kind == .success)

        #expect(try lines(of: path) == [first, second])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("two concurrent writers with 200 long lines each leave 400 intact lines")
    func concurrentWritersNeverInterleave() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("gavel-outbox.jsonl")
        let padding = String(repeating: "x", count: 6000)  // well above PIPE_BUF (4096)
        let failures = DispatchQueue.concurrentPerform(writers: 2) { writerIndex in
            (0..<200).filter { n in
                let line = #"{"writer":\#(writerIndex),"n":\#(n),"pad":"\#(padding)"}"#
                return writer.execute(OutboxDispatchRequest(path: path, line: line)).kind != .success
            }.count
        }
        #expect(failures == 0)

        let written = try lines(of: path)
        #expect(written.count == 400)
        var seen = Set<String>()
        for line in written {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["pad"] as? String == padding)
            seen.insert("\(object["writer"] ?? "?")-\(object["n"] ?? "?")")
        }
        #expect(seen.count == 400)
    }

    @Test(
        "a line containing CR, LF or NUL is refused and nothing is written",
        arguments: [
            "{\"a\":1}\n{\"injected\":true}", "{\"a\":1}\r", "{\"a\":\"\u{0}\"}",
        ])
    func lineBreaksRefused(line: String) throws {
        let dir = try TemporaryDirectory()
        let outcome = writer.execute(OutboxDispatchRequest(path: dir.file("outbox"), line: line))
        #expect(outcome.kind == .permanent)
        #expect(!dir.exists("outbox"))
    }

    @Test("an unwritable path is retryable with the errno text")
    func missingDirectoryRetryable() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("no-such-dir/outbox.jsonl")
        let outcome = writer.execute(OutboxDispatchRequest(path: path, line: "{}"))
        #expect(outcome.kind == .retryable)
        #expect(outcome.error == "open \(path): No such file or directory")
    }

    @Test("a torn last line from a crashed writer does not swallow the next line")
    func tornTailRepaired() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("outbox")
        try Data(#"{"torn":"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(writer.execute(OutboxDispatchRequest(path: path, line: #"{"ok":true}"#)).kind == .success)
        #expect(try lines(of: path) == [#"{"torn":"#, #"{"ok":true}"#])
    }
}

extension DispatchQueue {
    /// Runs `body` on `writers` threads at once and sums the results.
    static func concurrentPerform(writers: Int, _ body: @Sendable (Int) -> Int) -> Int {
        let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: writers)
        defer { results.deallocate() }
        nonisolated(unsafe) let slots = results
        concurrentPerform(iterations: writers) { slots[$0] = body($0) }
        return results.reduce(0, +)
    }
}
