import Testing
import NumberFormats

/// A bad-input message stays one line whatever the input echoed into it held.
@Suite struct InputErrorTests {
    @Test func controlCharactersAreEscaped() {
        #expect(InputError("a.yaml: unknown key 'x\ny'").message == "a.yaml: unknown key 'x\\ny'")
        #expect(InputError("tab\there, cr\r, esc\u{1b}[31m, del\u{7f}, nel\u{85}, ls\u{2028}").message
            == "tab\\there, cr\\r, esc\\u{1b}[31m, del\\u{7f}, nel\\u{85}, ls\\u{2028}")
        #expect(InputError("plain 'é' and ✓ stay").message == "plain 'é' and ✓ stay")
        #expect(!"\(InputError("x\ny\u{0}z"))".contains("\n"))
    }
}
