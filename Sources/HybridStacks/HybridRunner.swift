import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats

/// One stack to run: its shape, a name (the preset, or `pattern`), its recipes and options.
public struct HybridSpec: Sendable {
    public var name: String
    public var shape: StackShape
    public var recipes: [StackRecipe]
    public var options: StackRunOptions
    public init(name: String, shape: StackShape, recipes: [StackRecipe], options: StackRunOptions) {
        (self.name, self.shape, self.recipes, self.options) = (name, shape, recipes, options)
    }

    /// The streams the run steps together: the reference and each recipe (with its sources alone
    /// when attributing).
    public var streamCount: Int {
        1 + recipes.reduce(0) { $0 + 1 + (options.attributes($1) ? $1.sources.count : 0) }
    }

    /// An upper bound of the bytes the run holds: every stream's T × width buffers (the stack is
    /// exempt from DESIGN §10's streaming rule: layer l + 1 needs every position of layer l, and
    /// attention layers hold their KV caches), plus one layer's kernel inputs, outputs and cache
    /// per worker (MLA's prefill adds its decompressed keys and values, T·H·(N+R+V)). Each
    /// stream's buffers at its tier's element size (the reference's and the emulated streams');
    /// the workers' kernel inputs and outputs are Doubles.
    public var memoryBound: Double {
        let s = shape, T = Double(options.tokens)
        var widest = 0
        for k in s.kinds {
            let proj = LayerWeights.shapes(s, k).filter { $0.0 != "out" && $0.0 != "down" && $0.0 != "wkv_b" }.reduce(0) { $0 + $1.1 }
            widest = max(widest, proj + 2 * s.convChannels(k) + 2 * s.attentionKVHeads * s.model.attentionHeadDim)
        }
        let perStream = T * Double(5 * s.dModel + 2 * widest + 2 * s.intermediate)
        let m = s.model, decompressed = s.kinds.contains(.mla) && options.form == "chunked" ? s.attentionHeads * (m.latentNope + m.latentRope + m.latentValue) : 0
        let perWorker = T * Double(3 * widest + m.latentDim + decompressed) * 8
        let streams = perStream * (Self.elementBytes(options.referenceTier) + Double(streamCount - 1) * Self.elementBytes(options.emulatedTier))
        return streams + Double(max(1, min(options.jobs, streamCount))) * perWorker
    }

    /// Bytes one element of a tier's tensors takes (an MPFR value: its struct and limbs).
    static func elementBytes(_ tier: BackendTier) -> Double {
        switch tier {
        case .float32: return 4
        case .float64: return 8
        case .doubleDouble: return 16
        case .mpfr(let bits): return Double(32 + 8 * ((bits + 63) / 64))
        }
    }

    /// Refuses a run whose buffers would not fit in 80% of this machine's memory.
    public func checkMemory(place: String) throws {
        let have = Double(ProcessInfo.processInfo.physicalMemory)
        guard memoryBound <= 0.8 * have else {
            throw InputError(String(format: "%@: %@ over %d tokens with %d streams would hold about %.1f GB; this machine has %.1f GB (fewer tokens, recipes or attribution runs)",
                                    place, name, options.tokens, streamCount, memoryBound / 1e9, have / 1e9))
        }
    }
}

public enum HybridRunner {
    /// Runs `spec` and returns one record per emulated stream.
    public static func records(_ spec: HybridSpec) throws -> [HybridRecord] { try timed(spec).records }

    /// The records and where the time went.
    public static func timed(_ spec: HybridSpec) throws -> (records: [HybridRecord], timing: StackTiming) {
        let s = spec.shape, o = spec.options, d = s.dModel
        let (reference, streams, timing) = try StackRun.timed(s, recipes: spec.recipes, options: o)
        var logits = StackLogits(s, seed: o.seed)
        logits.calibrate(reference.flatMap { $0 }, d: d)
        let lengths = StackRun.lengths(o.tokens)
        let records = streams.map { e -> HybridRecord in
            let recipe = spec.recipes.first { $0.name == e.recipe }!
            var kl: [Double] = [], top1: [Double] = [], entropy = 0.0
            for (i, w) in e.hiddenWindows.enumerated() {
                let c = logits.compare(reference[i], w, d: d)
                kl.append(c.kl)
                top1.append(c.top1)
                entropy = c.entropy
            }
            var bytes: [String: Double] = [:]
            for T in Set([o.tokens, 32_768, 131_072, 1_048_576]) { bytes[String(T)] = StackMemory.sequenceBytes(s, recipe: recipe, tokens: T).total }
            let only = e.only.map { "|only=\($0)" } ?? ""
            return HybridRecord(
                key: "hybrid|\(spec.name)|w=\(StackShape.text(s.width))|\(o.form)|T=\(o.tokens)|seed=\(o.seed)|\(recipe.name)\(only)",
                stack: spec.name, checkpoint: s.model.checkpoint, source: s.model.source, pattern: s.model.pattern,
                layers: s.layers.map(\.name), width: StackShape.text(s.width), dModel: d, form: o.form, tokens: o.tokens, seed: o.seed,
                recipeName: recipe.name, recipe: recipe.text, only: e.only, lengths: lengths, hiddenRelErr: e.hidden, logitsKL: kl, top1: top1,
                referenceEntropy: entropy, lmScale: logits.scale, residualRelErr: e.residual, layerOutputRelErr: e.output,
                bytesPerSequence: bytes, fixedBytes: StackMemory.sequenceBytes(s, recipe: recipe, tokens: 0).fixed,
                storedNonFinite: e.storedNonFinite)
        }
        return (records, timing)
    }
}
