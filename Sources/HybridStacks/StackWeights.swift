import Foundation
import NumberFormats
import Workloads

/// One weight tensor of a layer: rows × cols, row-major, every value a bfloat16 (the reference
/// and the emulation read the same values).
public struct WeightMatrix: Sendable {
    public let rows: Int
    public let cols: Int
    public let values: [Double]

    /// The values of the transpose (cols × rows, row-major).
    public var transposed: [Double] {
        [Double](unsafeUninitializedCapacity: values.count) { b, n in
            for r in 0..<rows { for c in 0..<cols { b[c * rows + r] = values[r * cols + c] } }
            n = values.count
        }
    }
}

/// The weights of one layer, from the counter-based generator keyed by (seed, layer, name):
/// projections N(0, σ²) with the models' init scale 0.02 scaled with width (σ = 0.02/√w, so
/// σ²·fan-in is what the full-width model has; the output projections σ/√(2N), Megatron-LM's
/// scaled init over the model's N layers), short-conv taps N(0, 1/k), and the gates'
/// constants drawn from the model's initialisation ranges (A = exp(A_log) ∈ aRange, dt log-uniform
/// in dtRange, dt_bias its inverse softplus).
public struct LayerWeights: Sendable {
    public var matrices: [String: WeightMatrix] = [:]
    /// Per-head (or per-channel) constants: A_log, dt_bias, D.
    public var constants: [String: [Double]] = [:]

    public subscript(_ name: String) -> WeightMatrix { matrices[name]! }

    static let bf16 = ElementRounder(format: .bfloat16)

    /// rows × cols values N(0, sigma²) rounded to bfloat16.
    static func matrix(seed: UInt64, layer: Int, name: String, rows: Int, cols: Int, sigma: Double) -> WeightMatrix {
        let n = rows * cols
        let values = [Double](unsafeUninitializedCapacity: n) { b, count in
            CounterStream(seed: seed, stream: "hybrid.\(name)", head: layer, position: 0).normals(into: b.baseAddress!, from: 0, count: n)
            for i in 0..<n { b[i] = bf16.round(b[i] * sigma) }
            count = n
        }
        return WeightMatrix(rows: rows, cols: cols, values: values)
    }

    /// n values uniform in `range` (log-uniform when `log`), from the stream `name`.
    static func uniform(seed: UInt64, layer: Int, name: String, count n: Int, range: ClosedRange<Double>, log: Bool) -> [Double] {
        let s = CounterStream(seed: seed, stream: "hybrid.\(name)", head: layer, position: 0)
        return (0..<n).map { i in
            let u = s.uniform(i)
            if log { return Foundation.exp(Foundation.log(range.lowerBound) + u * (Foundation.log(range.upperBound) - Foundation.log(range.lowerBound))) }
            return range.lowerBound + u * (range.upperBound - range.lowerBound)
        }
    }

    /// The weights of layer `index` (of kind `kind`) of `shape`.
    public static func make(_ shape: StackShape, layer index: Int, seed: UInt64) -> LayerWeights {
        var w = LayerWeights()
        let m = shape.model, sigma = 0.02 / shape.width.squareRoot()
        func add(_ name: String, _ rows: Int, _ cols: Int, sigma s: Double = sigma) {
            w.matrices[name] = matrix(seed: seed, layer: index, name: name, rows: rows, cols: cols, sigma: s)
        }
        let kind = shape.layers[index]
        // Output projections (a layer's `out`, the MLP's `down`) at σ/√(2·N), N the model's
        // mixer layers — Megatron-LM's scaled init for the layers writing to the residual
        // stream, so each layer's update stays small beside the stream as in a trained model.
        let depth = Double(max(1, (try? LayerPattern.parse(m.pattern).count) ?? shape.layers.count))
        for (name, rows, cols) in shapes(shape, kind) {
            add(name, rows, cols, sigma: name == "out" || name == "down" ? sigma / (2 * depth).squareRoot() : sigma)
        }
        let conv = shape.convChannels(kind)
        if conv > 0 { add("conv", conv, m.convKernel, sigma: 1 / Double(m.convKernel).squareRoot()) }
        let gateHeads: Int
        switch kind {
        case .gatedDeltaNet: gateHeads = shape.linearValueHeads
        case .kda: gateHeads = shape.linearValueHeads * m.linearKeyDim
        case .mamba2: gateHeads = shape.ssmHeads
        default: gateHeads = 0
        }
        if gateHeads > 0 {
            let heads = kind == .kda ? shape.linearValueHeads : gateHeads
            w.constants["A_log"] = uniform(seed: seed, layer: index, name: "A", count: heads, range: m.aRange, log: false).map { bf16.round(Foundation.log($0)) }
            let dt = uniform(seed: seed, layer: index, name: "dt", count: gateHeads, range: m.dtRange, log: true)
            // dt_bias = softplus⁻¹(dt) = dt + log(−expm1(−dt)).
            w.constants["dt_bias"] = dt.map { bf16.round($0 + Foundation.log(-Foundation.expm1(-$0))) }
        }
        if kind == .mamba2 { w.constants["D"] = [Double](repeating: 1, count: shape.ssmHeads) }
        return w
    }

    /// The projection matrices of a layer of `kind` (name, rows = outputs, cols = inputs).
    static func shapes(_ s: StackShape, _ kind: LayerKind) -> [(String, Int, Int)] {
        let m = s.model, d = s.dModel
        let (hk, hv, K, V) = (s.linearKeyHeads, s.linearValueHeads, m.linearKeyDim, m.linearValueDim)
        let (hq, hkv, D) = (s.attentionHeads, s.attentionKVHeads, m.attentionHeadDim)
        switch kind {
        case .gatedDeltaNet:
            return [("q", hk * K, d), ("k", hk * K, d), ("v", hv * V, d), ("z", hv * V, d), ("b", hv, d), ("a", hv, d), ("out", d, hv * V)]
        case .kda:
            return [("q", hk * K, d), ("k", hk * K, d), ("v", hv * V, d), ("f", hv * K, d), ("b", hv, d), ("gate", hv * V, d), ("out", d, hv * V)]
        case .mamba2:
            let (h, p, g, n) = (s.ssmHeads, m.ssmHeadDim, s.ssmGroups, m.ssmState)
            return [("z", h * p, d), ("x", h * p, d), ("B", g * n, d), ("C", g * n, d), ("dt", h, d), ("out", d, h * p)]
        case .lightning:
            return [("q", hk * K, d), ("k", hk * K, d), ("v", hk * V, d), ("gate", hk * V, d), ("out", d, hk * V)]
        case .attention:
            return [("q", hq * D, d), ("k", hkv * D, d), ("v", hkv * D, d), ("out", d, hq * D)]
        case .gatedAttention:
            return [("q", hq * D, d), ("k", hkv * D, d), ("v", hkv * D, d), ("gate", hq * D, d), ("out", d, hq * D)]
        case .mla:
            let h = s.attentionHeads, (L, R, N, Vl) = (m.latentDim, m.latentRope, m.latentNope, m.latentValue)
            return [("q_nope", h * N, d), ("q_pe", h * R, d), ("kv_a", L, d), ("k_pe", R, d), ("wkv_b", h * (N + Vl), L), ("out", d, h * Vl)]
        case .mlp:
            let f = s.intermediate
            return m.mlp == .swiglu ? [("gate", f, d), ("up", f, d), ("down", d, f)] : [("up", f, d), ("down", d, f)]
        }
    }

    /// The seeded LM head (vocab × d) and the embedding rows of the input tokens.
    public static func lmHead(_ shape: StackShape, seed: UInt64) -> WeightMatrix {
        matrix(seed: seed, layer: -1, name: "lm_head", rows: StackShape.vocab, cols: shape.dModel, sigma: 1 / Double(shape.dModel).squareRoot())
    }
}
