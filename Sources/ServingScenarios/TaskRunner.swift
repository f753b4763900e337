import AttentionVariants
import DriftStudy
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// A memory a procedural task writes into: one head of a real decode kernel (DeltaNet with
/// β = 1, or undecayed linear attention), driven on task inputs instead of generated ones, its
/// state stored through the recipe at every step exactly as in the study.
public final class TaskMemory {
    public enum Kind: String, CaseIterable, Sendable { case deltanet, linear }

    public let kind: Kind
    public let run: SteppedRun
    let write: ([Double], [Double]) -> Void

    /// A K×V memory on `tier` (Float64 for the exact run, Float32 — the compute precision of
    /// real kernels — for emulated ones).
    public init(kind: Kind, keyDim: Int, valueDim: Int, tier: BackendTier, recipe: Recipe, seed: UInt64) throws {
        self.kind = kind
        func make<B: Backend>(_ b: B) throws -> (SteppedRun, ([Double], [Double]) -> Void) {
            switch kind {
            case .deltanet:
                let c = DeltaRuleConfig(kind: .deltanet, keyDim: keyDim, valueDim: valueDim, seed: seed, gates: DeltaGates.none,
                                        beta: .constant(1), scale: 1, l2NormalizeQK: false)
                let r = try DeltaRuleDecode(config: c, backend: b, recipe: recipe)
                return (r, { k, v in r.step(q: k, k: k, v: v, beta: 1) })
            case .linear:
                let c = LinearAttentionConfig(keyDim: keyDim, valueDim: valueDim, seed: seed, scale: 1)
                let r = LinearAttentionDecode(config: c, backend: b, recipe: recipe)
                return (r, { k, v in r.step(q: k, k: k, v: v) })
            }
        }
        switch tier {
        case .float64: (run, write) = try make(Float64Backend())
        case .float32: (run, write) = try make(Float32Backend())
        default: throw StudyInputError("task memories run on float64 or float32, not \(tier)")
        }
    }

    /// Writes the pair (k, v): one decode step.
    public func store(key: [Double], value: [Double]) { write(key, value) }

    /// The stored state (K×V, row-major).
    public func readState(into out: inout [Double]) {
        out.withUnsafeMutableBufferPointer { run.readState(into: $0) }
    }
}

/// Runs the procedural tasks (DESIGN.md §6): MQAR and the needle (RecallTasks.swift), the counter
/// (CounterTask.swift); their shared inputs (Hadamard keys, permutations, probe lengths) and plan.
public enum TaskRunner {
    /// The recipe name of the exact Float64 run every task config includes.
    public static let exactName = "exact-float64"

    /// The recipes of `config`, the exact Float64 run first.
    static func recipes(_ config: ScenarioConfig) throws -> [(name: String, recipe: Recipe, tier: BackendTier)] {
        var out: [(String, Recipe, BackendTier)] = [(exactName, Recipe.exact, .float64)]
        for spec in config.recipes { out.append((spec.name, try config.recipe(spec).fast, .float32)) }
        return out
    }

    /// Positions (lengths) where a task is probed: the config's lengths plus `perOctave` per
    /// doubling from `from` to the longest.
    static func probeLengths(_ config: ScenarioConfig, from: Int) -> [Int] {
        var s = Set(config.tokens)
        let T = config.tokens.last!
        var x = Double(max(from, 1))
        while x < Double(T) {
            s.insert(Int(x.rounded()))
            x *= pow(2, 1 / Double(config.perOctave))
        }
        return s.filter { $0 >= from && $0 <= T }.sorted()
    }

    /// Row `row` of the Sylvester Hadamard matrix of order K, divided by √K (orthonormal rows;
    /// exact in binary when K is a power of four).
    public static func hadamardKey(row: Int, dimension K: Int) -> [Double] {
        let r = 1 / Double(K).squareRoot()
        return (0..<K).map { (row & $0).nonzeroBitCount % 2 == 0 ? r : -r }
    }

    /// A permutation of 0..<n from the seed (Fisher–Yates on counter-based bits).
    static func permutation(_ n: Int, seed: UInt64, stream: String) -> [Int] {
        var p = Array(0..<n)
        let rnd = CounterRandom(seed: seed, role: stream)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rnd.bits(i) % UInt32(i + 1))
            p.swapAt(i, j)
        }
        return p
    }

    /// Every record of a task config (not yet run): (key, work).
    static func plan(_ c: ScenarioConfig) throws -> [(String, @Sendable () throws -> ScenarioRecord)] {
        var out: [(String, @Sendable () throws -> ScenarioRecord)] = []
        let rs = try recipes(c)
        for seed in c.seeds {
            for (name, recipe, tier) in rs {
                switch c.kind {
                case .mqar:
                    for m in c.memories {
                        for p in c.pairs {
                            out.append(("\(m)|\(p)|\(name)|\(seed)", { try mqar(memory: m, pairs: p, seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                        }
                    }
                case .needle:
                    for m in c.memories {
                        for depth in c.depths {
                            out.append(("\(m)|\(depth)|\(name)|\(seed)", { try needle(memory: m, depth: depth, seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                        }
                    }
                case .counter:
                    out.append(("\(name)|\(seed)", { try counter(seed: seed, recipeName: name, recipe: recipe, tier: tier, config: c) }))
                case .prefixCache, .handoff, .gates, .speculative, .delethink, .reproduce, .pCast:
                    preconditionFailure("serving scenarios are planned by their own runners")
                }
            }
        }
        return out
    }
}
