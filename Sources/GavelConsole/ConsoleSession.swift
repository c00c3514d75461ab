import Foundation
import GavelCore
import GavelStore

/// Runs a ``ConsoleModel`` against a ``ConsoleDataSource`` without a terminal: performs the
/// model's loads, hands effects to the executable's performer, and renders frames.
///
/// ``ConsoleApp`` drives one of these with curses; tests and `--script` runs drive it with a
/// list of keys and read ``frame(width:)`` as text (tig's `TIG_SCRIPT` + `:save-display`).
/// Not `Sendable`: it lives on the UI thread.
public final class ConsoleSession {
    public var model: ConsoleModel
    public let dataSource: any ConsoleDataSource
    /// Performs a decision or rule effect (`.approve`, `.reject`, `.retry`, `.setRuleMode`,
    /// `.setRuleAction`) and says how it went; nil for nothing to report.
    public var perform: (ConsoleEffect) -> DecisionOutcome?

    public init(model: ConsoleModel, dataSource: any ConsoleDataSource, perform: @escaping (ConsoleEffect) -> DecisionOutcome?) {
        self.model = model
        self.dataSource = dataSource
        self.perform = perform
    }

    /// True once a key asked to quit.
    public var isFinished: Bool { model.isQuitting }

    /// Handles one key, performs its effects and loads what the model then needs.
    public func press(_ key: Key) {
        let effects = model.handle(key)
        for effect in effects {
            switch effect {
            case .quit: return
            case .reload: model.markStale()
            default:
                if let outcome = perform(effect) { model.apply(.decisionResult(outcome)) } else { model.markStale() }
            }
        }
        load()
    }

    /// Presses each key in order, stopping at a quit.
    public func press(_ keys: [Key]) {
        for key in keys where !isFinished { press(key) }
    }

    /// The refresh tick: new clock, everything marked stale and reloaded.
    public func tick(now: Date = Date()) {
        model.apply(.tick(now))
        model.markStale()
        load()
    }

    /// Applies outside events (from the inbox), then loads.
    public func apply(_ events: [ConsoleEvent]) {
        for e in events { model.apply(e) }
        load()
    }

    /// Performs the model's pending loads (a few rounds: a window load can ask for a detail).
    /// A data-source error is shown in the header banner instead of being thrown.
    public func load() {
        for _ in 0..<4 {
            let loads = model.pendingLoads
            if loads.isEmpty { return }
            do {
                for l in loads { model.apply(try fetch(l)) }
                if model.errorBanner != nil { model.apply(.clearError) }
            } catch {
                model.apply(.error("data source: \(error)"))
                return
            }
        }
    }

    func fetch(_ load: ConsoleModel.Load) throws -> ConsoleEvent {
        switch load {
        case .rulesAndSummary:
            let summary = try dataSource.summary()
            model.apply(.summary(summary))
            return .rules(try dataSource.rules())
        case .remediations(let view, let request):
            return .window(view, try request.fetch(from: dataSource))
        case .detail(let id):
            return .detail(id: id, try dataSource.detail(remediationID: id))
        case .audit(let l):
            let (limit, before) = Self.paging(l)
            let rows = try dataSource.audit(limit: limit, before: before)
            return .audit(rows, complete: rows.count < limit)
        case .intakeErrors(let l):
            let (limit, before) = Self.paging(l)
            let rows = try dataSource.intakeErrors(limit: limit, before: before)
            return .intakeErrors(rows, complete: rows.count < limit)
        }
    }

    static func paging(_ l: PagedLoad) -> (Int, Int64?) {
        switch l {
        case .refresh(let limit): (limit, nil)
        case .more(let before, let limit): (limit, before)
        }
    }

    /// The current screen at the model's size.
    public func frame(width: @escaping (Unicode.Scalar) -> Int = DisplayText.defaultWidth) -> Frame {
        ConsoleRenderer.render(model, size: (model.layout.rows, model.layout.cols), width: width)
    }
}
