import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

func mlaOutputs<B: Backend>(_ run: MLADecode<B>, tokens: Int) -> [[Double]] {
    var out: [[Double]] = []
    var buf = [Double](repeating: 0, count: run.outputCount)
    for t in 0..<tokens {
        run.step()
        if run.config.evaluation.contains(t) {
            buf.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
            out.append(buf)
        }
    }
    return out
}

@Suite struct MLATests {
    /// A sparse sample of 1024 tokens (MLA's MPFR step is 576 + 2·512 operations per key).
    static let sample = EvaluationSchedule(dense: 8, perOctave: 2, stride: 256, last: 1023)

    @Test(arguments: [InputDistribution.gaussian, .sparseOutliers()])
    func float64AgreesWithMPFR128(dist: InputDistribution) throws {
        let cfg = MLAConfig(heads: 1, distribution: dist, evaluation: Self.sample)
        let f64 = try MLADecode(config: cfg, backend: Float64Backend())
        let mp = try MLADecode(config: cfg, backend: MPFRBackend(precision: 128))
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: 1024, comparison: .exact, outputAt: Self.sample.contains)
        #expect(s.outputMaxRelative < 1e-12, "\(dist): \(s.outputMaxRelative)")
        #expect(s.nonFinite == 0)
    }

    /// The absorbed form equals the naive one: k_nope = W_UK c, v = W_UV c per head, scores
    /// q_nope·k_nope + q_pe·k_pe, softmax, Σ p v (binary64, direct formula).
    @Test func absorbedEqualsNaiveForm() throws {
        let T = 48, H = 2
        let cfg = MLAConfig(heads: H, evaluation: .every)
        let run = try MLADecode(config: cfg, backend: Float64Backend())
        let outs = mlaOutputs(run, tokens: T)
        let L = 512, N = 128, V = 128, R = 64
        func weights(_ stream: String, _ rows: Int, _ h: Int) -> [[Double]] {
            let g = InputGenerator(seed: 0, stream: stream, dimension: L)
            return (0..<rows).map { i in g.row(head: h, position: i).map { Double(Float($0 / Double(L).squareRoot())) } }
        }
        let latents = (0..<T).map { s -> [Double] in run.exactLatent(s); return run.row }
        let ropes = (0..<T).map { s -> [Double] in run.exactRope(s); return Array(run.ropeRow[0..<R]) }
        for h in 0..<H {
            let wuk = weights("w_uk", N, h), wuv = weights("w_uv", V, h)
            for t in [0, 7, 31, 47] {
                let qn = InputGenerator(seed: 0, stream: "q_nope", dimension: N).row(head: h, position: t)
                var qp = InputGenerator(seed: 0, stream: "q_pe", dimension: R, float32Representable: false).row(head: h, position: t)
                qp.withUnsafeMutableBufferPointer { RotaryEmbedding(dimension: R).apply($0, position: t) }
                qp = qp.map { Double(Float($0)) }
                var scores: [Double] = []
                for s in 0...t {
                    var sc = 0.0
                    for i in 0..<N {
                        var kn = 0.0
                        for j in 0..<L { kn += wuk[i][j] * latents[s][j] }
                        sc += qn[i] * kn
                    }
                    for i in 0..<R { sc += qp[i] * ropes[s][i] }
                    scores.append(sc * cfg.scale)
                }
                let m = scores.max()!
                let p = scores.map { Foundation.exp($0 - m) }
                let l = p.reduce(0, +)
                var o = [Double](repeating: 0, count: V)
                for s in 0...t {
                    for i in 0..<V {
                        var v = 0.0
                        for j in 0..<L { v += wuv[i][j] * latents[s][j] }
                        o[i] += p[s] / l * v
                    }
                }
                #expect(relativeDistance(o, Array(outs[t][h * V..<(h + 1) * V])) < 1e-12, "h \(h) t \(t)")
            }
        }
    }

    @Test func flashMLARecipeIs656BytesPerToken() throws {
        let r = try Recipe.parse(MLAConfig.flashMLAFP8, allowed: MLAConfig.roles)
        #expect(MLAConfig().cacheBytesPerToken(recipe: r) == 656)
        #expect(MLAConfig().cacheBytesPerToken(recipe: .exact) == 576 * 4)
        let v32 = try Recipe.parse(DSAConfig.deepSeekV32FP8, allowed: DSAConfig.roles)
        #expect(DSAConfig().cacheBytesPerToken(recipe: v32) == 656 + 129)
        // The layouts by name, alone or beside other entries.
        #expect(try Recipe.parse("flashmla-fp8").description == r.description)
        let both = try Recipe.parse("deepseek-v3.2-fp8, q=bfloat16", allowed: DSAConfig.roles)
        #expect(both.roles == (v32.roles + [.q]).sorted())
        #expect(both[.q]?.spec == "bfloat16" && both[.indexer]?.spec == v32[.indexer]?.spec)
        #expect(throws: Recipe.ParseError.self) { try Recipe.parse("flashmla-fp9") }
    }

    @Test func ropeDependsOnRelativePosition() {
        let rope = RotaryEmbedding(dimension: 64)
        let g = InputGenerator(seed: 5, stream: "x", dimension: 64, float32Representable: false)
        func rotated(_ x: [Double], _ p: Int) -> [Double] {
            var y = x
            y.withUnsafeMutableBufferPointer { rope.apply($0, position: p) }
            return y
        }
        let x = g.row(head: 0, position: 0), y = g.row(head: 0, position: 1)
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        let a = dot(rotated(x, 100), rotated(y, 37)), b = dot(rotated(x, 1063), rotated(y, 1000))
        #expect(abs(a - b) < 1e-9 * abs(a))
        #expect(abs(dot(rotated(x, 5), rotated(x, 5)) - dot(x, x)) < 1e-12 * dot(x, x))
    }

    /// The FlashMLA fp8 cache: e4m3 latent per 128 + bf16 RoPE keys.
    @Test func flashMLAFP8CacheError() throws {
        let T = 2048
        let sched = EvaluationSchedule(dense: 0, perOctave: 2, stride: 512, last: T - 1)
        let cfg = MLAConfig(heads: 2, evaluation: sched)
        let ref = try MLADecode(config: cfg, backend: Float64Backend())
        let emu = try MLADecode(config: cfg, backend: Float32Backend(), recipe: try Recipe.parse(MLAConfig.flashMLAFP8))
        let s = Lockstep.run(reference: ref, approximation: emu, tokens: T, comparison: .double, outputAt: sched.contains)
        let tail = s.outputRelativeError.suffix(4)
        let mean = tail.reduce(0, +) / Double(tail.count)
        print("mla flashmla-fp8: output_rel_err \(mean), cache_rel_err \(emu.cacheRelativeError)")
        #expect(mean > 1e-3 && mean < 0.05)
        #expect(emu.cacheRelativeError > 0.01 && emu.cacheRelativeError < 0.04)
    }

    @Test func badInputIsRejected() throws {
        #expect(throws: VariantError.self) { try MLADecode(config: MLAConfig(heads: 0), backend: Float64Backend()) }
        #expect(throws: VariantError.self) {
            try MLADecode(config: MLAConfig(), backend: Float64Backend(), recipe: try Recipe.parse("k_cache=bfloat16"))
        }
        #expect(throws: VariantError.self) {
            try MLADecode(config: MLAConfig(), backend: Float64Backend(), recipe: try Recipe.parse("latent=float8_e4m3fn/per-tensor"))
        }
    }
}
