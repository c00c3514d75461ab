import Foundation

@testable import GavelCore
@testable import GavelStore

/// A database file in a fresh temporary folder, removed by `cleanup()`.
struct TemporaryDatabase {
    let folder: String
    var path: String { folder + "/gavel.db" }

    init() {
        folder = NSTemporaryDirectory() + "gavel-store-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func open() throws -> Database { try Database(path: path) }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }
}

/// A signal as the receiver would hand it over.
func incoming(_ json: String, peer: String = "127.0.0.1:1") throws -> IncomingSignal {
    let body = Array(json.utf8)
    return IncomingSignal(signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: peer)
}
