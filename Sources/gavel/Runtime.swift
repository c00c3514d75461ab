import Foundation
import GavelCore
import GavelReceiver
import GavelStore

/// The long-running parts that `serve` and `console` share: the ingest writer and the
/// ingest step (store the signal, propose remediations) the receiver calls.
final class Runtime: Sendable {
    let writer: IngestWriter
    let databasePath: String

    init(databasePath: String) throws {
        self.databasePath = databasePath
        self.writer = try IngestWriter(path: databasePath)
    }

    /// Stores one delivery in the next group commit.
    var ingest: Receiver.Ingest {
        let writer = self.writer
        return { incoming in
            try writer.submit { db in
                let record = try db.record(incoming)
                return IngestReply(record: record, remediations: [])
            }
        }
    }

    func close() {
        writer.close()
    }
}
