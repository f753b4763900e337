import AttentionVariants
import Dispatch
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// One stack evaluated on one backend tier under one recipe, layer by layer over the whole
/// sequence: layer l reads the residual stream of every position from layer l − 1 and writes
/// its own. Each mixer advances token by token (the decode form) or chunk by chunk, so every
/// value equals the one a token-major decode of the stack computes; evaluating layer-major lets
/// the reference and the emulations step through depth together (`StackLockstep`).
final class StackStream<B: Backend> {
    let b: B
    let shape: StackShape
    let recipe: StackRecipe
    let form: String
    let tokens: Int
    let seed: UInt64
    /// The residual stream (T × d_model) and the last layer's output before the residual.
    let x: Tensor
    private(set) var y: Tensor
    private var slots: [String: Tensor] = [:]
    /// Non-finite values the caches stored (NaN fails every check; a non-finite state or output
    /// reaches the errors as NaN).
    var storedNonFinite = 0
    /// Seconds spent in `apply` (the whole layer) and in the mixer kernels alone (`runMixer`).
    var applySeconds = 0.0, mixerSeconds = 0.0
    /// How a mixer's stepped run advances blocks of tokens (a fused path that reproduces it bit
    /// for bit, or one token at a time).
    let blockRun: @Sendable (SteppedRun) -> BlockRun

    init(backend: B, shape: StackShape, recipe: StackRecipe, form: String, tokens: Int, seed: UInt64, embedding: [Double],
         blockRun: @escaping @Sendable (SteppedRun) -> BlockRun) {
        (b, self.shape, self.recipe, self.form, self.tokens, self.seed) = (backend, shape, recipe, form, tokens, seed)
        self.blockRun = blockRun
        x = b.allocate(rows: tokens, cols: shape.dModel)
        b.load(x, embedding)
        y = x
    }

    var d: Int { shape.dModel }

    /// A T × cols scratch tensor named `name` (reused by later layers; grown when too small).
    func buffer(_ name: String, _ cols: Int, rows: Int? = nil) -> Tensor {
        let r = rows ?? tokens
        if let s = slots[name], s.count >= r * cols { return Tensor(offset: s.offset, rows: r, cols: cols) }
        let t = b.allocate(rows: r, cols: cols)
        slots[name] = t
        return t
    }

    /// The weight matrix loaded into the backend transposed (cols × rows: inputs × outputs), so
    /// that a product walks it row by row.
    func weight(_ name: String, _ w: WeightMatrix) -> Tensor {
        let t = buffer("W." + name, w.rows, rows: w.cols)
        b.load(t, w.transposed)
        return t
    }

    /// A 1×n row of constants.
    func row(_ name: String, _ values: [Double]) -> Tensor {
        let t = buffer("c." + name, values.count, rows: 1)
        b.load(t, values)
        return t
    }

    /// out ← inp·Wᵀ (each element a fixed-order dot product over the input channels).
    func linear(_ out: Tensor, _ inp: Tensor, _ name: String, _ w: LayerWeights) {
        b.gemm(out, inp, transposeA: false, weight(name, w[name]), transposeB: false, accumulate: false)
    }

    /// A new T × rows(W) buffer named `name` holding h·Wᵀ.
    func project(_ name: String, _ h: Tensor, _ w: LayerWeights) -> Tensor {
        let t = buffer("p." + name, w[name].rows)
        linear(t, h, name, w)
        return t
    }

    /// Each row, in groups of `group` channels: g ← g·(mean(g²) + eps)^(−1/2) (RMSNorm, weight 1),
    /// as x·√n·(Σx² + n·eps)^(−1/2).
    func rmsNorm(_ t: Tensor, group: Int) {
        let n = group, root = b.scalar(Double(n).squareRoot()), eps = Double(n) * shape.model.rmsEps
        for r in 0..<t.rows {
            var c = 0
            while c < t.cols {
                let g = t.block(rows: r..<(r + 1), cols: c..<(c + n))
                b.l2Normalize(g, eps: eps)
                b.scale(g, by: root)
                c += n
            }
        }
    }

    /// Each row of t ← row ⊙ v (op: multiply) or row + v (add), v a 1 × cols row.
    func eachRow(_ t: Tensor, _ v: Tensor, add: Bool) {
        for r in 0..<t.rows { add ? b.add(t.row(r), t.row(r), v) : b.multiply(t.row(r), t.row(r), v) }
    }

    /// The short causal depthwise conv1d then SiLU: out[t, c] = silu(Σ_j w[c, j]·in[t − k + 1 + j, c]),
    /// the taps from the oldest position (zeros before the sequence) as an fma chain. `channels`
    /// are this tensor's rows of the layer's conv weights. The inputs are the conv state: a
    /// recipe's `conv_state` rounds them as the kernel's state buffer stores them.
    func convSiLU(_ t: Tensor, channels: Range<Int>, kind: LayerKind, layer: Int, _ w: LayerWeights) {
        let k = shape.model.convKernel, conv = w["conv"]
        if let q = recipe.layers[kind]?[.convState] {
            b.store(t, quantizer: q, random: CounterRandom(seed: seed, role: Role.convState.rawValue, head: layer, step: channels.lowerBound))
        }
        var taps = [Double](repeating: 0, count: k * channels.count)
        for (i, c) in channels.enumerated() { for j in 0..<k { taps[j * channels.count + i] = conv.values[c * k + j] } }
        let tapRows = buffer("c.taps", channels.count, rows: k)
        b.load(tapRows, taps)
        let out = buffer("conv.out", t.cols)
        for r in 0..<tokens {
            let first = max(0, k - 1 - r)
            b.multiply(out.row(r), tapRows.row(first), t.row(r - (k - 1) + first))
            for j in (first + 1)..<k { b.fma(out.row(r), tapRows.row(j), t.row(r - (k - 1) + j), out.row(r)) }
        }
        silu(t, out)
    }

    /// dst ← src ⊙ σ(src): the sigmoid correctly rounded (its fast path), then one product (SiLU
    /// itself has no fast path and would go through MPFR for every element).
    func silu(_ dst: Tensor, _ src: Tensor) {
        let s = buffer("silu", src.cols, rows: src.rows)
        b.apply(.sigmoid, s, src)
        b.multiply(dst, src, s)
    }

    /// Advances the stream through layer `index` with its weights.
    func apply(layer index: Int, _ w: LayerWeights) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { applySeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let kind = shape.layers[index]
        let h = buffer("h", d)
        b.copy(h, x)
        rmsNorm(h, group: d)
        let out = buffer("y", d)
        try mix(kind, layer: index, h, out, w)
        y = out
        switch shape.model.norm {
        case .preRMS: b.add(x, x, out)
        case .postNorm(let alpha): b.fma(x, h, b.scalar(alpha), out)
        }
        if let q = recipe.residual {
            b.store(x, quantizer: q, random: CounterRandom(seed: seed, role: Role.residual.rawValue, head: index, step: 0))
        }
    }

    /// The final RMSNorm of the residual stream, into the buffer `final`.
    func finalHidden() -> Tensor {
        let f = buffer("final", d)
        b.copy(f, x)
        rmsNorm(f, group: d)
        return f
    }

    /// Rows `rows` of t as doubles.
    func read(_ t: Tensor, rows: Range<Int>) -> [Double] {
        b.read(t.block(rows: rows, cols: 0..<t.cols))
    }
}
