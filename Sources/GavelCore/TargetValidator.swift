/// Checks a remediation's target before it is proposed, rendered or dispatched.
///
/// Every target comes from a webhook payload and is attacker-controlled, so each kind has a
/// strict whitelist (hardening checklist D1, D2):
///
/// - `ip`: must parse with `IPAddress(parsing:)` *and* already be in canonical form, so
///   `127.1`, `0177.0.0.1`, `0x7f.0.0.1`, `2130706433`, `fe80::1%eth0` and `1.2.3.4 ` are refused
///   (a lenient resolver would read some of them as other addresses).
/// - `user`: 1–256 ASCII characters of `[A-Za-z0-9._@+=,:'!#^~-]`, the first alphanumeric or
///   `_` (never `-`, so it cannot be read as an option), and no `..` (no path traversal; `/`
///   and `\` are not allowed either). The set is the union of what identity providers accept
///   in a user name: e-mail addresses as people have them (`o'brien+ops@ex_ample.com`: `'`,
///   `+`, an underscore in the domain), AWS IAM user names (`+=,.@_-`), Entra ID user principal
///   names (`'.-_!#^~`). Safety comes from escaping per context when a target is rendered
///   (percent-encoding in URLs, JSON escaping, one argv element), not from refusing real
///   addresses; shell metacharacters (`$`, `` ` ``, `;`, `|`, `&`, `*`, quotes, blanks) stay refused.
/// - `security_group`: AWS's form, `sg-` followed by 8 or 17 lowercase hexadecimal digits.
/// - `signal`: 1–256 ASCII characters of `[A-Za-z0-9._:-]`, the first alphanumeric or `_`.
///
/// An action's `target_pattern` replaces the default check for `user`, `security_group` and
/// `signal` targets (a whole-string regular expression), and adds to it for `ip` targets. A
/// baseline always applies, pattern or not: non-empty, at most 256 UTF-8 bytes, no control
/// or format characters (Unicode Cc/Cf: CR, LF, NUL, ESC, bidi controls, zero-width joiners),
/// no white space, and no leading `-`.
public enum TargetValidator {
    /// The longest target accepted, in UTF-8 bytes.
    public static let maxLength = 256

    /// Validates `target` for an action acting on `kind`.
    /// - Parameters:
    ///   - target: the value from the signal (canonical IP text, user id, group id, signal id).
    ///   - kind: what the action acts on.
    ///   - pattern: the action's `target_pattern` (a regular expression matched against the
    ///     whole target), or nil for the kind's default.
    /// - Returns: `.success(target)` with the value to use, or `.failure` naming the problem.
    public static func validate(_ target: String, kind: TargetKind, pattern: String?) -> Result<String, DispatchRefusal> {
        let what = "\(kind.rawValue) target \(target.quotedForMessage)"
        if let problem = baselineProblem(target) {
            return .failure(DispatchRefusal("\(what): \(problem)"))
        }
        switch kind {
        case .ip:
            guard let address = IPAddress(parsing: target) else {
                return .failure(DispatchRefusal("\(what): not an IP address"))
            }
            guard address.description == target else {
                return .failure(DispatchRefusal("\(what): not in canonical form (\(address.description))"))
            }
            if let pattern { return matching(target, pattern: pattern, what: what) }
            return .success(target)
        case .user, .securityGroup, .signal:
            if let pattern { return matching(target, pattern: pattern, what: what) }
            if let problem = defaultProblem(target, kind: kind) {
                return .failure(DispatchRefusal("\(what): \(problem)"))
            }
            return .success(target)
        }
    }

    /// Checks that `pattern` compiles as a regular expression; returns the compiler's complaint or nil.
    public static func patternProblem(_ pattern: String) -> String? {
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "not a valid regular expression (\(error))"
        }
    }

    static func baselineProblem(_ target: String) -> String? {
        if target.isEmpty { return "empty" }
        if target.utf8.count > maxLength { return "longer than \(maxLength) bytes" }
        for scalar in target.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                return "contains a control or format character"
            default: break
            }
            if scalar.properties.isWhitespace { return "contains white space" }
        }
        if target.hasPrefix("-") { return "starts with '-'" }
        return nil
    }

    private static func defaultProblem(_ target: String, kind: TargetKind) -> String? {
        let bytes = Array(target.utf8)
        let alnum: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
        switch kind {
        case .securityGroup:
            let hex = bytes.dropFirst(3)
            guard target.hasPrefix("sg-"), hex.count == 8 || hex.count == 17,
                hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            else {
                return "not a security-group id (sg- and 8 or 17 lowercase hex digits)"
            }
            return nil
        case .user, .signal:
            let extra: Set<UInt8> = kind == .user ? Set("._@+=,:-'!#^~".utf8) : Set("._:-".utf8)
            guard let first = bytes.first, alnum(first) || first == UInt8(ascii: "_") else {
                return "must start with a letter, digit or '_'"
            }
            if let bad = bytes.first(where: { !alnum($0) && !extra.contains($0) }) {
                return bad < 0x80 ? "contains \(String(UnicodeScalar(bad)).quotedForMessage)" : "contains a non-ASCII character"
            }
            if target.contains("..") { return "contains '..'" }
            return nil
        case .ip:
            return nil
        }
    }

    private static func matching(_ target: String, pattern: String, what: String) -> Result<String, DispatchRefusal> {
        guard let regex = try? Regex(pattern) else {
            return .failure(DispatchRefusal("\(what): target_pattern does not compile"))
        }
        guard (try? regex.wholeMatch(in: target)) != nil else {
            return .failure(DispatchRefusal("\(what): does not match target_pattern \(pattern.quotedForMessage)"))
        }
        return .success(target)
    }
}
