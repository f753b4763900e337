import AttentionVariants
import ExactArithmetic
import NumberFormats

/// Prepared inputs of one block of a delta-rule run (scale·q̂, k̂, v, α, β), in the kernel's type.
final class DeltaBlockInputs<S: BinaryFloatingPoint> {
    var q: [S], k: [S], v: [S], alpha: [S], beta: [S]
    var count = 0
    init(keyDim K: Int, valueDim V: Int, block n: Int) {
        q = [S](repeating: 0, count: n * K); k = q
        v = [S](repeating: 0, count: n * V)
        alpha = [S](repeating: 1, count: n); beta = alpha
    }

    /// Loads tokens first..<first+n through the run's own loader (its store points and backend
    /// operations: the values the generic step would use).
    func fill<B: Backend>(_ d: DeltaRuleDecode<B>, first: Int, count n: Int, read: (Tensor) -> UnsafeMutableBufferPointer<S>) {
        let K = d.config.keyDim, V = d.config.valueDim
        count = n
        for i in 0..<n {
            d.loadInputs(first + i)
            q.withUnsafeMutableBufferPointer { p in _ = UnsafeMutableBufferPointer(rebasing: p[(i * K)..<(i * K + K)]).update(fromContentsOf: read(d.q)) }
            k.withUnsafeMutableBufferPointer { p in _ = UnsafeMutableBufferPointer(rebasing: p[(i * K)..<(i * K + K)]).update(fromContentsOf: read(d.k)) }
            v.withUnsafeMutableBufferPointer { p in _ = UnsafeMutableBufferPointer(rebasing: p[(i * V)..<(i * V + V)]).update(fromContentsOf: read(d.v)) }
            alpha[i] = d.alpha.map { read($0)[0] } ?? 1
            beta[i] = read(d.beta)[0]
        }
    }
}

/// Two input blocks of a delta-rule run, one being computed while the next is prepared: the
/// bookkeeping both fused runs share.
final class DeltaInputQueue<S: BinaryFloatingPoint> {
    private let slots: [DeltaBlockInputs<S>]
    private var prepared = 0, computed = 0, nextToken = 0

    init(keyDim K: Int, valueDim V: Int) {
        slots = (0..<2).map { _ in DeltaBlockInputs(keyDim: K, valueDim: V, block: BlockRuns.maxBlock) }
    }

    /// Loads the next `n` tokens into the free slot (`BlockRun.prepare`).
    func prepare<B: Backend>(_ d: DeltaRuleDecode<B>, _ n: Int, read: (Tensor) -> UnsafeMutableBufferPointer<S>) {
        precondition(n > 0 && n <= BlockRuns.maxBlock && prepared - computed < 2)
        slots[prepared & 1].fill(d, first: nextToken, count: n, read: read)
        nextToken += n
        prepared += 1
    }

    /// Hands the oldest prepared block of `n` tokens to `body`; its slot is free again only
    /// after `body` returns.
    func consume(_ n: Int, _ body: (DeltaBlockInputs<S>) -> Void) {
        precondition(computed < prepared && slots[computed & 1].count == n)
        body(slots[computed & 1])
        computed += 1
    }
}

/// The study's fast paths for delta-rule decode (Gated DeltaNet, DeltaNet): inputs prepared by
/// the run's own loader (the same store points and backend operations, so the same values),
/// the state update by one fused pass per token. Each is bit-identical to stepping the generic
/// run, which a DriftStudy test checks on whole study records.
public enum BlockRuns {
    /// The most tokens one block holds.
    public static let maxBlock = 256

    /// `run` as a block run: fused when `fast` and the run is one a fused kernel reproduces.
    public static func make(_ run: SteppedRun, fast: Bool) -> BlockRun {
        guard fast else { return SteppedBlockRun(run) }
        if let d = run as? DeltaRuleDecode<Float32Backend>, let r = FusedDeltaFloat32Run(d) { return r }
        if let d = run as? DeltaRuleDecode<Float64Backend>, let r = FusedDeltaFloat64Run(d) { return r }
        return SteppedBlockRun(run)
    }

    /// Inputs roles and a per-token (or absent) decay: what both fused paths need.
    static func fusable(_ c: DeltaRuleConfig, _ recipe: Recipe, extra: Set<Role>) -> Bool {
        let allowed = Set<Role>([.q, .k, .v, .beta, .decay]).union(extra)
        return c.gateWidth <= 1 && recipe.roles.allSatisfy { allowed.contains($0) }
    }

    /// The binary32 rounder a `state` store applies (nil: keep binary32), or false when the
    /// fused kernel cannot reproduce the store.
    static func stateRounder(_ recipe: Recipe) -> (ok: Bool, rounder: ElementRounder?) {
        guard let q = recipe[.state] else { return (true, nil) }
        let spec: FormatSpec
        if let f = q as? FastStore { spec = f.format } else if let f = q as? FormatSpec { spec = f } else { return (false, nil) }
        guard !spec.isScaled, let r = spec.elementRounder else { return (false, nil) }
        // Rounding binary32 values to binary32 changes nothing.
        if spec.description == "float32" { return (true, nil) }
        return (true, r)
    }
}

/// `DeltaRuleDecode` on Float32 with `GatedDeltaFusedKernel` (state stored as an element format
/// nearest-even, or kept in binary32; no output store; output from the in-register state).
final class FusedDeltaFloat32Run: BlockRun {
    let decode: DeltaRuleDecode<Float32Backend>
    let kernel: GatedDeltaFusedKernel
    let inputs: DeltaInputQueue<Float>
    var S: [Float], out: [Float], kS: [Float]

    init?(_ d: DeltaRuleDecode<Float32Backend>) {
        let c = d.config, recipe = d.stores.recipe
        guard c.outputFrom == .registers, BlockRuns.fusable(c, recipe, extra: [.state]) else { return nil }
        let st = BlockRuns.stateRounder(recipe)
        guard st.ok, let kernel = GatedDeltaFusedKernel(keyDim: c.keyDim, valueDim: c.valueDim, state: st.rounder) else { return nil }
        decode = d
        self.kernel = kernel
        let V = c.valueDim, n = BlockRuns.maxBlock
        inputs = DeltaInputQueue(keyDim: c.keyDim, valueDim: V)
        S = Array(d.backend.buffer(d.state))
        out = [Float](repeating: 0, count: n * V)
        kS = [Float](repeating: 0, count: V)
    }

    var base: SteppedRun { decode }

    func prepare(_ n: Int) {
        let b = decode.backend
        inputs.prepare(decode, n) { b.buffer($0) }
    }

    func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool) {
        let V = kernel.valueDim
        inputs.consume(n) { x in
            S.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    kS.withUnsafeMutableBufferPointer { ks in
                        kernel.run(state: s.baseAddress!, q: x.q, k: x.k, v: x.v, alpha: x.alpha, beta: x.beta, output: o.baseAddress!, tokens: n, kS: ks.baseAddress!)
                    }
                }
            }
        }
        let first = everyOutput ? 0 : n - 1
        for i in first..<n { for j in 0..<V { outputs[i * stride + j] = Double(out[i * V + j]) } }
    }

    func readState(into o: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<S.count { o[i] = Double(S[i]) }
    }
}

/// `DeltaRuleDecode` on Float64 (a reference run: no state or output store) with
/// `GatedDeltaFusedFloat64Kernel`.
final class FusedDeltaFloat64Run: BlockRun {
    let decode: DeltaRuleDecode<Float64Backend>
    let kernel: GatedDeltaFusedFloat64Kernel
    let inputs: DeltaInputQueue<Double>
    var S: [Double], kS: [Double]

    init?(_ d: DeltaRuleDecode<Float64Backend>) {
        let c = d.config
        guard BlockRuns.fusable(c, d.stores.recipe, extra: []),
              let kernel = GatedDeltaFusedFloat64Kernel(keyDim: c.keyDim, valueDim: c.valueDim) else { return nil }
        decode = d
        self.kernel = kernel
        inputs = DeltaInputQueue(keyDim: c.keyDim, valueDim: c.valueDim)
        S = Array(d.backend.buffer(d.state))
        kS = [Double](repeating: 0, count: c.valueDim)
    }

    var base: SteppedRun { decode }

    func prepare(_ n: Int) {
        let b = decode.backend
        inputs.prepare(decode, n) { b.buffer($0) }
    }

    func compute(_ n: Int, outputs: UnsafeMutablePointer<Double>, stride: Int, everyOutput: Bool) {
        // Outputs go straight into the caller's rows (every row is written); the kernel packs them.
        precondition(stride == kernel.valueDim, "the binary64 fused run writes packed rows")
        inputs.consume(n) { x in
            S.withUnsafeMutableBufferPointer { s in
                kS.withUnsafeMutableBufferPointer { ks in
                    kernel.run(state: s.baseAddress!, q: x.q, k: x.k, v: x.v, alpha: x.alpha, beta: x.beta, output: outputs, tokens: n, kS: ks.baseAddress!)
                }
            }
        }
    }

    func readState(into o: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<S.count { o[i] = S[i] }
    }
}
