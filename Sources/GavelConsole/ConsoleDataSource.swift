import Foundation
import GavelCore
import GavelStore

/// What the console reads. `StoreDataSource` reads it from the store protocols; tests use an
/// in-memory fake.
///
/// Calls come from the UI thread only, synchronously, a few times per second at most; each should
/// be one short read. Lists are paged with keyset pagination (`ConsolePageQuery`): the console
/// never asks for everything.
public protocol ConsoleDataSource {
    /// Up to `query.limit` remediations in the query's order, starting next to `query.cursor`,
    /// in **display order** (also for `.backward`): what `query.select(from:)` gives.
    /// - Throws: the store's error; the console shows it in its error banner.
    func page(_ query: ConsolePageQuery) throws -> [Remediation]
    /// The detail of one remediation, or nil when it no longer exists.
    func detail(remediationID: Int64) throws -> RemediationDetail?
    /// Every known detection rule, sorted by display name.
    func rules() throws -> [RuleRow]
    /// Up to `limit` audit entries with `id < before` (all when `before` is nil), newest first.
    func audit(limit: Int, before: Int64?) throws -> [AuditEntry]
    /// Up to `limit` intake errors with `id < before` (all when `before` is nil), newest first.
    func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorEntry]
    /// The counts and banner for the header line.
    func summary() throws -> ConsoleSummary
}
