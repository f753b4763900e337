import ExactArithmetic
import Foundation
import NumberFormats
import Testing
import Workloads
@testable import AttentionVariants

@Suite struct DSATests {
    static let sample = EvaluationSchedule(dense: 8, perOctave: 2, stride: 128, last: 1023)

    /// Float64 vs MPFR-128 with the selection active (top-64 of up to 1024 keys).
    @Test(arguments: [InputDistribution.gaussian, .sparseOutliers()])
    func float64AgreesWithMPFR128(dist: InputDistribution) throws {
        let cfg = DSAConfig(mla: MLAConfig(distribution: dist, evaluation: Self.sample), topK: 64)
        let f64 = try DSA.makeRun(config: cfg, backend: Float64Backend()).0
        let mp = try DSA.makeRun(config: cfg, backend: MPFRBackend(precision: 128)).0
        let s = Lockstep.run(reference: mp, approximation: f64, tokens: 1024, comparison: .exact, outputAt: Self.sample.contains)
        #expect(s.outputMaxRelative < 1e-12, "\(dist): \(s.outputMaxRelative)")
        #expect(f64.lastSelection.count == 64)
    }

    @Test func topKAtLeastTEqualsDenseMLA() throws {
        let T = 200
        let mla = MLAConfig(heads: 2, evaluation: .certification)
        let dense = try MLADecode(config: mla, backend: Float64Backend())
        let dsa = try DSA.makeRun(config: DSAConfig(mla: mla, topK: T), backend: Float64Backend()).0
        #expect(mlaOutputs(dense, tokens: T) == mlaOutputs(dsa, tokens: T))
    }

    /// With real selection (top-k = T/8) the chosen set is the brute-force top-k of the exact
    /// indexer scores, recomputed here with an explicit Hadamard matrix and a full sort.
    @Test func selectionEqualsBruteForceTopK() throws {
        let T = 512, K = T / 8, D = 128, Hi = 4
        let cfg = DSAConfig(mla: MLAConfig(evaluation: EvaluationSchedule(dense: 0, perOctave: 0, stride: 0, last: T - 1)), indexHeads: Hi, topK: K)
        let (run, _) = try DSA.makeRun(config: cfg, backend: Float64Backend())
        for _ in 0..<T { run.step() }
        let rope = RotaryEmbedding(dimension: 64)
        func prepared(_ stream: String, head: Int, position: Int) -> [Double] {
            var x = InputGenerator(seed: 0, stream: stream, dimension: D, float32Representable: false).row(head: head, position: position)
            x.withUnsafeMutableBufferPointer { rope.apply($0, position: position) }
            var y = [Double](repeating: 0, count: D)
            for i in 0..<D {
                for j in 0..<D { y[i] += ((i & j).nonzeroBitCount % 2 == 0 ? 1.0 : -1.0) * x[j] }
                y[i] /= Double(D).squareRoot()
            }
            return y.map { Double(Float($0)) }
        }
        let t = T - 1
        let qs = (0..<Hi).map { prepared("index_q", head: $0, position: t) }
        let w = InputGenerator(seed: 0, stream: "index_w", dimension: Hi).row(head: 0, position: t).map { Double(Float($0 / (Double(Hi) * Double(D)).squareRoot())) }
        var scores: [(Double, Int)] = []
        for s in 0...t {
            let k = prepared("index_k", head: 0, position: s)
            var total = 0.0
            for j in 0..<Hi { total += w[j] * max(0, zip(qs[j], k).reduce(0) { $0 + $1.0 * $1.1 }) }
            scores.append((total, s))
        }
        scores.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        let brute = scores.prefix(K).map(\.1).sorted()
        #expect(run.lastSelection == brute)
        #expect(run.lastSelection.count == K)
    }

    @Test func topKTiesBreakTowardTheLowerIndex() {
        var out: [Int] = [], order: [Int] = []
        DSAIndexer.topK([1, 3, 3, 2, 3], k: 2, into: &out, order: &order)
        #expect(out == [1, 2])
        DSAIndexer.topK([0, 0, 0, 0], k: 3, into: &out, order: &order)
        #expect(out == [0, 1, 2])
    }

    /// The fp8 indexer (e4m3 per 128, power-of-two scale) flips some selections: report the
    /// overlap with the exact indexer.
    @Test func fp8IndexerOverlap() throws {
        let T = 1024
        let sched = EvaluationSchedule(dense: 0, perOctave: 2, stride: 256, last: T - 1)
        let cfg = DSAConfig(mla: MLAConfig(evaluation: sched), topK: 128)
        let (run, indexer) = try DSA.makeRun(config: cfg, backend: Float32Backend(), recipe: try Recipe.parse("indexer=float8_e4m3fn/block:128/pow2"))
        for _ in 0..<T { run.step() }
        let active = zip(indexer.overlapPositions, indexer.overlaps).filter { $0.0 >= 128 }.map(\.1)
        let mean = active.reduce(0, +) / Double(active.count)
        print("dsa fp8 indexer top-128 overlap: mean \(mean), min \(active.min()!), positions \(active.count)")
        #expect(mean > 0.6 && mean < 1)
    }

    @Test func badInputIsRejected() throws {
        #expect(throws: VariantError.self) { try DSA.makeRun(config: DSAConfig(topK: 0), backend: Float64Backend()) }
        #expect(throws: VariantError.self) { try DSA.makeRun(config: DSAConfig(indexDim: 96), backend: Float64Backend()) }
        #expect(throws: VariantError.self) {
            try DSA.makeRun(config: DSAConfig(), backend: Float64Backend(), recipe: try Recipe.parse("state=bfloat16"))
        }
    }
}
