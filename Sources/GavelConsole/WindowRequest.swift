import GavelCore
import GavelStore

/// The one or two page queries that load a remediation list's window.
public struct WindowRequest: Sendable, Equatable {
    public var anchor: WindowAnchor
    /// Rows before the selection (or the list's last rows for `.bottom`).
    public var backward: ConsolePageQuery?
    /// The selection and rows after it (or the first rows for `.top`).
    public var forward: ConsolePageQuery?

    /// Reads the window from `source`.
    /// - Throws: what the data source throws.
    public func fetch(from source: ConsoleDataSource) throws -> RemediationWindow {
        let back = try backward.map { try source.page($0) } ?? []
        let fwd = try forward.map { try source.page($0) } ?? []
        return RemediationWindow(
            rows: back + fwd,
            atStart: backward.map { back.count < $0.limit } ?? true,
            atEnd: forward.map { fwd.count < $0.limit } ?? true,
            preferredID: fwd.first?.id ?? back.last?.id)
    }
}
