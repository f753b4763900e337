import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing

@testable import HybridStacks

@Suite struct HybridReferenceTests {
    /// A one-layer softmax stack equals the bare attention plus the projections, written out in
    /// closed form: x₁ = x₀ + W_o·attn(W_q h, W_k h, W_v h), h = RMSNorm(x₀), then the final RMSNorm.
    @Test func oneLayerStackIsTheVariantPlusItsProjections() throws {
        var m = StackModel(name: "toy", checkpoint: "none", source: "none", pattern: "gqa", mlpAfterEach: false, dModel: 8, intermediate: 8, vocab: 16)
        (m.attentionHeads, m.attentionKVHeads, m.attentionHeadDim) = (2, 1, 4)
        m.residual = nil
        let shape = try StackShape(model: m, width: 1)
        let T = 12, d = 8, seed: UInt64 = 3
        var o = StackRunOptions(tokens: T)
        o.seed = seed
        o.attribution = false
        let (reference, _) = try StackRun.run(shape, recipes: [StackRecipe(name: "exact")], options: o)
        let x0 = StackRun.embedding(tokens: T, width: d, seed: seed), w = LayerWeights.make(shape, layer: 0, seed: seed)
        func rms(_ v: ArraySlice<Double>) -> [Double] {
            let s = (v.reduce(0) { $0 + $1 * $1 } / Double(v.count) + m.rmsEps).squareRoot()
            return v.map { $0 / s }
        }
        func apply(_ W: WeightMatrix, _ x: [Double]) -> [Double] {
            (0..<W.rows).map { r in (0..<W.cols).reduce(0) { $0 + W.values[r * W.cols + $1] * x[$1] } }
        }
        let h = (0..<T).map { rms(x0[($0 * d)..<($0 * d + d)]) }
        let q = h.map { apply(w["q"], $0) }, k = h.map { apply(w["k"], $0) }, v = h.map { apply(w["v"], $0) }
        var last: [Double] = []
        for t in 0..<T {
            var o = [Double]()
            for head in 0..<2 {
                let qh = q[t][(head * 4)..<(head * 4 + 4)]
                let logits = (0...t).map { j in zip(qh, k[j]).reduce(0) { $0 + $1.0 * $1.1 } / 2 }
                let mx = logits.max()!, e = logits.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
                o += (0..<4).map { c in (0...t).reduce(0) { $0 + e[$1] / z * v[$1][c] } }
            }
            let y = apply(w["out"], o)
            last = rms(ArraySlice((0..<d).map { x0[t * d + $0] + y[$0] }))
        }
        let got = reference.last!.suffix(d)
        for (a, b) in zip(got, last) { #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(Array(got)) vs \(last)") }
    }

    /// Float64 against MPFR (160 bits) on each preset's shortest prefix that holds every layer type
    /// it has (8 layers, MiniMax-01's 16), at a small width over 128 tokens (issue 19's
    /// certification; the whole stack is `reference certify --variant hybrid`).
    @Test(arguments: StackModel.presets.map { ($0.name, "recurrent") } + [(StackModel.kimiLinear.name, "chunked")])
    func float64StackAgreesWithMPFR(_ preset: String, form: String) throws {
        let model = try StackModel.preset(preset)
        let width = model.name == StackModel.kimiLinear.name ? 1.0 / 32 : 1.0 / 64
        let all = try StackShape(model: model, width: width).layers
        let prefix = Set(all).map { k in all.firstIndex(of: k)! + 1 }.max()!
        #expect(prefix <= 16)
        let shape = try StackShape(model: model, width: width, prefix: prefix)
        var o = StackRunOptions(tokens: 128)
        o.form = form
        o.attribution = false
        o.referenceTier = .mpfr(bits: 160)
        o.emulatedTier = .float64
        o.jobs = 2
        let (_, streams) = try StackRun.run(shape, recipes: [StackRecipe(name: "exact")], options: o)
        let e = try #require(streams.first)
        #expect(e.hidden.last! < 1e-12, "\(preset) \(form): Float64 vs MPFR \(e.hidden)")
        #expect(e.residual.allSatisfy { $0 < 1e-12 }, "\(preset) \(form): per layer \(e.residual)")
    }

    /// Small independent errors (a bf16 GDN state, a bf16 KV cache, a bf16 residual): the
    /// quadrature sum of each source alone is within 1.5× of the all-rounded error.
    @Test func attributionAddsInQuadrature() throws {
        var m = StackModel.qwen3Next
        m.pattern = "2*gated_deltanet, gated_attention"
        let shape = try StackShape(model: m, width: 1.0 / 16)
        let r = try StackRecipe.parse(name: "bf16", [("gated_attention", "k_cache=bfloat16,v_cache=bfloat16"), ("gated_deltanet", "state=bfloat16"), ("residual", "bfloat16")],
                                      shape: shape, form: "recurrent", where: "test")
        var o = StackRunOptions(tokens: 128)
        o.jobs = 2
        let records = try HybridRunner.records(HybridSpec(name: "qwen3-next", shape: shape, recipes: [r], options: o))
        let all = try #require(records.first { $0.only == nil }).finalError
        let parts = records.filter { $0.only != nil }
        #expect(Set(parts.map { $0.only! }) == ["gated_deltanet", "gated_attention", "residual"])
        let quad = parts.reduce(0) { $0 + $1.finalError * $1.finalError }.squareRoot()
        #expect(quad / all > 1 / 1.5 && quad / all < 1.5, "√Σ \(quad) vs all \(all)")
    }
}
