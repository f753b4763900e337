import NumberFormats

/// The JSON header of a `.safetensors` file, read by a strict parser of RFC 8259 as the
/// reference library's reader (serde_json) reads it: no trailing commas, comments, leading
/// zeros, unescaped control characters or lone surrogates; only whitespace after the value.
/// Unlike a general JSON decoder it keeps the members of an object in order, so a key given
/// twice is seen (and refused by `SafeTensors.parse`), and it stops at a nesting depth of 64
/// before recursing further (a header needs 3).
enum SafeTensorsHeader {
    indirect enum Value {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(String)
        /// The number's text as written (`12`, `-1.5e3`).
        case number(String)
        case bool(Bool)
        case null

        /// What the value is, for messages.
        var kind: String {
            switch self {
            case .object: return "an object"
            case .array: return "an array"
            case .string: return "a string"
            case .number(let t): return "the number \(t)"
            case .bool(let b): return b ? "true" : "false"
            case .null: return "null"
            }
        }
    }

    struct Failure: Error { let message: String }

    static let maxDepth = 64

    /// Parses `bytes` (already checked to be UTF-8) as one JSON value, then only whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Value {
        var p = Parser(bytes: bytes)
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("unexpected \(p.here()) after the JSON value") }
        return v
    }

    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func fail(_ s: String) -> Failure { Failure(message: s) }

        /// The byte at the current position, for messages, with its 1-based offset in the header.
        func here() -> String {
            guard i < bytes.count else { return "the end of the header" }
            let b = bytes[i]
            let shown = (0x20..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
            return "\(shown) at byte \(i + 1)"
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func value(depth: Int) throws -> Value {
            skipSpace()
            guard i < bytes.count else { throw fail("expected a value, found the end of the header") }
            switch bytes[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth < SafeTensorsHeader.maxDepth else { throw fail("nested deeper than \(SafeTensorsHeader.maxDepth) levels at byte \(i + 1)") }
                return bytes[i] == UInt8(ascii: "{") ? try object(depth: depth + 1) : try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default:
                for (word, v) in [("true", Value.bool(true)), ("false", .bool(false)), ("null", .null)] where literal(word) {
                    i += word.utf8.count
                    return v
                }
                throw fail("expected a value, found \(here())")
            }
        }

        func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count else { return false }
            return (0..<w.count).allSatisfy { bytes[i + $0] == w[$0] }
        }

        mutating func object(depth: Int) throws -> Value {
            i += 1
            var members: [(key: String, value: Value)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key, found \(here())") }
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after the key '\(key)', found \(here())") }
                i += 1
                members.append((key, try value(depth: depth)))
                skipSpace()
                guard i < bytes.count else { throw fail("the object is not closed (expected ',' or '}')") }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                guard bytes[i] == UInt8(ascii: ",") else { throw fail("expected ',' or '}' after the value of '\(key)', found \(here())") }
                i += 1
            }
        }

        mutating func array(depth: Int) throws -> Value {
            i += 1
            var items: [Value] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth))
                skipSpace()
                guard i < bytes.count else { throw fail("the array is not closed (expected ',' or ']')") }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                guard bytes[i] == UInt8(ascii: ",") else { throw fail("expected ',' or ']' in an array, found \(here())") }
                i += 1
            }
        }

        /// A JSON number's text: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
        mutating func number() throws -> String {
            let start = i
            func digits() -> Int {
                let s = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                return i - s
            }
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            let intStart = i
            guard digits() > 0 else { throw fail("expected digits in a number, found \(here())") }
            guard bytes[intStart] != UInt8(ascii: "0") || i - intStart == 1 else { throw fail("number with a leading zero at byte \(start + 1)") }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw fail("expected digits after '.', found \(here())") }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw fail("expected digits in an exponent, found \(here())") }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        }

        /// A quoted string with JSON's escapes; control characters and lone surrogates refused.
        mutating func string() throws -> String {
            let open = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("the string opened at byte \(open + 1) is not closed") }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") { i += 1; break }
                guard b >= 0x20 else { throw fail("control character \(here()) inside a string (JSON needs an escape)") }
                if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("the string opened at byte \(open + 1) is not closed") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: Array(String(try unicodeEscape()).utf8))
                default:
                    i -= 1
                    throw fail("unknown escape \\\(here()) in a string")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// The scalar of `\uXXXX` (the `\u` already read), with a following `\uXXXX` for a
        /// surrogate pair.
        mutating func unicodeEscape() throws -> Unicode.Scalar {
            let hi = try hex4()
            if (0xDC00...0xDFFF).contains(hi) { throw fail("lone trailing surrogate \\u\(String(hi, radix: 16)) in a string") }
            guard (0xD800...0xDBFF).contains(hi) else { return Unicode.Scalar(hi)! }
            guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                throw fail("lone leading surrogate \\u\(String(hi, radix: 16)) in a string")
            }
            i += 2
            let lo = try hex4()
            guard (0xDC00...0xDFFF).contains(lo) else { throw fail("lone leading surrogate \\u\(String(hi, radix: 16)) in a string") }
            return Unicode.Scalar(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))!
        }

        mutating func hex4() throws -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard i < bytes.count, let d = Character(Unicode.Scalar(bytes[i])).hexDigitValue else {
                    throw fail("expected 4 hex digits after \\u, found \(here())")
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }
    }
}
