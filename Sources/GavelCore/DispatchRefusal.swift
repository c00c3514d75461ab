/// Why gavel refuses to dispatch (or even render) a remediation: an invalid target, or a
/// rendered value that cannot be sent safely (CR, LF or NUL in a header; NUL in an argv
/// element; an argv element that would be read as an option).
///
/// A refusal is final for that remediation: retrying cannot change the outcome, so the
/// dispatcher records it as `failed` with `message` and never sends anything.
public struct DispatchRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// A one-line explanation naming the value or field at fault. Never contains control characters
    /// from attacker-controlled input (values are quoted with `debugDescription`-style escapes).
    public var message: String

    /// A refusal with the given message.
    public init(_ message: String) { self.message = message }

    public var description: String { "refused: \(message)" }
}

extension String {
    /// The string quoted with Swift escapes (`"a\nb"`), safe to put in a one-line message;
    /// anything past 96 scalars is cut and marked with `…`.
    var quotedForMessage: String {
        var out = "\""
        for (i, scalar) in unicodeScalars.enumerated() {
            if i == 96 {
                out += "…"
                break
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out + "\""
    }
}
