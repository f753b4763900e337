import CLITestSupport
import Foundation
import NumberFormats
import Testing
import Workloads

/// `attnprec formats conform` end to end: ml_dtypes' encodings conform, a kernel that breaks
/// ties away is found and explained, bad files exit 2 with one line.
@Suite struct ConformCLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NumberFormatsTests/Fixtures/conform").path

    /// Every encoding ml_dtypes made (scripts/make-conform-fixtures.py) conforms: exit 0.
    @Test func mlDtypesFixturesConform() throws {
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(Self.fixtures)/manifest.json"))) as! [[String: String]]
        #expect(manifest.count == 12)
        for entry in manifest {
            var args = ["formats", "conform", "--format", entry["format"]!, "\(Self.fixtures)/\(entry["input"] ?? "input.npy")", "\(Self.fixtures)/\(entry["codes"]!)"]
            if let s = entry["scales"] { args += ["--scales", "\(Self.fixtures)/\(s)"] }
            let r = try CLI.run(args)
            #expect(r.code == 0, "\(entry): \(r.out) \(r.err)")
            #expect(r.out.contains("CONFORMS to"))
        }
    }

    /// A kernel rounding ties away (made here by the quantizer under nearest-away): exit 1, the
    /// ties listed, --explain names the spec, --junit has a failing `codes` case.
    @Test func tiesAwayKernelIsFoundAndExplained() throws {
        let dir = try CLI.tempDir()
        let x = (0..<256).map { Float($0 - 128) / 16 }  // k/16: many ties at 3 mantissa bits
        try NPY.write(path: "\(dir)/x.npy", shape: [4, 64], float32: x)
        let theirs = try FormatSpec.parse("e4m3/per-token/nearest-away").reference(x, shape: [4, 64])
        try Data(NPY.encode(shape: [4, 64], descr: "|u1", payload: NPY.data(of: theirs.codes.map { UInt8($0) })))
            .write(to: URL(fileURLWithPath: "\(dir)/c.npy"))
        try Data(NPY.encode(shape: [4, 1], descr: "<f4", payload: NPY.data(of: theirs.scales))).write(to: URL(fileURLWithPath: "\(dir)/s.npy"))
        let r = try CLI.run(["formats", "conform", "--format", "e4m3/per-token", "\(dir)/x.npy", "\(dir)/c.npy", "--scales", "\(dir)/s.npy",
            "--explain", "--junit", "\(dir)/j.xml"])
        #expect(r.code == 1, "\(r.err)")
        #expect(r.out.contains("tie broken differently:") && r.out.contains("scales: 0 of 4 differ"))
        #expect(r.out.contains("these match `float8_e4m3fn/per-token/nearest-away`"), "\(r.out)")
        #expect(r.out.split(separator: "\n").last!.hasPrefix("DOES NOT CONFORM"))
        let junit = try String(contentsOfFile: "\(dir)/j.xml", encoding: .utf8)
        #expect(junit.contains("<testcase name=\"codes\"") && junit.contains("<failure") && junit.contains("<testcase name=\"scales\""))
        let ok = try CLI.run(["formats", "quantize", "--format", "e4m3/per-token", "--codes", "\(dir)/x.npy", "\(dir)/ours.npy"])
        #expect(ok.code == 0)
        let same = try CLI.run(["formats", "conform", "--format", "e4m3/per-token", "\(dir)/x.npy", "\(dir)/ours.npy", "--scales", "\(dir)/ours.scales.npy"])
        #expect(same.code == 0, "\(same.out)")
    }

    @Test func badInputsExitTwoWithOneLine() throws {
        let dir = try CLI.tempDir()
        try NPY.write(path: "\(dir)/x.npy", shape: [2, 32], float32: (0..<64).map { Float($0) })
        try Data(NPY.encode(shape: [2, 32], descr: "|u1", payload: NPY.data(of: [UInt8](repeating: 0x10, count: 64))))
            .write(to: URL(fileURLWithPath: "\(dir)/c.npy"))
        let r = try CLI.run(["formats", "conform", "--format", "e2m1", "\(dir)/x.npy", "\(dir)/c.npy", "--junit", "\(dir)/j.xml"])
        #expect(r.code == 2 && r.out.isEmpty)
        #expect(r.err.hasPrefix("attnprec: \(dir)/c.npy: code 0x10 at index (0, 0) is outside float4_e2m1fn"), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/j.xml"))
    }

    /// A budgets file's `conformance:` section, run by `validate`: the table, the JUnit suite
    /// (merged beside the budgets' suite), exit 1 on a difference, 2 on a missing file.
    @Test func validateRunsTheConformanceSection() throws {
        let dir = try CLI.tempDir()
        let fx = Self.fixtures
        let x = (0..<256).map { Float($0 - 128) / 16 }
        try NPY.write(path: "\(dir)/x.npy", shape: [4, 64], float32: x)
        let away = try FormatSpec.parse("e4m3/nearest-away").reference(x, shape: [4, 64])
        try Data(NPY.encode(shape: [4, 64], descr: "|u1", payload: NPY.data(of: away.codes.map { UInt8($0) })))
            .write(to: URL(fileURLWithPath: "\(dir)/away.npy"))
        let good = """
            conformance:
              - {name: mldtypes-e5m2, format: float8_e5m2/ieee, input: \(fx)/input.npy, codes: \(fx)/codes_float8_e5m2.npy}
              - {name: mldtypes-mxfp4, format: mxfp4, input: \(fx)/input_mx.npy, codes: \(fx)/codes_mxfp4.npy, scales: \(fx)/scales_mxfp4.npy}
            """
        try good.write(toFile: "\(dir)/good.yaml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["validate", "\(dir)/good.yaml", "--junit", "\(dir)/good.xml"])
        #expect(r.code == 0, "\(r.out) \(r.err)")
        #expect(r.out.contains("2 conformance checks, 2 conform, 0 fail"))
        let xml = try String(contentsOfFile: "\(dir)/good.xml", encoding: .utf8)
        #expect(xml.contains("tests=\"3\" failures=\"0\"") && xml.contains("mldtypes-mxfp4/scales"))
        try (good + "\n  - {name: kernel, format: e4m3, input: x.npy, codes: away.npy}\n").write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        let b = try CLI.run(["validate", "\(dir)/bad.yaml", "--summary", "\(dir)/s.md"])
        #expect(b.code == 1)
        #expect(b.out.contains("FAIL kernel:") && b.out.contains("these match `float8_e4m3fn/nearest-away`"))
        #expect(try String(contentsOfFile: "\(dir)/s.md", encoding: .utf8).contains("| kernel | `float8_e4m3fn` | ❌ differs |"))
        try "conformance:\n  - {name: gone, format: e4m3, input: x.npy, codes: missing.npy}\n".write(toFile: "\(dir)/missing.yaml", atomically: true, encoding: .utf8)
        let m = try CLI.run(["validate", "\(dir)/missing.yaml"])
        #expect(m.code == 2 && m.out.isEmpty)
        #expect(m.err.hasPrefix("attnprec: \(dir)/missing.yaml:2: conformance 'gone': \(dir)/missing.npy"), "\(m.err)")
        try "conformance:\n  - {name: n, format: e4m3/sideways, input: x.npy, codes: away.npy}\n".write(toFile: "\(dir)/spec.yaml", atomically: true, encoding: .utf8)
        let sp = try CLI.run(["validate", "\(dir)/spec.yaml"])
        #expect(sp.code == 2 && sp.err.contains("spec.yaml:2: conformance 'n': format:") && sp.err.contains("sideways"), "\(sp.err)")
    }
}
