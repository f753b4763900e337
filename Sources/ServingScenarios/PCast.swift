import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads
import Yams

/// P-collapse under an attention sink (arXiv 2606.06521, `scenario: p_cast`): the fraction of
/// non-sink probabilities that the cast of P to an fp8 format flushes to zero, measured in the
/// softmax kernel's blocked path (key blocks of `block`, visited forward — the sink's block first
/// — or in reverse, FlashAttention's order), beside the paper's leading-order prediction
/// Φ(Δ + δ_k + ln(u/2) − ln S): Δ the sink strength, δ_k the expected maximum of `sink_tokens`
/// standard normals, u the format's least subnormal (e4m3: ln 2⁻¹⁰ = −6.93) and S the static scale
/// P is multiplied by before the cast (a recipe's `p=…/per-tensor/fixed:1/S`).
///
/// The scores are built exactly (Q, K, V in binary64, the P cast isolated): for the `queries`
/// last positions r, s_rj = z_rj + Δ·[j < sink_tokens] with z_rj standard normal — q_r =
/// √d(e_r + e_R), k_j = (z_0j … z_(R−1)j, Δ·[j < sink_tokens]), d = R + 1, scale d^−1/2 —
/// replayed through MHA's decode; v_j standard normal, the sinks' times each of `sink_values`
/// (real sinks carry small values: at 0 the output is the non-sink keys' alone, where the flushed
/// mass shows). Per record also the output error of those
/// positions against the Float64 run without the cast.
public enum PCast {
    public enum Order: String, Sendable, CaseIterable { case forward, reverse }

    /// ∫ f(x)·k·φ(x)·Φ(x)^(k−1) dx: f averaged over the law of the maximum of k standard normals
    /// (trapezoid on [−10, 10], step 1/256; φ and Φ through MPFR, the power by products, so the
    /// value is the same on every machine).
    static func overTheMaximum(of k: Int, _ f: (Double) -> Double) -> Double {
        let h = 1.0 / 256, n = 20 * 256, root = (2 * Double.pi).squareRoot()
        var sum = 0.0
        for i in 0...n {
            let x = -10 + Double(i) * h, cdf = MPFR.normalCDF(x)
            var power = 1.0
            for _ in 1..<max(k, 1) { power *= cdf }
            sum += (i == 0 || i == n ? 0.5 : 1) * f(x) * Double(k) * MPFR.exp(-x * x / 2) / root * power
        }
        return sum * h
    }

    /// E[max of k standard normals] (δ_k: 1.03 for k = 4).
    public static func expectedMaximum(of k: Int) -> Double { overTheMaximum(of: k) { $0 } }

    /// ln(u/2) − ln S: where e^(s − m) underflows after the cast (u the format's least subnormal).
    static func threshold(leastSubnormal u: Double, scale S: Double) -> Double { MPFR.log(u / 2) - MPFR.log(S) }

    /// The paper's predicted underflow fraction for sink strength Δ, a format of least subnormal
    /// u and scale S.
    public static func predicted(delta: Double, deltaK: Double, leastSubnormal u: Double, scale S: Double) -> Double {
        MPFR.normalCDF(delta + deltaK + threshold(leastSubnormal: u, scale: S))
    }

    /// The same without the leading-order step: the running max is Δ + M with M the maximum of k
    /// standard normals (one per query row), so the fraction is E_M[Φ(Δ + M + ln(u/2) − ln S)].
    public static func predictedOverTheMaximum(delta: Double, sinks k: Int, leastSubnormal u: Double, scale S: Double) -> Double {
        let a = delta + threshold(leastSubnormal: u, scale: S)
        return overTheMaximum(of: k) { MPFR.normalCDF(a + $0) }
    }

    /// The replayed q, k, v of one record.
    static func tensors(tokens T: Int, queries R: Int, valueDim dv: Int, sinks: Int, sinkValues: Double, delta: Double, seed: UInt64) -> TensorFile {
        let d = R + 1, root = Double(d).squareRoot()
        var q = [Double](repeating: 0, count: T * d), k = q, v = [Double](repeating: 0, count: T * dv)
        let zGen = InputGenerator(seed: seed, stream: "pcast_z", dimension: R), vGen = InputGenerator(seed: seed, stream: "pcast_v", dimension: dv)
        var z = [Double](repeating: 0, count: R), row = [Double](repeating: 0, count: dv)
        for j in 0..<T {
            z.withUnsafeMutableBufferPointer { zGen.fill($0, head: 0, position: j) }
            for r in 0..<R { k[j * d + r] = z[r] }
            k[j * d + R] = j < sinks ? delta : 0
            row.withUnsafeMutableBufferPointer { vGen.fill($0, head: 0, position: j) }
            for c in 0..<dv { v[j * dv + c] = j < sinks ? sinkValues * row[c] : row[c] }
            if j >= T - R {
                q[j * d + (j - (T - R))] = root
                q[j * d + R] = root
            }
        }
        return TensorFile(memory: "p-cast", [
            TensorPayload(name: "q", dtype: .float64, shape: [T, 1, d], values: q),
            TensorPayload(name: "k", dtype: .float64, shape: [T, 1, d], values: k),
            TensorPayload(name: "v", dtype: .float64, shape: [T, 1, dv], values: v),
        ])
    }

    /// One record: (recipe, Δ, order, T, seed).
    static func run(spec: StudyConfig.RecipeSpec, recipe: Recipe, delta: Double, sinkValues: Double, order: Order, seed: UInt64, tokens T: Int,
                    config c: ScenarioConfig) throws -> ScenarioRecord {
        guard let f = recipe.format(.p), case .float(let element) = f.element, case .fixed(let s)? = f.scaleRule else {
            throw StudyInputError("p_cast: recipe '\(spec.name)': expected p=FLOAT_FORMAT/per-tensor/fixed:1/S")
        }
        let R = c.queries, file = tensors(tokens: T, queries: R, valueDim: c.valueDim, sinks: c.sinkTokens, sinkValues: sinkValues, delta: delta, seed: seed)
        let plan = try VariantRegistry.named("mha").replayPlan(file: file, options: ReplayOptions())
        var emulatedRecipe = recipe.fast
        emulatedRecipe.blocking = KernelBlocking(keyBlock: c.block, reverseKeyBlocks: order == .reverse)
        guard let emulated = try plan.make(.float32, emulatedRecipe).first, let exact = try plan.make(.float64, .exact).first,
              let watched = emulated as? PStoreProbing else { throw StudyInputError("p_cast: the softmax decode did not build") }
        let probe = PStoreProbe(firstCounted: c.sinkTokens, fromPosition: T - R)
        watched.pStoreProbe = probe
        let n = emulated.outputCount
        var a = [Double](repeating: 0, count: n), b = a, relative = 0.0
        for t in 0..<T {
            exact.step()
            emulated.step()
            guard t >= T - R else { continue }
            a.withUnsafeMutableBufferPointer { exact.readOutput(into: $0) }
            b.withUnsafeMutableBufferPointer { emulated.readOutput(into: $0) }
            var e = 0.0, r = 0.0
            for i in 0..<n { e += (b[i] - a[i]) * (b[i] - a[i]); r += a[i] * a[i] }
            relative += (e / r).squareRoot()
        }
        var record = ScenarioRecord(scenario: "p_cast", memory: "mha sink", recipeName: spec.name, recipe: RecipeResolver.canonical(recipe),
                                    parameters: ["block": c.block, "sink_tokens": c.sinkTokens, "queries": R],
                                    labels: ["order": order.rawValue, "sink_strength": String(format: "%05.2f", delta), "sink_values": String(format: "%g", sinkValues)],
                                    seed: seed, tokens: T)
        let deltaK = expectedMaximum(of: c.sinkTokens), S = 1 / Double(s), u = element.minPositive, k = c.sinkTokens
        // Forward, every non-sink value sees the sink's max; in reverse only those in the sink's
        // own block (the first), which it reaches last: their share of the rows' non-sink keys.
        let rows = (T - R)..<T
        let share = order == .forward ? 1 : Double(rows.count * (min(c.block, T) - k)) / Double(rows.reduce(0) { $0 + $1 + 1 - k })
        record.summary["underflow_fraction"] = probe.fraction
        record.summary["nonzero_counted"] = Double(probe.nonzero)
        record.summary["predicted"] = predicted(delta: delta, deltaK: deltaK, leastSubnormal: u, scale: S)
        record.summary["predicted_over_max"] = share * predictedOverTheMaximum(delta: delta, sinks: k, leastSubnormal: u, scale: S)
        record.summary["delta_k"] = deltaK
        record.summary["scale"] = S
        record.summary["sink_strength"] = delta
        record.summary["output_rel_err"] = relative / Double(R)
        record.summary["sink_values"] = sinkValues
        return record
    }

    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        for spec in c.recipes {
            let recipe = try c.recipe(spec, roles: [.p])
            for delta in c.sinkStrengths {
                for sinkValues in c.sinkValues {
                    for order in c.orders {
                        for T in c.tokens {
                            for seed in c.seeds {
                                out.append(("\(spec.name)|\(delta)|\(sinkValues)|\(order)|\(T)|\(seed)", {
                                    try run(spec: spec, recipe: recipe, delta: delta, sinkValues: sinkValues, order: order, seed: seed, tokens: T, config: c)
                                }))
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension ScenarioConfig {
    /// `p_cast`: the sink strengths Δ, the key block, the sink tokens, the query rows, the value
    /// width, the block orders; each recipe stores only `p`, in a float format with a fixed scale.
    static func parsePCast(_ c: inout ScenarioConfig, _ top: [String: Node], root: Node, _ r: YAMLReader) throws {
        guard let sn = top["sink_strengths"] else { throw r.error(root, "sink_strengths", "a list of sink strengths Δ (e.g. [6, 8, 10])") }
        c.sinkStrengths = try r.list(sn, key: "sink_strengths").map {
            let x = try r.double($0, key: "sink_strengths")
            guard x.isFinite && x >= 0 && x <= 80 else { throw r.error($0, "sink_strengths", "a number in [0, 80], got \(x)") }
            return x
        }
        if c.sinkStrengths.isEmpty { throw r.error(sn, "sink_strengths", "a non-empty list") }
        if let n = top["block"] { c.block = try r.int(n, key: "block", range: 1...4096) }
        if let n = top["sink_tokens"] { c.sinkTokens = try r.int(n, key: "sink_tokens", range: 1...64) }
        if let n = top["queries"] { c.queries = try r.int(n, key: "queries", range: 1...256) }
        if let n = top["value_dim"] { c.valueDim = try r.int(n, key: "value_dim", range: 1...1024) }
        if let n = top["sink_values"] {
            c.sinkValues = try r.list(n, key: "sink_values").map {
                let x = try r.double($0, key: "sink_values")
                guard x.isFinite && x >= 0 else { throw r.error($0, "sink_values", "a finite number ≥ 0, got \(x)") }
                return x
            }
            if c.sinkValues.isEmpty { throw r.error(n, "sink_values", "a non-empty list of scales of the sinks' values (e.g. [1, 0])") }
        }
        if let n = top["orders"] {
            c.orders = try r.list(n, key: "orders").map {
                let s = try r.string($0, key: "orders")
                guard let o = PCast.Order(rawValue: s) else { throw r.error($0, "orders", "forward or reverse, got '\(s)'") }
                return o
            }
            if c.orders.isEmpty { throw r.error(n, "orders", "a non-empty list (forward, reverse)") }
        }
        guard c.tokens.last! <= 65_536 else {
            throw r.error(top["tokens"]!, "tokens", "at most 65,536 keys (the replayed decode evaluates every position: O(T²)), got \(c.tokens.last!)")
        }
        guard c.tokens.first! >= c.queries + c.block else {
            throw r.error(top["tokens"]!, "tokens", "at least queries + block = \(c.queries + c.block) keys, got \(c.tokens.first!)")
        }
        for spec in c.recipes {
            let recipe: Recipe
            do { recipe = try c.recipe(spec, roles: [.p]) } catch { throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)': \(error)") }
            guard let f = recipe.format(.p), recipe.roles == [.p], case .float = f.element, case .fixed? = f.scaleRule else {
                throw StudyInputError("\(r.file):\(spec.line): recipes: '\(spec.name)': expected only p, a float format with a fixed scale 1/S (e.g. p=float8_e4m3fn/per-tensor/fixed:0.00390625)")
            }
        }
    }
}
