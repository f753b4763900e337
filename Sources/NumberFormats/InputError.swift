/// Bad input: a format spec, a config, a tensor file, a flag or a variant's parameters that
/// cannot be used, said in one line that names where it is and what was expected.
///
/// Every module throws this one type for input the user can fix (the names `FormatSpecError`,
/// `TensorFileError`, `VariantError` and `StudyInputError` stand for it); the command line
/// prints its message and exits with code 2, in one place (`AttnPrec.main`). The message is
/// kept to one line whatever the input held: control characters echoed from a file or a flag
/// are written as escapes (`\n`, `\t`, `\r`, `\u{1b}`).
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = Self.oneLine(message) }
    public var description: String { message }

    /// `text` with every control character (C0, DEL, C1, and the line and paragraph
    /// separators) written as a visible escape.
    public static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            guard isControl(c) else { out.append(c); continue }
            let escape: String
            switch c {
            case "\n": escape = "\\n"
            case "\t": escape = "\\t"
            case "\r": escape = "\\r"
            default: escape = "\\u{\(String(c.value, radix: 16))}"
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x20 || (0x7F...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029
    }
}
