import NumberFormats

/// The dictionary at the head of a `.npy` file, read by a strict parser of the grammar NumPy
/// writes: a Python dict literal with exactly the keys `'descr'` (a dtype string),
/// `'fortran_order'` (`True`/`False`) and `'shape'` (a tuple of integers), padded with
/// whitespace. NumPy reads the header with `ast.literal_eval`; what it refuses this parser
/// refuses too (text after the closing brace, stray or doubled commas, a missing or extra key,
/// a byte-order character other than `<`, `>`, `|`, `=`), and it refuses, beyond NumPy, what
/// would make one file mean two things or what NumPy never writes (README "Stricter than NumPy"):
/// a key given twice (NumPy keeps the last), booleans, signs, underscores or non-decimal digits
/// in the shape, comments, escapes or prefixes in strings, and shape entries that are negative.
struct NPYHeader: Equatable {
    /// The dtype with its byte order made explicit: `<f4`, `>f8`, `|u1` (`=` read as `<`, a
    /// missing order as `|`).
    var descr: String
    /// The dtype string as the file wrote it, for messages (`O`, not `|O`).
    var written: String
    var fortran: Bool
    var shape: [Int]

    init(descr: String, written: String? = nil, fortran: Bool, shape: [Int]) {
        self.descr = descr
        self.written = written ?? descr
        self.fortran = fortran
        self.shape = shape
    }

    /// Equal when they mean the same array (however the dtype was spelled).
    static func == (a: NPYHeader, b: NPYHeader) -> Bool { (a.descr, a.fortran, a.shape) == (b.descr, b.fortran, b.shape) }

    /// Parses `text`, the header of a file of format `major`.0; errors name `path`.
    static func parse(_ text: String, major: UInt8, path: String) throws -> NPYHeader {
        var p = Parser(chars: Array(text.unicodeScalars), major: major)
        do {
            return try p.header()
        } catch let e as Parser.Failure {
            throw TensorFileError("\(path): .npy header: \(e.message)")
        }
    }

    private enum Value {
        case string(String), bool(Bool), tuple([Int])
    }

    private struct Parser {
        struct Failure: Error { let message: String }

        let chars: [Unicode.Scalar]
        let major: UInt8
        var i = 0

        init(chars: [Unicode.Scalar], major: UInt8) {
            self.chars = chars
            self.major = major
        }

        /// What stands at the current position, for messages: the character escaped, with its
        /// 1-based offset in the header.
        func here() -> String {
            guard i < chars.count else { return "the end of the header" }
            let note = chars[i] == "#" ? " (comments are not supported)" : ""
            return "\(Self.shown(chars[i])) at character \(i + 1)\(note)"
        }

        static func shown(_ c: Unicode.Scalar) -> String {
            switch c {
            case "\n": return "'\\n'"
            case "\t": return "'\\t'"
            case "\r": return "'\\r'"
            case _ where c.value < 0x20 || c.value == 0x7F || (0x80..<0xA0).contains(c.value):
                return "'\\u{\(String(c.value, radix: 16))}'"
            default: return "'\(c)'"
            }
        }

        func fail(_ what: String) -> Failure { Failure(message: what) }

        mutating func skipSpace() {
            while i < chars.count, [" ", "\t", "\n", "\r", "\u{0C}"].contains(chars[i]) { i += 1 }
        }

        mutating func expect(_ c: Unicode.Scalar, _ context: String) throws {
            skipSpace()
            guard i < chars.count, chars[i] == c else { throw fail("expected '\(c)' \(context), found \(here())") }
            i += 1
        }

        mutating func header() throws -> NPYHeader {
            try expect("{", "to open the dictionary")
            var entries: [String: Value] = [:]
            skipSpace()
            while i < chars.count, chars[i] != "}" {
                let key = try string("a key")
                try expect(":", "after the key '\(key)'")
                skipSpace()
                let v = try value(key)
                guard entries.updateValue(v, forKey: key) == nil else {
                    throw fail("the key '\(key)' is given twice (NumPy would keep the last; refused as ambiguous)")
                }
                skipSpace()
                guard i < chars.count, chars[i] == "," || chars[i] == "}" else {
                    throw fail("expected ',' or '}' after the value of '\(key)', found \(here())")
                }
                if chars[i] == "," { i += 1; skipSpace() }
            }
            try expect("}", "to close the dictionary")
            skipSpace()
            guard i == chars.count else { throw fail("unexpected \(here()) after the closing '}'") }
            return try check(entries)
        }

        func check(_ entries: [String: Value]) throws -> NPYHeader {
            let expected = ["descr", "fortran_order", "shape"]
            guard entries.keys.sorted() == expected else {
                let got = entries.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw fail("expected exactly the keys 'descr', 'fortran_order', 'shape'; found \(got.isEmpty ? "none" : got)")
            }
            guard case .string(let d)? = entries["descr"] else {
                throw fail("'descr' must be a dtype string such as '<f4' (structured dtypes are not supported)")
            }
            guard case .bool(let fortran)? = entries["fortran_order"] else { throw fail("'fortran_order' must be True or False") }
            guard case .tuple(let shape)? = entries["shape"] else { throw fail("'shape' must be a tuple of integers") }
            return NPYHeader(descr: try Self.explicitOrder(d), written: d, fortran: fortran, shape: shape)
        }

        /// `d` with its byte order made explicit; refuses an order character NumPy refuses.
        static func explicitOrder(_ d: String) throws -> String {
            guard let first = d.unicodeScalars.first else { return d }
            let second = d.unicodeScalars.dropFirst().first
            if first.properties.isAlphabetic && !(second?.properties.isAlphabetic ?? false) { return "|" + d }
            guard ["<", ">", "|", "="].contains(first) else {
                throw Failure(message: "dtype '\(d)': byte order \(shown(first)) is not one of '<', '>', '|', '='")
            }
            return first == "=" ? "<" + d.dropFirst() : d
        }

        mutating func value(_ key: String) throws -> Value {
            guard i < chars.count else { throw fail("the value of '\(key)' is missing") }
            switch chars[i] {
            case "'", "\"": return .string(try string("the value of '\(key)'"))
            case "(": return .tuple(try tuple(key))
            default:
                for (word, v) in [("True", true), ("False", false)] where matches(word) {
                    i += word.unicodeScalars.count
                    return .bool(v)
                }
                throw fail("unsupported value for '\(key)' at \(here()): expected a string, True, False or a tuple of integers")
            }
        }

        /// Whether `word` stands at the current position as a whole word.
        func matches(_ word: String) -> Bool {
            let w = Array(word.unicodeScalars)
            guard i + w.count <= chars.count, Array(chars[i..<i + w.count]) == w else { return false }
            return i + w.count == chars.count || !(chars[i + w.count].properties.isAlphabetic || ("0"..."9").contains(chars[i + w.count]) || chars[i + w.count] == "_")
        }

        /// A quoted string without escapes, prefixes or line breaks.
        mutating func string(_ what: String) throws -> String {
            skipSpace()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else {
                throw fail("expected a quoted string as \(what), found \(here())")
            }
            let quote = chars[i]
            var s = String.UnicodeScalarView()
            i += 1
            while i < chars.count, chars[i] != quote {
                guard chars[i] != "\\", chars[i] != "\n", chars[i] != "\r" else {
                    throw fail("\(what): \(here()) in a string (escapes and line breaks are not supported)")
                }
                s.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw fail("\(what): the string is not closed") }
            i += 1
            return String(s)
        }

        /// `(…)` of non-negative decimal integers: `()`, `(n,)`, `(n, m)`, `(n, m,)`.
        mutating func tuple(_ key: String) throws -> [Int] {
            i += 1
            var out: [Int] = []
            skipSpace()
            while i < chars.count, chars[i] != ")" {
                out.append(try integer(key))
                skipSpace()
                guard i < chars.count, chars[i] == "," || chars[i] == ")" else {
                    throw fail("expected ',' or ')' in '\(key)', found \(here())")
                }
                if chars[i] == "," {
                    i += 1
                    skipSpace()
                } else if out.count == 1 {
                    throw fail("'\(key)' is a parenthesised integer, not a tuple (a 1-tuple needs a trailing comma)")
                }
            }
            try expect(")", "to close '\(key)'")
            return out
        }

        /// A decimal integer as Python writes it (no leading zeros except for zero itself), with
        /// the Python 2 `L` suffix that NumPy still reads in format versions 1.0 and 2.0.
        mutating func integer(_ key: String) throws -> Int {
            let start = i
            while i < chars.count, ("0"..."9").contains(chars[i]) { i += 1 }
            let digits = String(String.UnicodeScalarView(chars[start..<i]))
            guard !digits.isEmpty else {
                throw fail("'\(key)' entries must be non-negative decimal integers; found \(here())")
            }
            guard digits.allSatisfy({ $0 == "0" }) || digits.first != "0" else {
                throw fail("'\(key)' entry '\(digits)' has a leading zero (not a Python integer)")
            }
            if major <= 2, i < chars.count, chars[i] == "L" { i += 1 }
            if i < chars.count, chars[i].properties.isAlphabetic || chars[i] == "_" || chars[i] == "." {
                throw fail("'\(key)' entries must be non-negative decimal integers; found \(here())")
            }
            guard let v = Int(digits) else { throw fail("'\(key)' entry \(digits) is too large") }
            return v
        }
    }
}
