import ExactArithmetic
import Foundation
import Testing
@testable import AttentionVariants

/// The block-lockstep engine: where blocks end, what the hooks see, and rows that do not
/// depend on the blocks or the threads.
@Suite struct LockstepEngineTests {
    static func run(seed: UInt64, recipe: String? = nil) throws -> SteppedRun {
        var cfg = LinearAttentionConfig(keyDim: 8, valueDim: 8)
        cfg.seed = seed
        return LinearAttentionDecode(config: cfg, backend: Float64Backend(), recipe: try recipe.map { try Recipe.parse($0) } ?? Recipe())
    }

    /// Every row the engine hands out, per run, in position order.
    static func rows(_ engine: LockstepEngine, groups: Int, tokens T: Int, endsAt: (Int) -> Bool = { _ in false }) -> [[Double]] {
        var out = [[Double]](repeating: [], count: groups)
        engine.run(tokens: T, endsAt: endsAt, measure: { _, n in
            for g in 0..<groups { for i in 0..<n { out[g] += engine.row(g, i) } }
        })
        return out
    }

    /// Blocks end at maxBlock, where asked, and at the last position; `atBlockStart` sees the
    /// block's first position before it is computed.
    @Test func blocksEndWhereAsked() throws {
        let engine = LockstepEngine(runs: [SteppedBlockRun(try Self.run(seed: 1))], maxBlock: 8)
        var blocks: [[Int]] = [], starts: [Int] = []
        engine.run(tokens: 30, endsAt: { $0 == 2 || $0 == 20 }, atBlockStart: { starts.append($0) },
                   measure: { start, n in blocks.append([start, n]) })
        #expect(blocks == [[0, 3], [3, 8], [11, 8], [19, 2], [21, 8], [29, 1]])
        #expect(starts == blocks.map { $0[0] })
    }

    /// Rows equal stepping each run alone, bit for bit, for any block size and thread count;
    /// runs of a group sit side by side.
    @Test func rowsDoNotDependOnBlocksOrThreads() throws {
        let T = 100, w = 8
        var alone: [[Double]] = []
        for seed in [1, 2, 3] as [UInt64] {
            let r = try Self.run(seed: seed, recipe: seed == 1 ? nil : "state=bfloat16")
            var o = [Double](repeating: 0, count: w), all: [Double] = []
            for _ in 0..<T { r.step(); o.withUnsafeMutableBufferPointer { r.readOutput(into: $0) }; all += o }
            alone.append(all)
        }
        for (block, threads) in [(1, 1), (7, 4), (256, 2)] {
            let runs = try ([1, 2, 3] as [UInt64]).map { SteppedBlockRun(try Self.run(seed: $0, recipe: $0 == 1 ? nil : "state=bfloat16")) as BlockRun }
            let engine = LockstepEngine(runs: runs, groups: [[0], [1, 2]], maxBlock: block, threads: threads)
            let rows = Self.rows(engine, groups: 2, tokens: T)
            #expect(rows[0].map(\.bitPattern) == alone[0].map(\.bitPattern), "block \(block), threads \(threads)")
            var side: [Double] = []
            for t in 0..<T {
                side += alone[1][t * w..<(t + 1) * w]
                side += alone[2][t * w..<(t + 1) * w]
            }
            #expect(rows[1].map(\.bitPattern) == side.map(\.bitPattern), "block \(block), threads \(threads)")
        }
    }

    /// A run with `until` stops there; the state distance reads the runs as they stand.
    @Test func runsStopAtUntil() throws {
        let a = SteppedBlockRun(try Self.run(seed: 4)), b = SteppedBlockRun(try Self.run(seed: 4), until: 10)
        let engine = LockstepEngine(runs: [a, b], maxBlock: 4)
        var distances: [Double] = []
        engine.run(tokens: 16, endsAt: { _ in false }, measure: { _, _ in
            distances.append(engine.stateDistance(0, 1, meter: ErrorMeter()).relative)
        })
        #expect(a.stepped == 16 && b.stepped == 10)
        #expect(distances[0] == 0 && distances[1] == 0 && distances[3] > 0)
    }
}
