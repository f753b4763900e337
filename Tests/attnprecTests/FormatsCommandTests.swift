import CLITestSupport
import Foundation
import NumberFormats
import Testing
@testable import Workloads

@Suite struct FormatsCommandTests {
    @Test func listAndShow() throws {
        let list = try CLI.run(["formats", "list"])
        #expect(list.code == 0)
        #expect(list.out.contains("float8_e4m3fn") && list.out.contains("| 448 ") && list.out.contains("mxfp4"))
        let show = try CLI.run(["formats", "show", "e5m2"])
        #expect(show.code == 0 && show.out.contains("max finite: 57344") && show.out.contains("2^-16"))
        let bad = try CLI.run(["formats", "show", "e4m3/sideways"])
        #expect(bad.code == 2)
        #expect(bad.err.hasPrefix("attnprec: unknown part 'sideways'") && bad.err.split(separator: "\n").count == 1)
    }

    @Test func quantizeValuesCodesAndScales() throws {
        let dir = try CLI.tempDir()
        let x: [Float] = (0..<64).map { Float($0) * 0.37 - 9 } + [464, 465, -1e9, 0]
        try NPY.write(path: "\(dir)/x.npy", shape: [2, 34], float32: x)
        let r = try CLI.run(["formats", "quantize", "--format", "e4m3", "--overflow", "ieee", "\(dir)/x.npy", "\(dir)/y.npy"])
        #expect(r.code == 0, "\(r.err)")
        guard case .float32(let y) = try NPY.read(path: "\(dir)/y.npy").data else { Issue.record("dtype"); return }
        #expect(y[64] == 448 && y[65].isNaN && y[66].isNaN && y[67] == 0)
        let c = try CLI.run(["formats", "quantize", "--format", "e4m3", "--codes", "\(dir)/x.npy", "\(dir)/c.npy"])
        #expect(c.code == 0)
        let codes = try NPY.read(path: "\(dir)/c.npy")
        #expect(codes.descr == "|u1" && codes.shape == [2, 34])
        guard case .uint8(let cv) = codes.data else { Issue.record("dtype"); return }
        #expect(cv[64] == 0x7E && cv[65] == 0x7E && cv[66] == 0xFE)  // saturate by default for 8-bit
        let m = try CLI.run(["formats", "quantize", "--format", "mxfp4", "--codes", "\(dir)/x.npy", "\(dir)/m.npy"])
        #expect(m.code == 0)
        let scales = try NPY.read(path: "\(dir)/m.scales.npy")
        #expect(scales.descr == "|u1" && scales.shape == [2, 2])
        let h = try CLI.run(["formats", "quantize", "--format", "bf16", "--codes", "\(dir)/x.npy", "\(dir)/h.npy"])
        let hd = try NPY.read(path: "\(dir)/h.npy").descr
        #expect(h.code == 0 && hd == "<u2")
        let s1 = try CLI.run(["formats", "quantize", "--format", "bf16/stochastic", "--seed", "4", "\(dir)/x.npy", "\(dir)/s1.npy"])
        let s2 = try CLI.run(["formats", "quantize", "--format", "bf16", "--rounding", "stochastic", "--seed", "4", "\(dir)/x.npy", "\(dir)/s2.npy"])
        #expect(s1.code == 0 && s2.code == 0)
        let d1 = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s1.npy"))
        let d2 = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s2.npy"))
        #expect(d1 == d2)
    }

    /// The command's values (vectorised path) are the exact path's values, bit for bit.
    @Test(arguments: ["e4m3", "e4m3/per-token", "mxfp4", "nvfp4", "bf16/stochastic", "int8/per-token", "e8m0", "fp16/round-to-odd"])
    func quantizeValuesMatchTheLibrary(spec: String) throws {
        let dir = try CLI.tempDir()
        let x: [Float] = (0..<(4 * 64)).map { i in Float(i % 29) * 0.173 - 2.1 + (i % 31 == 0 ? 300 : 0) }
        try NPY.write(path: "\(dir)/x.npy", shape: [4, 64], float32: x)
        let r = try CLI.run(["formats", "quantize", "--format", spec, "--seed", "3", "\(dir)/x.npy", "\(dir)/y.npy"])
        #expect(r.code == 0, "\(r.err)")
        guard case .float32(let y) = try NPY.read(path: "\(dir)/y.npy").data else { Issue.record("dtype"); return }
        let s = try FormatSpec.parse(spec)
        var want = [Float](repeating: 0, count: x.count)
        _ = x.withUnsafeBufferPointer { xp in
            want.withUnsafeMutableBufferPointer {
                s.quantize(xp, shape: [4, 64], into: $0, codes: nil, random: CounterRandom(seed: 3, role: "quantize"))
            }
        }
        #expect(y.map(\.bitPattern) == want.map(\.bitPattern))
    }

    @Test func badInputExitsTwoWithOneLineAndNoOutput() throws {
        let dir = try CLI.tempDir()
        try NPY.write(path: "\(dir)/x.npy", shape: [3], float32: [1, 2, 3])
        try Data("not an array".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.npy"))
        try NPY.write(path: "\(dir)/u.npy", shape: [3], uint8: [1, 2, 3])
        let cases: [([String], String)] = [
            (["--format", "e9m9", "\(dir)/x.npy", "\(dir)/o.npy"], "format 'e9m9' in 'e9m9': a custom eXmY format needs 2 ≤ X ≤ 8"),
            (["--format", "e4m3/per-tokn", "\(dir)/x.npy", "\(dir)/o.npy"], "unknown part 'per-tokn'"),
            (["--format", "e4m3", "--rounding", "sideways", "\(dir)/x.npy", "\(dir)/o.npy"], "--rounding"),
            (["--format", "e4m3", "--overflow", "wrap", "\(dir)/x.npy", "\(dir)/o.npy"], "--overflow"),
            (["--format", "e4m3", "\(dir)/missing.npy", "\(dir)/o.npy"], "missing.npy: cannot read"),
            (["--format", "e4m3", "\(dir)/bad.npy", "\(dir)/o.npy"], "bad.npy: not a .npy file"),
            (["--format", "e4m3", "\(dir)/u.npy", "\(dir)/o.npy"], "is not a float"),
            (["--format", "e4m3", "\(dir)/x.npy", "/proc/attnprec-no/o.npy"], "o.npy: cannot write"),
            (["--format", "int4/group:2", "--codes", "\(dir)/x.npy", "\(dir)/o.npy"], "multiple of 2"),
        ]
        for (args, fragment) in cases {
            let r = try CLI.run(["formats", "quantize"] + args)
            #expect(r.code == 2, "\(args)")
            #expect(r.err.contains(fragment), "\(args): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !["x.npy", "bad.npy", "u.npy"].contains($0) }
        #expect(leftovers.isEmpty, "\(leftovers)")
        let usage = try CLI.run(["formats", "quantize", "--nope"])
        #expect(usage.code == 2)
    }

    @Test func earlierResultsSurviveAFailedWrite() throws {
        let dir = try CLI.tempDir()
        try NPY.write(path: "\(dir)/x.npy", shape: [32], float32: (0..<32).map { Float($0) })
        #expect(try CLI.run(["formats", "quantize", "--format", "mxfp4", "\(dir)/x.npy", "\(dir)/o.npy"]).code == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/o.npy"))
        try FileManager.default.createDirectory(atPath: "\(dir)/o.scales.npy.tmp.blocker", withIntermediateDirectories: true)
        let bad = try CLI.run(["formats", "quantize", "--format", "mxfp4/nope", "\(dir)/x.npy", "\(dir)/o.npy"])
        #expect(bad.code == 2)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/o.npy")) == before)
    }
}
