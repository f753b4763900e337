import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

@Suite struct BlockSparseTests {
    static let sample = EvaluationSchedule(dense: 16, perOctave: 2, stride: 128, last: 1023)

    @Test(arguments: ["moba", "nsa"])
    func float64AgreesWithMPFR128(name: String) throws {
        var cfg = SparseCatalog.defaultConfig(name)!
        cfg.attention.queryHeads = 2
        cfg.attention.evaluation = Self.sample
        let f64 = try SparseCatalog.makeRun(config: cfg, tier: .float64)
        let mp = try SparseCatalog.makeRun(config: cfg, tier: .mpfr(bits: 128))
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: 1024, comparison: .exact, outputAt: Self.sample.contains)
        #expect(s.outputMaxRelative < 1e-12, "\(name): \(s.outputMaxRelative)")
    }

    @Test(arguments: ["moba", "nsa"])
    func selectingEveryBlockEqualsDense(name: String) throws {
        let T = 300
        let att = SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1, evaluation: .every)
        var cfg = BlockSparseConfig(kind: name == "moba" ? .moba : .nsa, attention: att, blockSize: 16, topKBlocks: T / 16 + 1)
        cfg.window = 16
        let sparse = try SoftmaxDecode(config: att, backend: Float64Backend(), selector: try BlockSelector(config: cfg))
        let dense = try SoftmaxDecode(config: att, backend: Float64Backend())
        #expect(softmaxOutputs(sparse, tokens: T) == softmaxOutputs(dense, tokens: T))
    }

    /// Real selection (4 of 32 blocks): the chosen blocks are the brute-force top blocks of
    /// q·mean(K_block), and the attended keys are their union with the current block.
    @Test func mobaSelectionEqualsBruteForce() throws {
        let T = 1024, B = 32, k = 4
        let att = SoftmaxAttentionConfig(evaluation: EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: T - 1))
        let sel = try BlockSelector(config: BlockSparseConfig(kind: .moba, attention: att, blockSize: B, topKBlocks: k))
        let run = try SoftmaxDecode(config: att, backend: Float64Backend(), selector: sel)
        for _ in 0..<T { run.step() }
        let t = T - 1, current = t / B
        let q = InputGenerator(seed: 0, stream: "q", dimension: 64).row(head: 0, position: t)
        let kGen = InputGenerator(seed: 0, stream: "k", dimension: 64)
        var scores: [(Double, Int)] = []
        for b in 0..<current {
            var mean = [Double](repeating: 0, count: 64)
            for s in b * B..<(b + 1) * B { for (c, x) in kGen.row(head: 0, position: s).enumerated() { mean[c] += x } }
            scores.append((zip(q, mean).reduce(0) { $0 + $1.0 * $1.1 / Double(B) }, b))
        }
        scores.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        let blocks = scores.prefix(k).map(\.1).sorted()
        #expect(sel.lastBlocks == blocks)
        let expected = (blocks.flatMap { Array($0 * B..<($0 + 1) * B) } + Array(current * B...t)).sorted()
        #expect(run.lastSelection == expected)
    }

    /// NSA's gated three branches against a brute-force binary64 evaluation from the generators:
    /// compressed (softmax over block means), selected (initial + top blocks + current block),
    /// window, mixed by σ of the gate logits.
    @Test func nsaEqualsBruteForce() throws {
        let T = 700, B = 32, k = 4, W = 48, d = 16
        let checks: Set<Int> = [20, 31, 100, 333, 699]
        let att = SoftmaxAttentionConfig(queryHeads: 2, kvHeads: 1, headDim: d, evaluation: EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: 699))
        var cfg = BlockSparseConfig(kind: .nsa, attention: att, blockSize: B, topKBlocks: k, window: W)
        cfg.attention.evaluation = .every
        let run = try NSADecode(config: cfg, backend: Float64Backend())
        let qGen = InputGenerator(seed: 0, stream: "q", dimension: d), kGen = InputGenerator(seed: 0, stream: "k", dimension: d)
        let vGen = InputGenerator(seed: 0, stream: "v", dimension: d), zGen = InputGenerator(seed: 0, stream: "nsa_gate", dimension: 3)
        let keys = (0..<T).map { kGen.row(head: 0, position: $0) }, values = (0..<T).map { vGen.row(head: 0, position: $0) }
        func softmax(_ q: [Double], _ ks: [[Double]], _ vs: [[Double]]) -> [Double] {
            let s = ks.map { zip(q, $0).reduce(0) { $0 + $1.0 * $1.1 } / Double(d).squareRoot() }
            let m = s.max()!
            let w = s.map { Foundation.exp($0 - m) }, l = w.reduce(0, +)
            return (0..<d).map { c in zip(w, vs).reduce(0) { $0 + $1.0 * $1.1[c] } / l }
        }
        func mean(_ rows: ArraySlice<[Double]>) -> [Double] { (0..<d).map { c in rows.reduce(0) { $0 + $1[c] } / Double(rows.count) } }
        var buf = [Double](repeating: 0, count: run.outputCount)
        for t in 0..<T {
            run.step()
            guard checks.contains(t) else { continue }
            buf.withUnsafeMutableBufferPointer { run.readOutput(into: $0) }
            let current = (t + 1) / B, cur = t / B
            let kBar = (0..<current).map { mean(keys[$0 * B..<($0 + 1) * B]) }, vBar = (0..<current).map { mean(values[$0 * B..<($0 + 1) * B]) }
            let qs = (0..<2).map { qGen.row(head: $0, position: t) }
            var blocks = Array(0..<cur)
            if cur > k {
                var scores: [(Double, Int)] = []
                for b in 1..<cur {
                    var s = 0.0
                    for q in qs { for c in 0..<d { s += q[c] * kBar[b][c] } }
                    scores.append((s, b))
                }
                scores.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                blocks = ([0] + scores.prefix(k - 1).map { $0.1 }).sorted()
            }
            let sel = Array(Set(blocks.flatMap { Array($0 * B..<($0 + 1) * B) } + Array(cur * B...t))).sorted()
            let win = Array(max(0, t - W + 1)...t)
            for h in 0..<2 {
                let z = zGen.row(head: h, position: t).map { 1 / (1 + Foundation.exp(-$0)) }
                let os = softmax(qs[h], sel.map { keys[$0] }, sel.map { values[$0] })
                let ow = softmax(qs[h], win.map { keys[$0] }, win.map { values[$0] })
                let oc = current > 0 ? softmax(qs[h], kBar, vBar) : [Double](repeating: 0, count: d)
                let expected = (0..<d).map { z[0] * oc[$0] + z[1] * os[$0] + z[2] * ow[$0] }
                let got = Array(buf[h * d..<(h + 1) * d])
                #expect(relativeDistance(expected, got) < 1e-13, "t \(t) h \(h)")
            }
            #expect(run.lastSelection == sel)
        }
    }

    /// With an e4m3 cache the pooled keys are the dequantized ones: the selection can flip.
    @Test func quantizedCacheChangesTheSelection() throws {
        var cfg = SparseCatalog.defaultConfig("moba")!
        cfg.attention.evaluation = EvaluationSchedule(dense: 0, perOctave: 0, stride: 16, last: 2047)
        cfg.topKBlocks = 2
        cfg.blockSize = 16
        let exact = try SparseCatalog.makeRun(config: cfg, tier: .float32) as! AttentionDiagnostics
        let e4 = try SparseCatalog.makeRun(config: cfg, tier: .float32, recipe: try Recipe.parse("k_cache=float8_e4m3fn/per-token")) as! AttentionDiagnostics
        var same = 0, evaluated = 0
        for t in 0..<2048 {
            (exact as! SteppedRun).step(); (e4 as! SteppedRun).step()
            if cfg.attention.evaluation.contains(t) && t >= 64 {
                evaluated += 1
                if exact.lastSelection == e4.lastSelection { same += 1 }
            }
        }
        #expect(same < evaluated)
        #expect(same > evaluated / 2)
    }

    @Test func badInputIsRejected() {
        #expect(throws: VariantError.self) { try BlockSelector(config: BlockSparseConfig(kind: .moba, blockSize: 0)) }
        #expect(throws: VariantError.self) { try BlockSelector(config: BlockSparseConfig(kind: .nsa, topKBlocks: 0)) }
        #expect(throws: VariantError.self) { try BlockSelector(config: BlockSparseConfig(kind: .nsa, window: 0)) }
    }
}
