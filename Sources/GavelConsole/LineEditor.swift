import GavelCore
import GavelStore

/// A one-line text prompt (the `/` filter and the reject reason; k9s `CmdBuff`).
///
/// Accepts printable scalars only: controls, format characters and other invisible scalars are
/// dropped, so what the analyst types is what gets stored.
public struct LineEditor: Sendable, Equatable {
    /// The prompt label drawn before the text: `/`, `reason: `.
    public var prompt: String
    public private(set) var text: String
    /// Maximum length in Unicode scalars.
    public var maxLength: Int

    public init(prompt: String, text: String = "", maxLength: Int = 200) {
        self.prompt = prompt
        self.text = text
        self.maxLength = maxLength
    }

    /// What a key did to the prompt.
    public enum Outcome: Sendable, Equatable {
        case editing
        case submitted(String)
        case cancelled
    }

    /// Applies one key: characters insert, Backspace deletes, Enter submits, Esc / Ctrl-C cancel.
    public mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .char(let s):
            if text.unicodeScalars.count < maxLength, DisplayTextGate.isTypeable(s) {
                text.unicodeScalars.append(s)
            }
            return .editing
        case .backspace, .delete:
            if !text.isEmpty { text.removeLast() }
            return .editing
        case .enter: return .submitted(text)
        case .escape, .ctrlC: return .cancelled
        case .control(21):  // Ctrl-U clears the line, as in a shell
            text = ""
            return .editing
        default: return .editing
        }
    }
}

enum DisplayTextGate {
    /// True when `s` is visible text (not a control, format or invisible scalar).
    static func isTypeable(_ s: Unicode.Scalar) -> Bool {
        !DisplayText.hasHiddenCharacters(String(Character(s)))
    }
}
