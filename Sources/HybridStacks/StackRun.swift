import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// A stack stream of any tier, as the lockstep drives it.
protocol StackStepping: AnyObject {
    func apply(layer index: Int, _ w: LayerWeights) throws
    /// Rows of the residual stream, of the last layer's output, of the final normed hidden state.
    func residualRows(_ r: Range<Int>) -> [Double]
    func outputRows(_ r: Range<Int>) -> [Double]
    func hiddenRows(_ r: Range<Int>) -> [Double]
    func finishHidden()
    var storedNonFinite: Int { get }
    var applySeconds: Double { get }
    var mixerSeconds: Double { get }
}

/// Where a run's time went: every stream's layers and, within them, the mixer kernels alone
/// (their inputs handed over, the kernel stepped, the outputs collected), summed over streams.
public struct StackTiming: Sendable {
    public var layerSeconds = 0.0
    public var mixerSeconds = 0.0
    public var streams = 0
}

extension StackStream: StackStepping {
    func residualRows(_ r: Range<Int>) -> [Double] { read(x, rows: r) }
    func outputRows(_ r: Range<Int>) -> [Double] { read(y, rows: r) }
    func hiddenRows(_ r: Range<Int>) -> [Double] { read(buffer("final", d), rows: r) }
    func finishHidden() { _ = finalHidden() }
}

/// Makes a stream on a tier.
struct MakeStream: BackendGeneric {
    let shape: StackShape, recipe: StackRecipe, form: String, tokens: Int, seed: UInt64, embedding: [Double]
    let blockRun: @Sendable (SteppedRun) -> BlockRun
    func callAsFunction<B: Backend>(_ b: B) throws -> any StackStepping {
        StackStream(backend: b, shape: shape, recipe: recipe, form: form, tokens: tokens, seed: seed, embedding: embedding, blockRun: blockRun)
    }
}

/// What a hybrid run is asked: the stack, its length and form, the recipes (each run with all
/// its stores, and with each source's alone when `attribution`), the seed.
public struct StackRunOptions: Sendable {
    public var tokens: Int
    public var form = "recurrent"
    public var seed: UInt64 = 0
    public var attribution = true
    /// The recipes whose sources are run alone (nil: every recipe, when `attribution`).
    public var attributed: Set<String>?
    public var jobs = 1
    /// The reference tier (Float64; MPFR for certification).
    public var referenceTier = BackendTier.float64
    public var emulatedTier = BackendTier.float32
    /// How mixer runs advance (DriftStudy gives its fused delta-rule paths, bit-identical to
    /// stepping the run; the default steps one token at a time).
    public var blockRun: @Sendable (SteppedRun) -> BlockRun = { SteppedBlockRun($0) }
    public init(tokens: Int) { self.tokens = tokens }

    /// Whether `r` runs each of its sources alone too.
    public func attributes(_ r: StackRecipe) -> Bool { attribution && (attributed?.contains(r.name) ?? true) && r.sources.count > 1 }
}

/// The errors of one emulated stream against the reference.
public struct StreamErrors: Sendable {
    public var recipe: String
    /// nil: every store of the recipe; else the one source rounded alone (a layer type or `residual`).
    public var only: String?
    /// Mean relative error of the final hidden state over the window ending at each length.
    public var hidden: [Double]
    /// Per layer, at the last window: the residual stream's and the layer output's relative error.
    public var residual: [Double]
    public var output: [Double]
    public var storedNonFinite: Int
    /// Final hidden rows of the windows (for the logits), per length.
    var hiddenWindows: [[Double]]
}

public enum StackRun {
    /// The lengths measured: 1024·2^k below T, and T.
    public static func lengths(_ T: Int) -> [Int] {
        var out: [Int] = []
        var L = 1024
        while L < T { out.append(L); L *= 2 }
        return out + [T]
    }

    /// DESIGN §7's window: the last min(64, L/16) positions up to L (at least one).
    public static func window(_ L: Int) -> Range<Int> { (L - max(1, min(64, L / 16)))..<L }

    /// Runs the reference and every stream of `recipes` layer by layer in lockstep, measuring as
    /// depth grows; returns the reference's windows and each stream's errors.
    static func run(_ shape: StackShape, recipes: [StackRecipe], options o: StackRunOptions) throws -> (reference: [[Double]], streams: [StreamErrors]) {
        let r = try timed(shape, recipes: recipes, options: o)
        return (r.reference, r.streams)
    }

    static func timed(_ shape: StackShape, recipes: [StackRecipe], options o: StackRunOptions) throws -> (reference: [[Double]], streams: [StreamErrors], timing: StackTiming) {
        let T = o.tokens, d = shape.dModel
        let embedding = Self.embedding(tokens: T, width: d, seed: o.seed)
        var plans: [(StackRecipe, String?)] = []
        for r in recipes {
            plans.append((r, nil))
            if o.attributes(r) { plans += r.sources.map { (r.only($0), $0?.name ?? Role.residual.rawValue) } }
        }
        func make(_ tier: BackendTier, _ r: StackRecipe) throws -> any StackStepping {
            try tier.with(MakeStream(shape: shape, recipe: r, form: o.form, tokens: T, seed: o.seed, embedding: embedding, blockRun: o.blockRun))
        }
        let reference = try make(o.referenceTier, .exact)
        let streams = try plans.map { try make(o.emulatedTier, $0.0) }
        let all: [any StackStepping] = [reference] + streams
        let last = window(T)
        var residual = [[Double]](repeating: [], count: streams.count), output = residual
        for l in shape.layers.indices {
            let w = LayerWeights.make(shape, layer: l, seed: o.seed)
            try WorkQueue.perform(all.map { s in { try s.apply(layer: l, w) } }, jobs: o.jobs)
            let rx = reference.residualRows(last), ry = reference.outputRows(last)
            for (i, s) in streams.enumerated() {
                residual[i].append(meanRelativeError(rx, s.residualRows(last), width: d))
                output[i].append(meanRelativeError(ry, s.outputRows(last), width: d))
            }
        }
        WorkQueue.perform(all.map { s in { s.finishHidden() } }, jobs: o.jobs)
        let windows = lengths(T).map(window)
        let refHidden = windows.map { reference.hiddenRows($0) }
        let errors = streams.enumerated().map { i, s -> StreamErrors in
            let hw = windows.map { s.hiddenRows($0) }
            let hidden = zip(refHidden, hw).map { meanRelativeError($0, $1, width: d) }
            return StreamErrors(recipe: plans[i].0.name.split(separator: "/").first.map(String.init) ?? plans[i].0.name, only: plans[i].1, hidden: hidden,
                                residual: residual[i], output: output[i], storedNonFinite: s.storedNonFinite, hiddenWindows: hw)
        }
        var timing = StackTiming()
        for s in all {
            timing.layerSeconds += s.applySeconds
            timing.mixerSeconds += s.mixerSeconds
        }
        timing.streams = all.count
        return (refHidden, errors, timing)
    }

    /// The input rows: the embeddings of T tokens, N(0, 1) values rounded to bfloat16.
    static func embedding(tokens T: Int, width d: Int, seed: UInt64) -> [Double] {
        var e = [Double](repeating: 0, count: T * d)
        e.withUnsafeMutableBufferPointer { CounterStream(seed: seed, stream: "hybrid.embedding", head: 0, position: 0).normals(into: $0.baseAddress!, from: 0, count: T * d) }
        return e.map { LayerWeights.bf16.round($0) }
    }

    /// Mean over rows of ‖a_r − b_r‖₂ / ‖a_r‖₂ (NaN when any value is not finite).
    static func meanRelativeError(_ a: [Double], _ b: [Double], width: Int) -> Double {
        let rows = a.count / width
        var total = 0.0
        for r in 0..<rows {
            var num = 0.0, den = 0.0
            for c in (r * width)..<((r + 1) * width) {
                let e = b[c] - a[c]
                num += e * e
                den += a[c] * a[c]
            }
            total += (num / den).squareRoot()
        }
        return total / Double(rows)
    }
}
