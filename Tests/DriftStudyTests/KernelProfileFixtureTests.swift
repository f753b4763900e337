import Foundation
import Testing
import Workloads
@testable import DriftStudy

/// The checked kernel profiles against real GPU kernels: each fixture under Tests/Fixtures/kernels
/// (made by scripts/real-kernels/make-fixtures.py on an H100: torch 2.11's SDPA flash backend,
/// flash-linear-attention 0.6.0's chunk and fused_recurrent kernels) holds one head's inputs as
/// the kernel saw them and the kernel's real outputs (`real_*`). Replay emulates the profile on
/// those inputs; its error and the real output's error, both against replay's exact reference,
/// averaged over the last 64 positions up to T, must agree within ±15% at every T checked.
@Suite(.serialized) struct KernelProfileFixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/kernels").standardized.path

    struct Case: Sendable, CustomTestStringConvertible {
        var variant: String, file: String, form: String, kernel: String, real: String
        var normalised = false
        var testDescription: String { "\(variant) \(kernel) vs \(real)" }
    }

    static let cases: [Case] = [
        Case(variant: "mha", file: "sdpa-flash-d128-t2048", form: "recurrent", kernel: "fa2-bf16", real: "real_fa2_bf16"),
        Case(variant: "mha", file: "sdpa-flash-d128-t2048", form: "recurrent", kernel: "fa2-fp16", real: "real_fa2_fp16"),
        Case(variant: "gated_deltanet", file: "fla-gated_deltanet-k128-t2048", form: "chunked", kernel: "fla-chunk-bf16", real: "real_chunk", normalised: true),
        Case(variant: "gated_deltanet", file: "fla-gated_deltanet-k128-t2048", form: "recurrent", kernel: "fla-recurrent-bf16", real: "real_fused_recurrent", normalised: true),
        Case(variant: "kda", file: "fla-kda-k128-t1024", form: "chunked", kernel: "fla-chunk-bf16", real: "real_chunk", normalised: true),
        Case(variant: "kda", file: "fla-kda-k128-t1024", form: "recurrent", kernel: "fla-recurrent-bf16", real: "real_fused_recurrent", normalised: true),
        Case(variant: "gla", file: "fla-gla-k128-t1024", form: "chunked", kernel: "fla-chunk-bf16", real: "real_chunk"),
        Case(variant: "gla", file: "fla-gla-k128-t1024", form: "recurrent", kernel: "fla-recurrent-bf16", real: "real_fused_recurrent"),
        Case(variant: "linear", file: "fla-linear-k128-t1024", form: "chunked", kernel: "fla-chunk-bf16", real: "real_chunk"),
        Case(variant: "linear", file: "fla-linear-k128-t1024", form: "recurrent", kernel: "fla-recurrent-bf16", real: "real_fused_recurrent"),
    ]

    /// Mean of the per-position relative errors over the 64 positions ending at T.
    static func meanLast64(_ e: [Double], _ T: Int) -> Double { e[(T - 64)..<T].reduce(0, +) / 64 }

    @Test(arguments: cases) func profileMatchesTheRealKernel(_ c: Case) throws {
        let path = "\(Self.fixtures)/\(c.file).safetensors"
        let out = try StudyFixture.tempDir() + "/out"
        var o = Replay.Options(variant: c.variant, inputs: path, out: out)
        o.kernels = [c.kernel]
        o.form = c.form
        o.qkL2Norm = !c.normalised
        o.certifyTokens = 16
        o.jobs = 1
        let result = try Replay.run(o)
        let emulated = result.series[0].outputRelErr
        // The real output against the same reference, position by position.
        let reference = try NPY.read(path: out + "/o_ref.npy")
        guard case .float64(let ref) = reference.data else { Issue.record("o_ref.npy is not float64"); return }
        let real = try #require(try TensorFile.open(path)[c.real])
        let T = result.tokens, width = ref.count / T
        #expect(real.count == ref.count)
        let realErrors = (0..<T).map { t -> Double in
            var d = 0.0, n = 0.0
            for j in 0..<width {
                let r = ref[t * width + j], x = real.element(t * width + j)
                d += (x - r) * (x - r)
                n += r * r
            }
            return (d / n).squareRoot()
        }
        for checkT in [512, 1024, 2048] where checkT <= T {
            let ratio = Self.meanLast64(emulated, checkT) / Self.meanLast64(realErrors, checkT)
            #expect(ratio > 0.85 && ratio < 1.15, "\(c.testDescription) at T=\(checkT): emulated/real = \(ratio)")
        }
        // The fixture's real error is not noise: a kernel in bf16 or fp16 is far from exact.
        #expect(Self.meanLast64(realErrors, T) > 1e-4)
    }
}
