import CLITestSupport
import Foundation
import Testing
@testable import Workloads

/// Issue 16 item 6: numeric flags, format-spec ranges, dtypes, directories and Inf-poisoned rows
/// give one line (exit 2, or a warning) that names the flag or part, the value and the range.
@Suite struct InputMessageTests {
    static func refusal(_ args: [String], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try CLI.run(args)
        #expect(r.code == 2, "\(args): exit \(r.code) \(r.err)", sourceLocation: sourceLocation)
        #expect(r.err.split(separator: "\n").count == 1 && !r.err.contains("Missing value") && !r.err.contains("NSCocoaErrorDomain"),
                "\(args): \(r.err)", sourceLocation: sourceLocation)
        for f in fragments { #expect(r.err.contains(f), "\(args): '\(f)' not in \(r.err)", sourceLocation: sourceLocation) }
    }

    @Test func negativeNumbersReachTheirFlags() throws {
        try Self.refusal(["run", "--jobs", "-1", "x.yaml"], ["--jobs: expected ≥ 1, got -1"])
        try Self.refusal(["validate", "--jobs", "-1", "x.yaml"], ["--jobs: expected ≥ 1, got -1"])
        try Self.refusal(["run", "--shard", "-1/2", "x.yaml"], ["--shard", "1 ≤ I ≤ N", "'-1/2'"])
        try Self.refusal(["formats", "quantize", "--format", "bf16", "--seed", "-1", "a.npy", "b.npy"], ["'-1'", "--seed", "0...18446744073709551615"])
        try Self.refusal(["replay", "--variant", "moba", "--top-k", "-1", "x"], ["'-1'", "--top-k", "≥ 1"])
        try Self.refusal(["replay", "--variant", "nsa", "--window", "0", "x"], ["'0'", "--window", "≥ 1"])
        try Self.refusal(["replay", "--variant", "linear", "--certify-tokens", "-5", "x"], ["--certify-tokens: expected 0...65536, got -5"])
        try Self.refusal(["bench", "kernels", "--seconds", "-1"], ["--seconds: expected (0, 60], got -1.0"])
        try Self.refusal(["reference", "certify", "--variant", "linear", "--bits", "-3"], ["--bits: expected 24...8192, got -3"])
    }

    @Test func formatSpecRangesAreStated() throws {
        try Self.refusal(["formats", "show", "float8_e4m3fn/block:0"], ["block size '0' is out of range", "1...1048576"])
        try Self.refusal(["formats", "show", "float8_e4m3fn/block:-3"], ["'-3' is out of range", "1...1048576"])
        try Self.refusal(["formats", "show", "int4/group:x"], ["group size 'x' is not an integer", "1...1048576"])
        try Self.refusal(["formats", "show", "bf16/stochastic:0"], ["out of range", "1...32"])
        try Self.refusal(["formats", "show", "bf16/stochastic:99"], ["'99' is out of range", "1...32"])
        for (spec, x, m) in [("e11m52", 11, 52), ("e9m20", 9, 20), ("e1m1", 1, 1)] {
            try Self.refusal(["formats", "show", spec], ["2 ≤ X ≤ 8 exponent bits", "0 ≤ Y ≤ 23 mantissa bits", "X = \(x), Y = \(m)"])
        }
    }

    @Test func dtypesAsWrittenAndDirectories() throws {
        let dir = try CLI.tempDir()
        for (name, descr) in [("o1", "|O"), ("o2", "O")] {
            var d = [UInt8](NPY.encode(shape: [1], descr: "<f8", payload: Data(count: 8)))
            let at = d.firstIndex(of: UInt8(ascii: "<"))!
            // `<f8'` (4 bytes) becomes the dtype, its closing quote and spaces: the header keeps its length.
            d.replaceSubrange(at..<at + 4, with: Array((descr + "'").padding(toLength: 4, withPad: " ", startingAt: 0).utf8))
            try Data(d).write(to: URL(fileURLWithPath: "\(dir)/\(name).npy"))
            try Self.refusal(["formats", "quantize", "--format", "bf16", "\(dir)/\(name).npy", "\(dir)/out.npy"], ["unsupported dtype '\(descr)';"])
        }
        try Self.refusal(["formats", "quantize", "--format", "bf16", dir, "\(dir)/out.npy"], ["\(dir): is a directory, expected a file"])
    }

    @Test func infPoisonedRowsWarnAsNaNDoes() throws {
        let dir = try CLI.tempDir()
        try NPY.write(path: "\(dir)/x.npy", shape: [2, 4], float32: [1, 2, .infinity, 4, 5, 6, 7, 8])
        let r = try CLI.run(["formats", "quantize", "--format", "float8_e4m3fn/per-token", "\(dir)/x.npy", "\(dir)/y.npy"])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.err.contains("warning: \(dir)/x.npy: 1 Inf input(s) made their per-token scale infinite; 3 finite value(s) sharing it became NaN"), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1)
        let plain = try CLI.run(["formats", "quantize", "--format", "bf16", "\(dir)/x.npy", "\(dir)/z.npy"])
        #expect(plain.code == 0 && !plain.err.contains("warning"), "\(plain.err)")
    }
}
