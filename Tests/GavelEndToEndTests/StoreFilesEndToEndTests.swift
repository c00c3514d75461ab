import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

/// POSTs JSON with curl; returns the status, the head and the body of the answer.
func curlAnswer(_ url: String, body: String) throws -> (status: Int, head: String, body: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "-D", "-", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    let head = parts.first ?? ""
    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// Issue 16 item 6, end to end with the built binary: acknowledged signals were lost when the
/// SQLite files were deleted or replaced under a running `gavel serve` (`rm g.db-wal`, or all
/// three files): the next deliveries still got 202 and were gone after a restart. Now gavel
/// notices before acknowledging and answers 503 (so the sender retries) until it is restarted on
/// a sound database, and saves what it had stored beside it.
@Suite(.serialized) struct StoreFilesEndToEndTests {
    static func signal(_ id: String, ip: String) -> String {
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
    }

    /// The signal ids a database holds (`gavel signals --json`).
    func signalIDs(_ db: String) throws -> Set<String> {
        let listed = try GavelBinary.run(["signals", "--json", "--limit", "0", "--db", db])
        guard case .array(let rows) = try JSONValue.parse(listed.out) else { return [] }
        return Set(rows.compactMap { $0["signal_id"]?.scalarText })
    }

    func recoveredCopies(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("gavel.db.recovered-") }.map { folder + "/" + $0 }
    }

    func run(removing suffixes: [String], expecting what: String) throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let webhook = serve.baseURL + "/webhook"
        for i in 1...3 {
            let answer = try curlAnswer(webhook, body: Self.signal("before-\(i)", ip: "203.0.113.\(i)"))
            #expect(answer.status == 202, "\(answer)")
        }
        for suffix in suffixes { try FileManager.default.removeItem(atPath: serve.dbPath + suffix) }
        // The next deliveries: 503 with Retry-After and a JSON body saying why — never 202.
        for i in 1...3 {
            let answer = try curlAnswer(webhook, body: Self.signal("after-\(i)", ip: "198.51.100.\(i)"))
            #expect(answer.status == 503, "\(answer)")
            #expect(answer.head.lowercased().contains("retry-after: 5"))
            let error = try JSONValue.parse(answer.body)["error"]?.scalarText ?? ""
            #expect(error.contains(what) && error.contains("until gavel is restarted"), "\(error)")
            #expect(error.contains("saved in \(serve.dbPath).recovered-"), "\(error)")
        }
        #expect(serve.stop() == 0)
        // What was acknowledged before is in the copy gavel saved.
        let copies = try recoveredCopies(serve.folder)
        #expect(copies.count == 1)
        #expect(try signalIDs(try #require(copies.first)) == ["before-1", "before-2", "before-3"])
        // Restarted on a sound database, the retried deliveries are acknowledged and stored.
        let again = try ServeProcess(database: serve.dbPath)
        defer { again.cleanup() }
        for i in 1...3 {
            let answer = try curlAnswer(again.baseURL + "/webhook", body: Self.signal("after-\(i)", ip: "198.51.100.\(i)"))
            #expect(answer.status == 202, "\(answer)")
        }
        #expect(try signalIDs(serve.dbPath).isSuperset(of: ["after-1", "after-2", "after-3"]))
    }

    @Test func aDeletedWriteAheadLogStopsAcknowledgingAndTheStoreIsSaved() throws {
        try run(removing: ["-wal"], expecting: "the write-ahead log")
    }

    @Test func deletedDatabaseFilesStopAcknowledgingAndTheStoreIsSaved() throws {
        try run(removing: ["", "-wal", "-shm"], expecting: "the database file")
    }
}
