import Foundation
import Testing
@testable import Workloads

@Suite struct GeneratorTests {
    /// `fill` gives the same bits as `generate` for any interleaving of generators that share
    /// (head, position), on any thread.
    @Test func rowsAreTheSameOnEveryThread() {
        let gens = [
            InputGenerator(seed: 1, stream: "q", dimension: 32), InputGenerator(seed: 1, stream: "k", dimension: 32),
            InputGenerator(seed: 2, stream: "q", dimension: 32), InputGenerator(seed: 1, stream: "q", dimension: 16),
            InputGenerator(seed: 1, stream: "q", dimension: 32, distribution: .sparseOutliers()),
            InputGenerator(seed: 1, stream: "q", dimension: 32, distribution: .studentT(dof: 3)),
            InputGenerator(seed: 1, stream: "q", dimension: 32, l2Normalized: true),
        ]
        @Sendable func rows() -> [[UInt64]] {
            var all: [[UInt64]] = []
            var out = [Double](repeating: .nan, count: 32), direct = out
            for position in 0..<300 {
                for g in gens {
                    out.withUnsafeMutableBufferPointer { g.fill($0, head: position % 3, position: position) }
                    direct.withUnsafeMutableBufferPointer { g.generate($0, head: position % 3, position: position) }
                    all.append(out[0..<g.dimension].map(\.bitPattern))
                    all.append(direct[0..<g.dimension].map(\.bitPattern))
                }
            }
            return all
        }
        let here = rows()
        for i in stride(from: 0, to: here.count, by: 2) { #expect(here[i] == here[i + 1]) }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [[[UInt64]]] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let r = rows()
            results.lock.lock(); results.all.append(r); results.lock.unlock()
        }
        #expect(results.all.count == 4 && results.all.allSatisfy { $0 == here })
    }

    @Test func anyPositionRegeneratesIdentically() {
        let g = InputGenerator(seed: 42, stream: "k", dimension: 64)
        let forward = (0..<50).map { g.row(head: 3, position: $0) }
        for t in (0..<50).reversed() { #expect(g.row(head: 3, position: t) == forward[t]) }
        #expect(g.row(head: 3, position: 1_000_000) == g.row(head: 3, position: 1_000_000))
        #expect(g.row(head: 3, position: 0) != g.row(head: 4, position: 0))
        #expect(g.row(head: 3, position: 0) != InputGenerator(seed: 43, stream: "k", dimension: 64).row(head: 3, position: 0))
        #expect(g.row(head: 3, position: 0) != InputGenerator(seed: 42, stream: "v", dimension: 64).row(head: 3, position: 0))
    }

    @Test func gaussianMomentsAndFloat32Values() {
        let g = InputGenerator(seed: 1, stream: "q", dimension: 128)
        var s = 0.0, s2 = 0.0, n = 0.0
        for t in 0..<400 {
            for x in g.row(head: 0, position: t) {
                #expect(Double(Float(x)) == x)
                s += x; s2 += x * x; n += 1
            }
        }
        #expect(abs(s / n) < 0.02)
        #expect(abs(s2 / n - 1) < 0.03)
    }

    @Test func l2NormalisedRows() {
        let g = InputGenerator(seed: 1, stream: "k", dimension: 128, l2Normalized: true, float32Representable: false)
        for t in 0..<20 {
            let r = g.row(head: 0, position: t)
            #expect(abs(r.reduce(0) { $0 + $1 * $1 } - 1) < 1e-14)
        }
    }

    @Test func sparseOutliersAppearAtTheirRate() {
        let g = InputGenerator(seed: 5, stream: "k", dimension: 1000, distribution: .sparseOutliers(probability: 0.01, scale: 10))
        var big = 0
        for t in 0..<20 { big += g.row(head: 0, position: t).filter { abs($0) > 6 }.count }
        // 20000 draws × 0.01 × P(|N(0,101)| > 6) ≈ 110; plain N(0,1) contributes ~0.
        #expect(big > 60 && big < 180, "\(big)")
    }

    @Test func channelOutliersAreStablePerHead() {
        let g = InputGenerator(seed: 5, stream: "k", dimension: 64, distribution: .channelOutliers(count: 2, minFactor: 20, maxFactor: 20))
        var energy = [Double](repeating: 0, count: 64)
        for t in 0..<200 { for (i, x) in g.row(head: 0, position: t).enumerated() { energy[i] += x * x } }
        let sorted = energy.sorted(by: >)
        #expect(sorted[1] > 100 * sorted[2] || sorted[0] > 100 * sorted[1])
    }

    @Test func gateSchedules() {
        #expect(GateSchedule.retnet.constantDecay(head: 0) == 1 - 1.0 / 32)
        #expect(GateSchedule.constant(0.99).constantDecay(head: 7) == 0.99)
        #expect(GateSchedule.none.constantDecay(head: 0) == nil)
        let m = GateSchedule.mamba()
        let p = m.rawParameters(seed: 0, head: 1)!
        #expect(p.aLog >= 0 && p.aLog <= log(16.0) + 1e-6)
        let dt = log1p(exp(p.dtBias))
        #expect(dt > 0.0009 && dt < 0.11)
        #expect(m.rawParameters(seed: 0, head: 1)! == p)
        let l = lightningLogDecay(head: 0, heads: 64, layer: 0, layers: 80)
        #expect(l < 0 && l > -1)
    }

    @Test func studentTHasHeavierTails() {
        let g = InputGenerator(seed: 9, stream: "v", dimension: 1000, distribution: .studentT(dof: 3))
        var big = 0
        for t in 0..<10 { big += g.row(head: 0, position: t).filter { abs($0) > 5 }.count }
        #expect(big > 20)  // N(0,1) would give ~0 of 10^4
    }
}
