import AttentionVariants
import ExactArithmetic
import Foundation
import HybridStacks

/// One limit of a budget checked against its worst seed.
public struct BudgetCheck: Sendable, Equatable {
    /// `output_rel_err`, `state_rel_err` or `slope`.
    public var metric: String
    /// The worst value over the seeds (NaN when any seed was not finite; nil: not measurable).
    public var measured: Double?
    public var limit: Double
    /// The seed that gave `measured`.
    public var seed: UInt64?
    public var pass: Bool

    /// A value of this metric as the table prints it: errors as %.3e, slopes as %.3f.
    public func text(_ x: Double) -> String {
        metric == "slope" && x.isFinite ? String(format: "%.3f", x) : BudgetOutcome.format(x)
    }

    /// Headroom: (limit − measured)/limit for errors, limit − measured for slopes; negative
    /// when the budget is exceeded, nil when nothing finite was measured.
    public var margin: Double? {
        guard let m = measured, m.isFinite else { return nil }
        return metric == "slope" ? limit - m : (limit - m) / limit
    }
}

/// The verdict on one budget.
public struct BudgetOutcome: Sendable {
    public var budget: Budget
    /// One record per seed, in `budget.seeds` order.
    public var records: [StudyRecord]
    public var checks: [BudgetCheck]
    /// Why the budget fails beyond its limits: non-finite values, an uncertified reference.
    public var problems: [String]
    /// Wall time of the groups this budget used.
    public var seconds: Double

    public var pass: Bool { problems.isEmpty && checks.allSatisfy(\.pass) }

    /// The first reason it fails, one line (nil when it holds).
    public var failureMessage: String? {
        if let p = problems.first { return p }
        guard let c = checks.first(where: { !$0.pass }) else { return nil }
        guard let measured = c.measured else {
            return "\(c.metric) not measurable at seed \(c.seed.map(String.init) ?? "?") (a slope needs 3 positive errors in [T/64, T])"
        }
        let m = c.text(measured), limit = c.text(c.limit)
        let seed = budget.seeds.count > 1 ? " (worst of seeds \(budget.seeds.map(String.init).joined(separator: ", ")): seed \(c.seed.map(String.init) ?? "?"))" : ""
        return "\(c.metric) \(m) exceeds \(limit)\(seed)"
    }

    public static func format(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "Inf" : "-Inf" }
        return String(format: "%.3e", x)
    }

    /// The first record (seed order) with a non-finite output, state or stored value, as one
    /// line: what was not finite, how many, and the first position it appeared at.
    static func nonFiniteProblem(_ records: [StudyRecord]) -> String? {
        guard let r = records.first(where: { $0.summary.anyNonFinite }) else { return nil }
        var what: [String] = []
        if r.summary.nonFinite > 0 { what.append("\(r.summary.nonFinite) NaN/Inf output or state values at the measured positions") }
        if let n = r.summary.nonFiniteStored, n > 0 { what.append("\(n) NaN/Inf values stored in the cache") }
        let at = r.summary.firstNonFinite.map { "first at position \($0)" } ?? "first position unknown"
        return "non-finite: \(what.joined(separator: " and ")) (seed \(r.workload.seed), \(at)); NaN fails every budget"
    }

    /// Checks `records` (one per seed) against `budget`'s limits.
    public static func evaluate(_ budget: Budget, records: [StudyRecord], seconds: Double = 0) -> BudgetOutcome {
        let T = budget.tokens
        var problems: [String] = []
        if let p = nonFiniteProblem(records) { problems.append(p) }
        for r in records where r.reference.pass == false {
            problems.append("reference not certified (seed \(r.workload.seed)): fast vs MPFR \(format(r.reference.fastVsMPFROutput ?? .nan)) over \(r.reference.certifiedTokens) tokens; the measured error cannot be trusted")
            break
        }
        /// The worst value of `value` over the seeds: NaN (not finite) wins, then a seed where
        /// nothing could be measured (nil), then the largest.
        func worst(_ value: (StudyRecord) -> Double?) -> (Double?, UInt64?) {
            var out: Double? = nil, seed: UInt64? = nil
            for (i, r) in records.enumerated() {
                guard var x = value(r) else { return (nil, r.workload.seed) }
                if !x.isFinite { x = .nan }
                if i == 0 || (!out!.isNaN && (x.isNaN || x > out!)) { out = x; seed = r.workload.seed }
            }
            return (out, seed)
        }
        func check(_ metric: String, _ limit: Double, _ value: (StudyRecord) -> Double?) -> BudgetCheck {
            let (m, seed) = worst(value)
            let pass = m.map { $0.isFinite && $0 <= limit } ?? false
            return BudgetCheck(metric: metric, measured: m, limit: limit, seed: seed, pass: pass)
        }
        var checks = [check("output_rel_err", budget.maxOutputRelErr) { $0.summary.error(at: T) }]
        if let l = budget.maxStateRelErr {
            checks.append(check("state_rel_err", l) { r in r.summary.errorAt.first { $0.tokens == T }?.stateRelErr })
        }
        if let l = budget.maxSlope {
            checks.append(check("slope", l) { $0.summary.slope?.slope })
        }
        return BudgetOutcome(budget: budget, records: records, checks: checks, problems: problems, seconds: seconds)
    }
}

/// `attnprec validate`: recomputes every budget (budgets that share a variant, workload, seed
/// and length share one reference run) over `jobs` threads. The verdicts and everything but
/// the wall times are the same for any `jobs`.
public enum BudgetGate {
    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var records: [String: StudyRecord] = [:]
        var seconds: [String: Double] = [:]
    }

    public static func evaluate(_ file: BudgetsFile, jobs: Int = 1) throws -> [BudgetOutcome] {
        let groups = try StudyPlan.expand(file.studies)
        let shared = Shared()
        try WorkQueue.run(count: groups.count, jobs: jobs) { i, _ in
            let g = groups[i]
            let start = Date()
            let records = try GroupRunner.run(g)
            let dt = Date().timeIntervalSince(start)
            shared.lock.lock()
            for r in records { shared.records[r.key] = r }
            shared.seconds[g.id] = dt
            shared.lock.unlock()
        }
        return try file.budgets.map { b in
            if let h = b.hybrid {
                let start = Date()
                var spec = try h.spec(tokens: b.tokens, place: "\(file.file):\(b.line)")
                spec.options.jobs = jobs
                let r = try HybridRunner.records(spec)[0]
                return HybridBudget.evaluate(b, record: r, seconds: Date().timeIntervalSince(start))
            }
            let records = b.keys.map { shared.records[$0]! }
            let seconds = groups.filter { g in g.records.contains { b.keys.contains($0.key) } }.reduce(0.0) { $0 + (shared.seconds[$1.id] ?? 0) }
            return BudgetOutcome.evaluate(b, records: records, seconds: seconds)
        }
    }
}
