@testable import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import DriftStudy

/// `attnprec replay`: toolkit-generated inputs replayed give the synthetic run's numbers; the
/// reference judged against itself is exact; a bf16 copy shows the bf16 rounding error; bad
/// inputs name file and tensor and leave nothing behind.
@Suite(.serialized) struct ReplayTests {
    /// Rows of `stream` for heads 0..<H over T positions as a [T, H, D] float32 array.
    static func dump(_ dir: String, _ name: String, seed: UInt64, stream: String, T: Int, H: Int, D: Int) throws {
        let g = InputGenerator(seed: seed, stream: stream, dimension: D)
        var x: [Float] = []
        for t in 0..<T { for h in 0..<H { x += g.row(head: h, position: t).map { Float($0) } } }
        try NPY.write(path: "\(dir)/\(name).npy", shape: [T, H, D], float32: x)
    }

    static func readErrors(_ dir: String) throws -> Replay.Result {
        try StudyJSON.decoder().decode(Replay.Result.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/errors.json")))
    }

    /// A study of linear attention and MHA, then replay of the very inputs it generated: the
    /// recorded output errors come back bit for bit.
    @Test func replayOfGeneratedInputsReproducesTheStudy() throws {
        let config = try StudyFixture.config("""
            name: replay
            tokens: [200]
            seeds: [5]
            reference: {tier: float64, certify_tokens: 8, bits: 64, double_precision_tokens: 4}
            variants:
              - {name: linear, key_dim: 16, value_dim: 8}
              - {name: mha, head_dim: 16}
            recipes:
              - {name: bf16, store: bfloat16}
            workloads: [gaussian]
            """)
        let study = try StudyFixture.tempDir()
        _ = try Study.run(configs: [config], options: Study.Options(out: study, jobs: 1))
        let records = try ResultsStore.readRecords("\(study)/results.jsonl")
        #expect(records.count == 2)
        // Replay runs with seed 0: equal numbers can only come from the replayed tensors.
        #expect(records.allSatisfy { $0.workload.seed == 5 })
        for r in records {
            let inputs = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
            let (K, V) = r.variant == "linear" ? (16, 8) : (16, 16)
            for (n, d) in [("q", K), ("k", K), ("v", V)] {
                try Self.dump(inputs, n, seed: r.workload.seed, stream: n, T: 200, H: 1, D: d)
            }
            let role = r.variant == "linear" ? "state=bfloat16" : "k_cache=bfloat16,v_cache=bfloat16"
            #expect(r.recipe == (r.variant == "linear" ? ["state": "bfloat16"] : ["k_cache": "bfloat16", "v_cache": "bfloat16"]))
            let result = try Replay.run(Replay.Options(variant: r.variant, inputs: inputs, recipes: [role], out: out))
            let replayed = result.series[0].outputRelErr
            #expect(replayed.count == 200)
            #expect(r.positions.map { replayed[$0] } == r.outputRelErr, "\(r.variant)")
            #expect(r.outputRelErr.contains { $0 > 1e-4 })
            #expect(result.reference.pass == true)
        }
    }

    /// Delta rule with H = 2 key heads shared by HV = 4 value heads: replay equals the synthetic
    /// heads bit for bit (outputs and errors); GDN's given log decay g is used as exp(g).
    @Test func deltaRuleReplayMatchesSyntheticHeads() throws {
        let T = 120, H = 2, HV = 4, K = 16, V = 8, seed: UInt64 = 3
        for (kind, l2) in [(DeltaKind.deltanet, true), (.gatedDeltaNet, true), (.deltanet, false)] {
            let dir = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
            try Self.dump(dir, "q", seed: seed, stream: "q", T: T, H: H, D: K)
            try Self.dump(dir, "k", seed: seed, stream: "k", T: T, H: H, D: K)
            try Self.dump(dir, "v", seed: seed, stream: "v", T: T, H: HV, D: V)
            try NPY.write(path: dir + "/beta.npy", shape: [T, HV], float64: Array(repeating: 0.5, count: T * HV))
            if kind == .gatedDeltaNet {
                try NPY.write(path: dir + "/g.npy", shape: [1, T, HV], float64: Array(repeating: Foundation.log(0.9), count: T * HV))
            }
            var options = Replay.Options(variant: kind.rawValue, inputs: dir, recipes: ["state=bfloat16"], out: out)
            options.qkL2Norm = l2
            let result = try Replay.run(options)
            let ref = try NPY.view(path: out + "/o_ref.npy"), apx = try NPY.view(path: out + "/o_state-bfloat16.npy")
            #expect(ref.shape == [T, HV, V] && ref.dtype == .float64 && apx.dtype == .float32)
            func runs(_ tier: BackendTier, _ recipe: Recipe) throws -> [SteppedRun] {
                try (0..<HV).map { h in
                    let c = DeltaRuleConfig(kind: kind, keyDim: K, valueDim: V, head: h, seed: seed,
                                            gates: kind == .deltanet ? DeltaGates.none : .constant(0.9), beta: .constant(0.5),
                                            l2NormalizeQK: l2, keyHead: h / (HV / H))
                    return try DeltaDefinition.makeRun(config: c, form: "recurrent", tier: tier, recipe: recipe)
                }
            }
            let a = try runs(.float64, Recipe()), b = try runs(.float32, try Recipe.parse("state=bfloat16").fast)
            let meter = ErrorMeter()
            var refRow = [Double](repeating: 0, count: HV * V), apxRow = refRow
            var fileRow = refRow
            for t in 0..<T {
                for r in a + b { r.step() }
                refRow.withUnsafeMutableBufferPointer { p in for h in 0..<HV { a[h].readOutput(into: UnsafeMutableBufferPointer(rebasing: p[h * V..<(h + 1) * V])) } }
                apxRow.withUnsafeMutableBufferPointer { p in for h in 0..<HV { b[h].readOutput(into: UnsafeMutableBufferPointer(rebasing: p[h * V..<(h + 1) * V])) } }
                fileRow.withUnsafeMutableBufferPointer { ref.fill($0, from: t * HV * V) }
                #expect(fileRow == refRow, "\(kind) o_ref at \(t)")
                if kind == .deltanet {
                    // β, q, k, v are the same numbers on both tiers: the errors agree exactly.
                    let d = refRow.withUnsafeBufferPointer { x in apxRow.withUnsafeBufferPointer { y in meter.distance(reference: x, y) } }
                    #expect(result.series[0].outputRelErr[t] == d.relative, "\(t)")
                }
            }
            #expect(result.series[0].finalStateRelErr! > 1e-4)
        }
    }

    /// GQA (4 query heads on 2 KV heads) replayed equals the synthetic run bit for bit.
    @Test func gqaReplayMatchesSyntheticRun() throws {
        let T = 50, dir = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
        try Self.dump(dir, "q", seed: 13, stream: "q", T: T, H: 4, D: 8)
        try Self.dump(dir, "k", seed: 13, stream: "k", T: T, H: 2, D: 8)
        try Self.dump(dir, "v", seed: 13, stream: "v", T: T, H: 2, D: 6)
        let r = try Replay.run(Replay.Options(variant: "gqa", inputs: dir, recipes: ["k_cache=float8_e4m3fn/per-token"], out: out))
        let c = SoftmaxAttentionConfig(queryHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6, seed: 13, evaluation: .every)
        let a = try SoftmaxCatalog.makeRun(variant: "gqa", config: c, tier: .float64)
        let b = try SoftmaxCatalog.makeRun(variant: "gqa", config: c, tier: .float32, recipe: try Recipe.parse("k_cache=float8_e4m3fn/per-token").fast)
        let ref = try NPY.view(path: out + "/o_ref.npy")
        #expect(ref.shape == [T, 4, 6])
        var x = [Double](repeating: 0, count: 24), y = x, z = x
        let meter = ErrorMeter()
        for t in 0..<T {
            a.step(); b.step()
            x.withUnsafeMutableBufferPointer { a.readOutput(into: $0) }
            y.withUnsafeMutableBufferPointer { b.readOutput(into: $0) }
            z.withUnsafeMutableBufferPointer { ref.fill($0, from: t * 24) }
            #expect(x == z)
            let d = x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in meter.distance(reference: p, q) } }
            #expect(r.series[0].outputRelErr[t] == d.relative)
        }
        #expect(r.series[0].maxOutputRelErr > 1e-3)
    }

    /// Every output file is byte-identical for any thread count (blocks shorter than T too).
    @Test func threadsDoNotChangeABit() throws {
        let T = 300, dir = try StudyFixture.tempDir()
        for (n, h, d) in [("q", 2, 8), ("k", 2, 8), ("v", 4, 16)] { try Self.dump(dir, n, seed: 17, stream: n, T: T, H: h, D: d) }
        try NPY.write(path: dir + "/beta.npy", shape: [T, 4], float64: Array(repeating: 0.25, count: T * 4))
        var outs: [String] = []
        for (jobs, block) in [(1, nil), (3, 37)] {
            var o = Replay.Options(variant: "deltanet", inputs: dir, recipes: ["state=bfloat16", "state=float8_e4m3fn/per-token"], out: try StudyFixture.tempDir() + "/o")
            o.jobs = jobs
            o.blockPositions = block
            try Replay.run(o)
            outs.append(o.out)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: outs[0]).sorted()
        #expect(names.count == 7, "the tensors and errors.json; the report is the CLI's (DriftReports)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outs[1]).sorted() == names)
        for n in names { #expect(StudyFixture.read(outs[0] + "/" + n) == StudyFixture.read(outs[1] + "/" + n), "\(n)") }
    }

    /// --compare of o_ref itself reports zero error; of a bf16-rounded copy, the bf16 rounding
    /// error (≈ 2^-9 relative), equal to the distance computed here directly.
    @Test func compareJudgesExternalOutputs() throws {
        let dir = try StudyFixture.tempDir(), first = try StudyFixture.tempDir() + "/a", second = try StudyFixture.tempDir() + "/b"
        let T = 64, H = 2, K = 8, V = 8
        for (n, d) in [("q", K), ("k", K), ("v", V)] { try Self.dump(dir, n, seed: 11, stream: n, T: T, H: H, D: d) }
        try Replay.run(Replay.Options(variant: "linear", inputs: dir, out: first))
        let o = try NPY.view(path: first + "/o_ref.npy").values()
        let bf = ElementRounder(format: .bfloat16)
        let rounded = o.map { bf.round($0) }
        var payload = Data()
        for x in rounded { withUnsafeBytes(of: UInt16(truncatingIfNeeded: bf.encode(x)).littleEndian) { payload.append(contentsOf: $0) } }
        try NPY.writeAtomically(NPY.encode(shape: [1, T, H, V], descr: "<u2", payload: payload), to: dir + "/o_bf16.npy.out")
        let r = try Replay.run(Replay.Options(
            variant: "linear", inputs: dir, compares: ["self=\(first)/o_ref.npy", "kernel=\(dir)/o_bf16.npy.out"], out: second))
        #expect(r.series.map(\.name) == ["self", "kernel"])
        #expect(r.series[0].outputRelErr.allSatisfy { $0 == 0 })
        let meter = ErrorMeter()
        let w = H * V
        for t in 0..<T {
            let d = o[t * w..<(t + 1) * w].withUnsafeBufferPointer { x in
                rounded[t * w..<(t + 1) * w].withUnsafeBufferPointer { y in meter.distance(reference: x, y) }
            }
            #expect(r.series[1].outputRelErr[t] == d.relative)
            #expect(d.relative > 0x1p-12 && d.relative < 0x1p-8)
        }
        // A compared output with a NaN: that position's error is NaN and so are max and mean
        // (never a number that could pass a check).
        var broken = rounded
        broken[5 * w + 3] = .nan
        try NPY.write(path: dir + "/o_nan.npy.out", shape: [T, H, V], float64: broken)
        let third = try StudyFixture.tempDir() + "/c"
        let n = try Replay.run(Replay.Options(variant: "linear", inputs: dir, compares: ["nan=\(dir)/o_nan.npy.out"], out: third))
        #expect(n.series[0].outputRelErr[5].isNaN && n.series[0].maxOutputRelErr.isNaN && n.series[0].meanOutputRelErr.isNaN)
        #expect(n.series[0].outputRelErr[4] == r.series[1].outputRelErr[4])
        let saved = try Self.readErrors(third)
        #expect(saved.series[0].outputRelErr[5].isNaN && saved.series[0].outputRelErr[6] == r.series[1].outputRelErr[6])
    }

    /// Replaying the second half from the first half's final state (initial_state) gives the
    /// whole run's second half bit for bit (linear and gated DeltaNet).
    @Test func initialStateContinuesARun() throws {
        let T = 40, H = 2, K = 8, V = 4
        for variant in ["linear", "gated_deltanet"] {
            let whole = try StudyFixture.tempDir(), a = try StudyFixture.tempDir(), b = try StudyFixture.tempDir()
            var views: [String: TensorView] = [:]
            for (n, d) in [("q", K), ("k", K), ("v", V)] {
                try Self.dump(whole, n, seed: 21, stream: n, T: T, H: H, D: d)
                views[n] = try NPY.view(path: "\(whole)/\(n).npy")
            }
            if variant == "gated_deltanet" {
                let g = InputGenerator(seed: 21, stream: "g", dimension: 1)
                let gs = (0..<T * H).map { -0.1 * Foundation.log1p(Foundation.exp(g.row(head: $0 % H, position: $0 / H)[0])) }
                try NPY.write(path: whole + "/g.npy", shape: [T, H], float64: gs)
                try NPY.write(path: whole + "/beta.npy", shape: [T, H], float64: gs.map { 1 / (1 + Foundation.exp($0)) })
                for n in ["g", "beta"] { views[n] = try NPY.view(path: "\(whole)/\(n).npy") }
            }
            for (dir, range) in [(a, 0..<T / 2), (b, T / 2..<T)] {
                for (n, view) in views {
                    let w = view.shape.dropFirst().reduce(1, *)
                    let x = Array(view.values()[range.lowerBound * w..<range.upperBound * w])
                    try NPY.write(path: "\(dir)/\(n).npy", shape: [range.count] + view.shape.dropFirst(), float64: x)
                }
            }
            try Replay.run(Replay.Options(variant: variant, inputs: whole, out: whole + "/out"))
            try Replay.run(Replay.Options(variant: variant, inputs: a, out: a + "/out"))
            try FileManager.default.copyItem(atPath: a + "/out/state_ref.npy", toPath: b + "/initial_state.npy")
            try Replay.run(Replay.Options(variant: variant, inputs: b, out: b + "/out"))
            let full = try NPY.view(path: whole + "/out/o_ref.npy").values(), second = try NPY.view(path: b + "/out/o_ref.npy").values()
            #expect(second.count == full.count / 2)
            #expect(Array(full[(full.count / 2)...]) == second, "\(variant)")
            #expect(try NPY.view(path: whole + "/out/state_ref.npy").values() == NPY.view(path: b + "/out/state_ref.npy").values())
            // A wrong-shaped initial state is refused.
            try NPY.write(path: b + "/initial_state.npy", shape: [H, V, K], float64: Array(repeating: 0, count: H * K * V))
            let f = failure(Replay.Options(variant: variant, inputs: b, out: b + "/out2"))
            #expect(f.contains("tensor 'initial_state': shape [2, 4, 8]; expected [HV, K, V] = [2, 8, 4]"), "\(f)")
        }
    }

    /// Mamba2 (grouped B/C, A_log, dt_bias, D) and GLA (gk given) replayed against the
    /// recurrences written out here in plain Double loops.
    @Test func gatedFamilyReplayMatchesPlainRecurrences() throws {
        let T = 48, H = 4, G = 2, N = 6, P = 5
        let dir = try StudyFixture.tempDir()
        func gen(_ stream: String, _ n: Int, scale: Double = 1, shift: Double = 0) -> [Double] {
            let g = InputGenerator(seed: 31, stream: stream, dimension: n)
            return g.row(head: 0, position: 0).map { shift + scale * $0 }
        }
        let x = gen("x", T * H * P), dt = gen("dt", T * H), bIn = gen("B", T * G * N), cIn = gen("C", T * G * N)
        let aLog = gen("A", H, scale: 0.5, shift: 1), d = gen("D", H), dtBias = gen("bias", H, scale: 0.5, shift: -3)
        try SafeTensors.write(path: dir + "/m2.safetensors", tensors: [
            TensorPayload(name: "x", dtype: .float64, shape: [T, H, P], values: x),
            TensorPayload(name: "dt", dtype: .float64, shape: [1, T, H], values: dt),
            TensorPayload(name: "B", dtype: .float64, shape: [T, G, N], values: bIn),
            TensorPayload(name: "C", dtype: .float64, shape: [T, G, N], values: cIn),
            TensorPayload(name: "A_log", dtype: .float64, shape: [H], values: aLog),
            TensorPayload(name: "D", dtype: .float64, shape: [H], values: d),
            TensorPayload(name: "dt_bias", dtype: .float64, shape: [H], values: dtBias),
        ])
        try Replay.run(Replay.Options(variant: "mamba2", inputs: dir + "/m2.safetensors", out: dir + "/m2"))
        let m2 = try NPY.view(path: dir + "/m2/o_ref.npy").values()
        var S = [Double](repeating: 0, count: H * N * P), worst = 0.0
        for t in 0..<T {
            for h in 0..<H {
                let g = h / (H / G)
                let delta = Foundation.log1p(Foundation.exp(dt[t * H + h] + dtBias[h]))
                let alpha = Foundation.exp(-delta * Foundation.exp(aLog[h]))
                for p in 0..<P {
                    var o = 0.0
                    for n in 0..<N {
                        let i = (h * N + n) * P + p
                        S[i] = alpha * S[i] + delta * bIn[(t * G + g) * N + n] * x[(t * H + h) * P + p]
                        o += S[i] * cIn[(t * G + g) * N + n]
                    }
                    o += d[h] * x[(t * H + h) * P + p]
                    worst = max(worst, abs(o - m2[(t * H + h) * P + p]) / max(abs(o), 1e-3))
                }
            }
        }
        #expect(worst < 1e-12, "mamba2 \(worst)")
        // GLA with the per-channel log decay given as gk.
        let K = 4, V = 3, HG = 2
        let q = gen("q", T * HG * K), k = gen("k", T * HG * K), v = gen("v", T * HG * V), gk = gen("gk", T * HG * K, scale: 0.02, shift: -0.05)
        for (n, a, w) in [("q", q, K), ("k", k, K), ("v", v, V), ("gk", gk, K)] {
            try NPY.write(path: dir + "/\(n).npy", shape: [T, HG, w], float64: a)
        }
        try Replay.run(Replay.Options(variant: "gla", inputs: dir, out: dir + "/gla"))
        let gla = try NPY.view(path: dir + "/gla/o_ref.npy").values()
        var Sg = [Double](repeating: 0, count: HG * K * V)
        worst = 0
        for t in 0..<T {
            for h in 0..<HG {
                for j in 0..<V {
                    var o = 0.0
                    for i in 0..<K {
                        let s = (h * K + i) * V + j, r = (t * HG + h) * K + i
                        Sg[s] = Foundation.exp(gk[r]) * Sg[s] + k[r] * v[(t * HG + h) * V + j]
                        o += Sg[s] * q[r] / Double(K).squareRoot()
                    }
                    worst = max(worst, abs(o - gla[(t * HG + h) * V + j]) / max(abs(o), 1e-3))
                }
            }
        }
        #expect(worst < 1e-12, "gla \(worst)")
    }

    /// Lightning at layer 3 of 10 (H from the tensors): replay equals the synthetic heads bit for
    /// bit, with the decay from --layer or from MiniMax's slope_rate tensor (the same bits);
    /// without either, or with both, or with a wrong-shaped slope_rate, a one-line error.
    @Test func lightningReplayMatchesSyntheticHeads() throws {
        let T = 90, H = 4, D = 8, seed: UInt64 = 7, layer = 3, layers = 10
        let dir = try StudyFixture.tempDir(), withSlope = try StudyFixture.tempDir()
        for (n, d) in [("q", D), ("k", D), ("v", D)] {
            try Self.dump(dir, n, seed: seed, stream: n, T: T, H: H, D: d)
            try FileManager.default.copyItem(atPath: "\(dir)/\(n).npy", toPath: "\(withSlope)/\(n).npy")
        }
        let slope = (0..<H).map { -lightningLogDecay(head: $0, heads: H, layer: layer, layers: layers) }
        try NPY.write(path: withSlope + "/slope_rate.npy", shape: [H], float64: slope)
        let recipe = "state=bfloat16,q=bfloat16"
        var o = Replay.Options(variant: "lightning", inputs: dir, recipes: [recipe], out: try StudyFixture.tempDir() + "/a")
        o.layer = layer
        o.layers = layers
        let byLayer = try Replay.run(o)
        let slopeOut = try StudyFixture.tempDir() + "/b"
        let bySlope = try Replay.run(Replay.Options(variant: "lightning", inputs: withSlope, recipes: [recipe], out: slopeOut))
        #expect(byLayer.reference.pass == true)
        for n in ["o_ref.npy", "o_\(Replay.fileName(recipe)).npy", "state_ref.npy", "state_\(Replay.fileName(recipe)).npy"] {
            let bytes = StudyFixture.read(o.out + "/" + n)
            #expect(!bytes.isEmpty && bytes == StudyFixture.read(slopeOut + "/" + n), "\(n)")
        }
        func runs(_ tier: BackendTier, _ r: Recipe) throws -> [SteppedRun] {
            try (0..<H).map { h in
                try GatedLinearDefinition.makeRun(config: .lightning(head: h, layer: layer, heads: H, layers: layers, headDim: D, seed: seed),
                                        form: "recurrent", tier: tier, recipe: r)
            }
        }
        let a = try runs(.float64, Recipe()), b = try runs(.float32, try Recipe.parse(recipe).fast)
        let ref = try NPY.view(path: o.out + "/o_ref.npy")
        #expect(ref.shape == [T, H, D])
        let meter = ErrorMeter()
        var x = [Double](repeating: 0, count: H * D), y = x, z = x
        for t in 0..<T {
            for r in a + b { r.step() }
            x.withUnsafeMutableBufferPointer { p in for h in 0..<H { a[h].readOutput(into: UnsafeMutableBufferPointer(rebasing: p[h * D..<(h + 1) * D])) } }
            y.withUnsafeMutableBufferPointer { p in for h in 0..<H { b[h].readOutput(into: UnsafeMutableBufferPointer(rebasing: p[h * D..<(h + 1) * D])) } }
            z.withUnsafeMutableBufferPointer { ref.fill($0, from: t * H * D) }
            #expect(x == z, "o_ref at \(t)")
            let d = x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in meter.distance(reference: p, q) } }
            #expect(byLayer.series[0].outputRelErr[t] == d.relative, "\(t)")
            #expect(bySlope.series[0].outputRelErr[t] == d.relative, "\(t)")
        }
        #expect(byLayer.series[0].maxOutputRelErr > 1e-4)
        // Bad: neither --layer nor slope_rate; both; slope_rate of the wrong length; --layer out of range.
        let parent = try StudyFixture.tempDir()
        #expect(failure(Replay.Options(variant: "lightning", inputs: dir, out: parent + "/x"))
            == "\(dir): lightning's decay depends on the layer: give --layer l (MiniMax-01 slope schedule; --layers, default 80) or a tensor slope_rate [H] = [4]")
        var both = Replay.Options(variant: "lightning", inputs: withSlope, out: parent + "/x")
        both.layer = 1
        #expect(failure(both).hasPrefix("--layer/--layers: \(withSlope) gives slope_rate [H]"))
        var far = Replay.Options(variant: "lightning", inputs: dir, out: parent + "/x")
        far.layer = 80
        #expect(failure(far) == "--layer: expected 0..<80 (--layers), got 80")
        try NPY.write(path: withSlope + "/slope_rate.npy", shape: [H - 1], float64: Array(slope.prefix(H - 1)))
        #expect(failure(Replay.Options(variant: "lightning", inputs: withSlope, out: parent + "/x"))
            == "\(withSlope)/slope_rate.npy: tensor 'slope_rate': shape [3]; expected [H] = [4]")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == [])
    }

    /// MoBA and NSA (4 query heads on 2 KV heads, blocks of 16, top-3, NSA window 20, gate
    /// logits from a `gates` tensor) replayed equal the synthetic runs bit for bit, selection
    /// under a quantized cache included; NSA without gates, or with gates of the wrong width, fails.
    @Test func blockSparseReplayMatchesSyntheticRuns() throws {
        let T = 260, HQ = 4, HKV = 2, D = 8, Dv = 6, seed: UInt64 = 19
        let recipe = "k_cache=float8_e4m3fn/per-token,v_cache=bfloat16"
        for kind in [BlockSparseConfig.Kind.moba, .nsa] {
            let dir = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
            try Self.dump(dir, "q", seed: seed, stream: "q", T: T, H: HQ, D: D)
            try Self.dump(dir, "k", seed: seed, stream: "k", T: T, H: HKV, D: D)
            try Self.dump(dir, "v", seed: seed, stream: "v", T: T, H: HKV, D: Dv)
            if kind == .nsa { try Self.dump(dir, "gates", seed: seed, stream: "nsa_gate", T: T, H: HQ, D: 3) }
            var o = Replay.Options(variant: kind.rawValue, inputs: dir, recipes: [recipe], out: out)
            (o.blockSize, o.topK) = (16, 3)
            if kind == .nsa { o.window = 20 }
            let r = try Replay.run(o)
            #expect(r.reference.pass == true, "\(kind)")
            let c = BlockSparseConfig(kind: kind, attention: SoftmaxAttentionConfig(queryHeads: HQ, kvHeads: HKV, headDim: D, valueDim: Dv, seed: seed, evaluation: .every),
                                      blockSize: 16, topKBlocks: 3, window: 20)
            let a = try SparseCatalog.makeRun(config: c, tier: .float64)
            let b = try SparseCatalog.makeRun(config: c, tier: .float32, recipe: try Recipe.parse(recipe).fast)
            let ref = try NPY.view(path: out + "/o_ref.npy")
            #expect(ref.shape == [T, HQ, Dv])
            let meter = ErrorMeter()
            var x = [Double](repeating: 0, count: HQ * Dv), y = x, z = x
            for t in 0..<T {
                a.step(); b.step()
                x.withUnsafeMutableBufferPointer { a.readOutput(into: $0) }
                y.withUnsafeMutableBufferPointer { b.readOutput(into: $0) }
                z.withUnsafeMutableBufferPointer { ref.fill($0, from: t * HQ * Dv) }
                #expect(x == z, "\(kind) o_ref at \(t)")
                let d = x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in meter.distance(reference: p, q) } }
                #expect(r.series[0].outputRelErr[t] == d.relative, "\(kind) \(t)")
            }
            #expect(r.series[0].maxOutputRelErr > 1e-3)
            // The selection is active: a dense run over the same tensors differs.
            let denseOut = try StudyFixture.tempDir() + "/dense"
            try Replay.run(Replay.Options(variant: "gqa", inputs: dir, out: denseOut))
            let full = try NPY.view(path: denseOut + "/o_ref.npy").values(), sparse = ref.values(), w = HQ * Dv
            #expect(Array(full[..<(48 * w)]) == Array(sparse[..<(48 * w)]) || kind == .nsa, "moba is dense up to 4 blocks")
            #expect(Array(full[((T - 1) * w)...]) != Array(sparse[((T - 1) * w)...]), "\(kind): the selection is active")
            if kind == .nsa {
                let parent = try StudyFixture.tempDir()
                try NPY.write(path: dir + "/gates.npy", shape: [T, HQ, 2], float64: Array(repeating: 0, count: T * HQ * 2))
                #expect(failure(Replay.Options(variant: "nsa", inputs: dir, out: parent + "/x"))
                    == "\(dir)/gates.npy: tensor 'gates': shape [260, 4, 2] does not agree with 'q' [260, 4, 8]: gates are [T, HQ, 3]")
                try FileManager.default.removeItem(atPath: dir + "/gates.npy")
                #expect(failure(Replay.Options(variant: "nsa", inputs: dir, out: parent + "/x"))
                    == "\(dir): tensor 'gates' missing; nsa replay needs q [T, HQ, D], k [T, HKV, D], v [T, HKV, Dv], gates [T, HQ, 3]")
                #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == [])
            }
        }
    }

    /// The toolkit's own MLA/DSA inputs as the absorbed kernel receives them (kv_norm, RoPE and
    /// the indexer's Hadamard rotation applied as the generators do), written as .npy files.
    static func dumpLatent(_ dir: String, seed: UInt64, T: Int, H: Int, L: Int, R: Int, N: Int, V: Int, Hi: Int = 0, D: Int = 0, indexRope: Int = 0) throws {
        func rows(_ stream: String, _ width: Int, heads: Int, f32: Bool, _ post: (UnsafeMutableBufferPointer<Double>, Int) -> Void) -> [Double] {
            let g = InputGenerator(seed: seed, stream: stream, dimension: width, float32Representable: f32)
            var all: [Double] = []
            for t in 0..<T {
                for h in 0..<heads {
                    var r = g.row(head: h, position: t)
                    r.withUnsafeMutableBufferPointer { post($0, t) }
                    all += r
                }
            }
            return all
        }
        let rope = RotaryEmbedding(dimension: R)
        let kv = rows("latent", L, heads: 1, f32: false) { x, _ in rmsNormalize(x, count: L); roundToFloat32(x, count: L) }
        let pe = rows("k_pe", R, heads: 1, f32: false) { x, t in rope.apply(x, position: t); roundToFloat32(x, count: R) }
        let qNope = rows("q_nope", N, heads: H, f32: true) { _, _ in }
        let qPe = rows("q_pe", R, heads: H, f32: false) { x, t in rope.apply(x, position: t); roundToFloat32(x, count: R) }
        var wkvB: [Double] = []
        for h in 0..<H {
            for (stream, n) in [("w_uk", N), ("w_uv", V)] {
                let g = InputGenerator(seed: seed, stream: stream, dimension: L)
                for i in 0..<n { wkvB += g.row(head: h, position: i).map { Double(Float($0 / Double(L).squareRoot())) } }
            }
        }
        try NPY.write(path: dir + "/kv_cache.npy", shape: [T, L], float64: kv)
        try NPY.write(path: dir + "/pe_cache.npy", shape: [1, T, R], float64: pe)
        try NPY.write(path: dir + "/q_nope.npy", shape: [T, H, N], float64: qNope)
        try NPY.write(path: dir + "/q_pe.npy", shape: [T, H, R], float64: qPe)
        try NPY.write(path: dir + "/wkv_b.npy", shape: [H * (N + V), L], float64: wkvB)
        guard Hi > 0 else { return }
        let irope = RotaryEmbedding(dimension: indexRope)
        let rotate: (UnsafeMutableBufferPointer<Double>, Int) -> Void = { x, t in
            irope.apply(x, position: t)
            hadamardRotate(x, count: D)
            roundToFloat32(x, count: D)
        }
        try NPY.write(path: dir + "/indexer_q.npy", shape: [T, Hi, D], float64: rows("index_q", D, heads: Hi, f32: false, rotate))
        try NPY.write(path: dir + "/indexer_k.npy", shape: [T, D], float64: rows("index_k", D, heads: 1, f32: false, rotate))
        try NPY.write(path: dir + "/indexer_weights.npy", shape: [T, Hi], float64: rows("index_w", Hi, heads: 1, f32: true) { _, _ in })
    }

    /// MLA and DSA (2 heads, latent 16, RoPE 4, nope 8, value 6; DSA: 2 indexer heads of 8,
    /// top-20) replayed on the toolkit's own inputs equal the synthetic runs bit for bit, a
    /// quantized latent and indexer included; a missing or misshapen wkv_b fails.
    @Test func latentReplayMatchesSyntheticRuns() throws {
        let T = 60, H = 2, L = 16, R = 4, N = 8, V = 6, Hi = 2, D = 8, seed: UInt64 = 23
        let mla = MLAConfig(heads: H, latentDim: L, ropeDim: R, nopeDim: N, valueDim: V, seed: seed, evaluation: .every)
        for variant in ["mla", "dsa"] {
            let dir = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
            try Self.dumpLatent(dir, seed: seed, T: T, H: H, L: L, R: R, N: N, V: V, Hi: variant == "dsa" ? Hi : 0, D: D, indexRope: 4)
            let recipe = "latent=float8_e4m3fn/per-token,rope_cache=bfloat16" + (variant == "dsa" ? ",indexer=float8_e4m3fn/per-token" : "")
            var o = Replay.Options(variant: variant, inputs: dir, recipes: [recipe], out: out)
            if variant == "dsa" { o.topK = 20 }
            let r = try Replay.run(o)
            #expect(r.reference.pass == true, "\(variant)")
            let fp8 = try Recipe.parse(recipe).fast
            let dsa = DSAConfig(mla: mla, indexHeads: Hi, indexDim: D, indexRopeDim: 4, topK: 20)
            let a = variant == "mla" ? try MLADefinition.makeRun(mla, tier: .float64) : try DSADefinition.makeRun(dsa, tier: .float64)
            let b = variant == "mla" ? try MLADefinition.makeRun(mla, tier: .float32, recipe: fp8) : try DSADefinition.makeRun(dsa, tier: .float32, recipe: fp8)
            let ref = try NPY.view(path: out + "/o_ref.npy")
            #expect(ref.shape == [T, H, V])
            let meter = ErrorMeter()
            var x = [Double](repeating: 0, count: H * V), y = x, z = x
            for t in 0..<T {
                a.step(); b.step()
                x.withUnsafeMutableBufferPointer { a.readOutput(into: $0) }
                y.withUnsafeMutableBufferPointer { b.readOutput(into: $0) }
                z.withUnsafeMutableBufferPointer { ref.fill($0, from: t * H * V) }
                #expect(x == z, "\(variant) o_ref at \(t)")
                let d = x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in meter.distance(reference: p, q) } }
                #expect(r.series[0].outputRelErr[t] == d.relative, "\(variant) \(t)")
            }
            #expect(r.series[0].maxOutputRelErr > 1e-3)
            if variant == "dsa" {
                // The selection is active: MLA over the same tensors (all tokens) differs at the end.
                let dense = try StudyFixture.tempDir() + "/dense"
                try Replay.run(Replay.Options(variant: "mla", inputs: dir, out: dense))
                let full = try NPY.view(path: dense + "/o_ref.npy").values(), sparse = ref.values(), w = H * V
                #expect(Array(full[..<(20 * w)]) == Array(sparse[..<(20 * w)]))
                #expect(Array(full[((T - 1) * w)...]) != Array(sparse[((T - 1) * w)...]))
            }
        }
        // Bad inputs: wkv_b of the wrong width, missing; q_pe with other heads.
        let dir = try StudyFixture.tempDir(), parent = try StudyFixture.tempDir()
        try Self.dumpLatent(dir, seed: seed, T: 8, H: H, L: L, R: R, N: N, V: V)
        try NPY.write(path: dir + "/wkv_b.npy", shape: [H * (N + V), L + 1], float64: Array(repeating: 0, count: H * (N + V) * (L + 1)))
        #expect(failure(Replay.Options(variant: "mla", inputs: dir, out: parent + "/x"))
            == "\(dir)/wkv_b.npy: tensor 'wkv_b': shape [28, 17]; expected [H·(N+V), L] = [2·(8+V), 16] (or [H, N+V, L]) from 'q_nope' [8, 2, 8] and 'kv_cache' [8, 16]")
        try FileManager.default.removeItem(atPath: dir + "/wkv_b.npy")
        #expect(failure(Replay.Options(variant: "dsa", inputs: dir, out: parent + "/x")).hasPrefix("\(dir): tensor 'indexer_q' missing; dsa replay needs kv_cache [T, L], "))
        #expect(failure(Replay.Options(variant: "mla", inputs: dir, out: parent + "/x"))
            == "\(dir): tensor 'wkv_b' missing; mla replay needs kv_cache [T, L], pe_cache [T, R], q_nope [T, H, N], q_pe [T, H, R], wkv_b [H·(N+V), L]")
        try NPY.write(path: dir + "/q_pe.npy", shape: [8, 3, R], float64: Array(repeating: 0, count: 8 * 3 * R))
        #expect(failure(Replay.Options(variant: "mla", inputs: dir, out: parent + "/x"))
            == "\(dir)/q_pe.npy: tensor 'q_pe': shape [8, 3, 4] does not agree with 'q_nope' [8, 2, 8] and 'pe_cache' [1, 8, 4]: q_pe is [T, H, R]")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == [])
    }

    /// RWKV-7 replayed on FLA's kernel inputs (r, w = log decay, k', v, a = −κ̂, b = κ̂⊙a),
    /// computed here by the toolkit's own token preparation on the Float64 backend: the
    /// reference outputs and final states equal the synthetic run's bit for bit.
    @Test func rwkv7ReplayMatchesSyntheticHeads() throws {
        let T = 50, H = 2, K = 8, seed: UInt64 = 29
        let dir = try StudyFixture.tempDir(), out = try StudyFixture.tempDir() + "/out"
        let names = ["r", "w", "k", "v", "a", "b"]
        var arrays = [[Double]](repeating: [Double](repeating: 0, count: T * H * K), count: 6)
        for h in 0..<H {
            let c = RWKV7Config(headDim: K, head: h, seed: seed, decayLog: true)
            let gens = RWKV7Inputs(c), be = Float64Backend(), prep = RWKV7TokenPrep(c, backend: be)
            let stores = StorePoints(recipe: .exact, seed: seed, head: h)
            let r = be.allocate(K), k = be.allocate(K), v = be.allocate(K), wRaw = be.allocate(K), aRaw = be.allocate(K)
            let decay = be.allocate(K), kappa = be.allocate(K), b = be.allocate(K)
            var row = [Double](repeating: 0, count: K)
            for t in 0..<T {
                for (i, tensor) in [r, k, v, wRaw, aRaw].enumerated() {
                    row.withUnsafeMutableBufferPointer { gens.fill(i, $0, head: h, position: t) }
                    be.load(tensor, row)
                }
                prep.prepare(be, r: r, k: k, v: v, wRaw: wRaw, aRaw: aRaw, decay: decay, kappa: kappa, b: b, wantLog: true, stores: stores, step: t)
                for (i, tensor) in [r, decay, k, v, kappa, b].enumerated() {
                    arrays[i].withUnsafeMutableBufferPointer { be.read(tensor, into: UnsafeMutableBufferPointer(rebasing: $0[(t * H + h) * K..<(t * H + h + 1) * K])) }
                }
            }
        }
        for (n, a) in zip(names, arrays) { try NPY.write(path: "\(dir)/\(n).npy", shape: [T, H, K], float64: a) }
        let result = try Replay.run(Replay.Options(variant: "rwkv7", inputs: dir, recipes: ["state=bfloat16"], out: out))
        #expect(result.reference.pass == true)
        let runs = try (0..<H).map { try RWKV7Definition.makeRun(config: RWKV7Config(headDim: K, head: $0, seed: seed, decayLog: true), tier: .float64) }
        let ref = try NPY.view(path: out + "/o_ref.npy")
        #expect(ref.shape == [T, H, K])
        var x = [Double](repeating: 0, count: H * K), z = x
        for t in 0..<T {
            for r in runs { r.step() }
            x.withUnsafeMutableBufferPointer { p in for h in 0..<H { runs[h].readOutput(into: UnsafeMutableBufferPointer(rebasing: p[h * K..<(h + 1) * K])) } }
            z.withUnsafeMutableBufferPointer { ref.fill($0, from: t * H * K) }
            #expect(x == z, "o_ref at \(t)")
        }
        var state = [Double](repeating: 0, count: H * K * K)
        state.withUnsafeMutableBufferPointer { p in for h in 0..<H { runs[h].readState(into: UnsafeMutableBufferPointer(rebasing: p[h * K * K..<(h + 1) * K * K])) } }
        #expect(try NPY.view(path: out + "/state_ref.npy").values() == state)
        #expect(result.series[0].finalStateRelErr! > 1e-4 && result.series[0].maxOutputRelErr > 1e-4)
        // b of another width: refused, naming file and tensor.
        let parent = try StudyFixture.tempDir()
        try NPY.write(path: dir + "/b.npy", shape: [T, H, K / 2], float64: Array(repeating: 0, count: T * H * K / 2))
        #expect(failure(Replay.Options(variant: "rwkv7", inputs: dir, out: parent + "/x"))
            == "\(dir)/b.npy: tensor 'b': shape [50, 2, 4] does not agree with 'r' [50, 2, 8] (RWKV-7: every input is [T, H, K])")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == [])
    }

    func failure(_ o: Replay.Options) -> String {
        do { try Replay.run(o); return "" } catch let e as StudyInputError { return e.description } catch { return "other: \(error)" }
    }

    @Test func badInputsNameFileAndTensorAndWriteNothing() throws {
        let T = 16, dir = try StudyFixture.tempDir()
        let parent = try StudyFixture.tempDir(), out = parent + "/out"
        for (n, h) in [("q", 2), ("k", 2), ("v", 3)] { try Self.dump(dir, n, seed: 1, stream: n, T: T, H: h, D: 4) }
        try NPY.write(path: dir + "/beta.npy", shape: [T, 3], float64: Array(repeating: 0.5, count: T * 3))
        func check(_ variant: String, _ inputs: String, _ expected: String, compares: [String] = []) {
            let f = failure(Replay.Options(variant: variant, inputs: inputs, recipes: ["state=bfloat16"], compares: compares, out: out))
            #expect(f.contains(expected), "expected '\(expected)', got '\(f)'")
            #expect(!f.contains("\n"))
            #expect((try? FileManager.default.contentsOfDirectory(atPath: parent)) == [], "\(variant): something was written")
        }
        check("gated_deltanet", dir, "\(dir): tensor 'g' missing; gated_deltanet replay needs q [T, H, K], k [T, H, K], v [T, HV, V], g [T, HV], beta [T, HV]")
        check("deltanet", dir, "\(dir)/v.npy: tensor 'v': shape [16, 3, 4] does not agree with 'q' [16, 2, 4]: H = 2 must divide HV = 3")
        check("rwkv7", dir, "\(dir): tensor 'r' missing; rwkv7 replay needs r [T, H, K], w [T, H, K], k [T, H, K], v [T, H, K], a [T, H, K], b [T, H, K]")
        check("mamba2", dir, "\(dir): tensor 'x' missing; mamba2 replay needs x [T, H, P], dt [T, H], A_log [H], B [T, G, N], C [T, G, N]")
        // NaN in an input.
        let nan = try StudyFixture.tempDir()
        for n in ["q", "k"] { try Self.dump(nan, n, seed: 1, stream: n, T: T, H: 2, D: 4) }
        var v = [Float](repeating: 1, count: T * 2 * 4)
        v[37] = .nan
        try NPY.write(path: nan + "/v.npy", shape: [T, 2, 4], float32: v)
        check("linear", nan, "\(nan)/v.npy: tensor 'v': element 37 is nan; inputs must be finite")
        v[37] = .infinity
        try NPY.write(path: nan + "/v.npy", shape: [T, 2, 4], float32: v)
        check("linear", nan, "tensor 'v': element 37 is inf")
        // A compared output of the wrong shape; a lying safetensors file.
        v[37] = 0
        try NPY.write(path: nan + "/v.npy", shape: [T, 2, 4], float32: v)
        try NPY.write(path: parent + "/../o_wrong.npy", shape: [T, 4], float32: Array(repeating: 0, count: T * 4))
        check("linear", nan, "o_wrong.npy: tensor 'o_wrong': shape [16, 4]; expected the output shape [16, 2, 4]", compares: ["x=\(parent)/../o_wrong.npy"])
        let lying = parent + "/../lying.safetensors"
        var d = Data()
        let header = #"{"q":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8))
        d.append(Data(count: 16))
        try d.write(to: URL(fileURLWithPath: lying))
        check("linear", lying, "tensor 'q': data_offsets [0, 4398046511104] go beyond the data region (16 bytes)")
        let f = failure(Replay.Options(variant: "linear", inputs: nan, recipes: ["state=bfloat16,k_cache=int8"], out: out))
        #expect(f.hasPrefix("--recipe 'state=bfloat16,k_cache=int8': ") && f.contains("k_cache"), "\(f)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: parent)) == [])
    }
}
