import Testing
@testable import Workloads

/// The `.npy` header grammar: what NumPy writes and reads is accepted, what it refuses is
/// refused, and the README's stricter refusals (ambiguous or never written by NumPy) too.
@Suite struct NPYHeaderTests {
    func parse(_ text: String, major: UInt8 = 1) throws -> NPYHeader {
        try NPYHeader.parse(text, major: major, path: "x.npy")
    }

    func failure(_ text: String, major: UInt8 = 1) -> String {
        do {
            let h = try parse(text, major: major)
            return "accepted: \(h)"
        } catch { return "\(error)" }
    }

    @Test func acceptsWhatNumPyWrites() throws {
        #expect(try parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 64), }          \n")
            == NPYHeader(descr: "<f4", fortran: false, shape: [2, 64]))
        #expect(try parse("{'descr': '|u1', 'fortran_order': True, 'shape': (7,), }\n").shape == [7])
        #expect(try parse("{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n").shape == [])
        // Other spellings literal_eval reads: double quotes, no trailing comma, any whitespace
        // between tokens, key order, a 0-length axis, NumPy's Python 2 'L' in versions 1 and 2.
        let odd = try parse("\n{\"shape\":\t(3 ,4\n,0) ,\"fortran_order\":True,\"descr\":\"=f2\"}\n\n ")
        #expect(odd == NPYHeader(descr: "<f2", fortran: true, shape: [3, 4, 0]))
        #expect(try parse("{'descr': 'u1', 'fortran_order': False, 'shape': (5L, 2L), }", major: 2).shape == [5, 2])
        #expect(try parse("{'descr': 'u1', 'fortran_order': False, 'shape': (1,)}").descr == "|u1")
        #expect(try parse("{'descr': '>f8', 'fortran_order': False, 'shape': (0,)}").descr == ">f8")
    }

    @Test(arguments: [
        // What NumPy refuses too.
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "unexpected 'x' at character 59 after the closing '}'"),
        ("{'descr': '<f4',, 'fortran_order': False, 'shape': (2,)}", "expected a quoted string as a key, found ','"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", "entries must be non-negative decimal integers; found ','"),
        ("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}' after the value of 'descr'"),
        ("{'descr': '<f4', 'shape': (2,)}", "expected exactly the keys 'descr', 'fortran_order', 'shape'; found 'descr', 'shape'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unsupported value for 'x'"),
        ("{'descr': 'Qf4', 'fortran_order': False, 'shape': (2,)}", "dtype 'Qf4': byte order 'Q' is not one of"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "unsupported value for 'fortran_order'"),
        ("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}", "unsupported value for 'fortran_order'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "unsupported value for 'shape'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "found '-'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", "found '.'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}", "leading zero"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "after the value of 'shape', found the end of the header"),
        ("{'descr': '<f4\n', 'fortran_order': False, 'shape': (2,)}", "'\\n' at character 15 in a string"),
        ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "unsupported value for 'descr'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}", "a 1-tuple needs a trailing comma"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\u{07}", "unexpected '\\u{7}' at character 56"),
        // Stricter than NumPy (README): ambiguity and spellings NumPy never writes.
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 64), 'shape': (4, 64)}", "the key 'shape' is given twice"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 2)}", "found 'T'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (+2,)}", "found '+'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,)}", "found '_'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,)}", "found 'x'"),
        ("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}", "escapes and line breaks are not supported"),
        ("{'descr': u'<f4', 'fortran_order': False, 'shape': (2,)}", "unsupported value for 'descr'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} # comment", "unexpected '#'"),
    ])
    func refuses(header: String, message: String) {
        let got = failure(header)
        #expect(got.hasPrefix("x.npy: .npy header: "), "\(got)")
        #expect(got.contains(message), "\(got)")
        #expect(!got.contains("\n"))
    }

    @Test func pythonTwoSuffixOnlyInOldVersions() {
        #expect(failure("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}", major: 3).contains("found 'L'"))
    }
}
