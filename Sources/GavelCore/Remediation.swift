/// What kind of thing a remediation acts on.
public enum TargetKind: String, Sendable, CaseIterable, Codable {
    /// A canonical IP address (ban it).
    case ip
    /// A user id (disable its credentials).
    case user
    /// A cloud security-group id (delete it).
    case securityGroup = "security_group"
    /// The signal itself (forward it).
    case signal
}

/// The lifecycle state of a remediation (DESIGN.md, "Remediation states").
///
/// `pending` → `approved` → `dispatching` → `dispatched` | `failed`;
/// `pending` → `rejected`; proposals on an allowlisted target start `suppressed`;
/// proposals of a rule in dry-run start `simulated`. `failed` → `approved` on retry.
public enum RemediationState: String, Sendable, CaseIterable, Codable {
    case pending, approved, dispatching, dispatched, failed, rejected, suppressed, simulated

    /// States in which a remediation still gathers new signals for its (action, target).
    public var isOpen: Bool { self == .pending || self == .approved || self == .dispatching }
}

/// How a detection rule's remediations are decided.
public enum RuleMode: String, Sendable, CaseIterable, Codable {
    /// An analyst approves or rejects each one.
    case manual
    /// Approved by `auto:<rule>` and dispatched at once, within the auto budgets.
    case auto
    /// Rendered and recorded as `simulated`; never sent.
    case dryRun = "dry-run"
}
