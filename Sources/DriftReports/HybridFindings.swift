import Foundation
import HybridStacks

/// At most five sentences of findings of a hybrid report, computed from the records (no number
/// typed by hand but the criteria: the 1.5× band of issue 19's attribution test and the 32k
/// context of the memory axis), each linking the page that shows it.
enum HybridFindings {
    /// Within this factor the quadrature sum of the sources alone "matches" the all-rounded error.
    static let band = 1.5

    static func sentences(_ set: HybridSet) -> [String] {
        Array([nonFinite(set), dominant(set), interaction(set), memory(set), length(set), depth(set)].compactMap { $0 }.prefix(5))
    }

    static func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.0f%%", 100 * x) : "NaN" }
    static func ratio(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "NaN" }
    static func err(_ x: Double) -> String { Compact.sci(x, digits: 1) }

    static func list(_ items: [String], limit: Int = 4) -> String {
        items.count <= limit ? items.joined(separator: "; ") : items.prefix(limit).joined(separator: "; ") + "; and \(items.count - limit) more"
    }

    /// Recipes whose stores held a non-finite value: their errors read NaN.
    static func nonFinite(_ set: HybridSet) -> String? {
        let bad = set.stacks.flatMap { s in set.full(s).filter { $0.storedNonFinite > 0 }.map { "\(set.label(s)) \($0.recipeName)" } }
        guard !bad.isEmpty else { return nil }
        return "\(bad.count) stack × recipe run\(bad.count == 1 ? "" : "s") stored non-finite values, so every error of \(bad.count == 1 ? "it" : "them") reads NaN: \(list(bad)) ([lengths](\(HybridReport.lengthPage)))."
    }

    /// Per stack, under the recipe with the largest error, the source whose error alone is largest.
    static func dominant(_ set: HybridSet) -> String? {
        let items = set.stacks.compactMap { s -> String? in
            let withParts = set.full(s).filter { set.attribution($0) != nil }
            guard let worst = withParts.max(by: { HybridSet.worse($1.finalError, than: $0.finalError) }),
                  let a = set.attribution(worst), let top = a.sources.max(by: { HybridSet.worse($1.error, than: $0.error) }) else { return nil }
            return "\(top.name) in [\(set.label(s))](\(HybridReport.attributionPage)#\(HybridSet.anchor(set.label(s)))) (\(pct(top.share)) of Σ e² under \(worst.recipeName), \(err(top.error)) alone)"
        }
        guard !items.isEmpty else { return nil }
        return "The source whose error alone is largest, under each stack's recipe with the largest error: \(list(items))."
    }

    /// Whether √Σ of the sources alone matches the all-rounded error (ratio within the band).
    static func interaction(_ set: HybridSet) -> String? {
        var pairs: [(name: String, ratio: Double)] = []
        for s in set.stacks {
            for r in set.full(s) { if let a = set.attribution(r) { pairs.append(("\(set.label(s)) \(r.recipeName)", a.ratio)) } }
        }
        guard !pairs.isEmpty else { return nil }
        let inside = pairs.filter { $0.ratio.isFinite && (1 / band...band).contains($0.ratio) }
        let outside = pairs.filter { !($0.ratio.isFinite && (1 / band...band).contains($0.ratio)) }
        let finite = pairs.map(\.ratio).filter(\.isFinite)
        var s = "The [quadrature sum](\(HybridReport.attributionPage)) of the sources alone is within \(band)× of the all-rounded error for \(inside.count) of \(pairs.count) stack × recipe pairs"
        if let lo = finite.min(), let hi = finite.max() { s += " (ratio √Σ/all from \(ratio(lo)) to \(ratio(hi)))" }
        if !outside.isEmpty { s += "; outside it, where the errors interact: " + list(outside.map { "\($0.name) (\(ratio($0.ratio)))" }) }
        return s + "."
    }

    /// Per stack, what the recipe with the fewest bytes at 32k saves against the one with the
    /// most, and what it costs in error.
    static func memory(_ set: HybridSet) -> String? {
        let items = set.stacks.compactMap { s -> String? in
            let rs = set.full(s).filter { $0.finalError.isFinite }
            guard let wide = rs.first, let narrow = rs.last, let bw = wide.bytesPerSequence["32768"], let bn = narrow.bytesPerSequence["32768"], bn < bw else { return nil }
            let cost = narrow.finalError / wide.finalError
            return "in \(set.label(s)) \(narrow.recipeName) saves \(Compact.bytes(bw - bn)) (\(pct((bw - bn) / bw))) against \(wide.recipeName) for \(ratio(cost))× its error (\(Compact.sci(wide.finalError)) → \(Compact.sci(narrow.finalError)))"
        }
        guard !items.isEmpty else { return nil }
        return "Per sequence at 32k tokens and full width, " + list(items) + " ([memory–error](\(HybridReport.memoryPage)))."
    }

    /// The steepest growth of the final hidden error with length (log–log slope first → last length).
    static func length(_ set: HybridSet) -> String? {
        var best: (label: String, r: HybridRecord, slope: Double)?
        for s in set.stacks {
            for r in set.full(s) where r.lengths.count > 1 {
                let e = HybridSet.errors(r)
                guard let e0 = e.first, let e1 = e.last, e0 > 0, e1 > 0, e0.isFinite, e1.isFinite else { continue }
                let slope = log(e1 / e0) / log(Double(r.lengths.last!) / Double(r.lengths.first!))
                if best == nil || slope > best!.slope { best = (set.label(s), r, slope) }
            }
        }
        guard let b = best else { return nil }
        let e = HybridSet.errors(b.r)
        return "The final hidden error grows fastest with length in \(b.label) under \(b.r.recipeName): from \(err(e.first!)) at \(Compact.tokens(b.r.lengths.first!)) to \(err(e.last!)) at \(Compact.tokens(b.r.lengths.last!)) tokens (log–log slope \(ratio(b.slope)); [lengths](\(HybridReport.lengthPage)))."
    }

    /// How the last layer's residual error compares with the independent-errors prediction.
    static func depth(_ set: HybridSet) -> String? {
        var pairs: [(name: String, ratio: Double)] = []
        for s in set.stacks {
            for r in set.full(s) {
                guard let measured = HybridSet.residual(r).last, let predicted = HybridPlots.prediction(set.parts(r)).last else { continue }
                pairs.append(("\(set.label(s)) \(r.recipeName)", measured / predicted))
            }
        }
        guard !pairs.isEmpty else { return nil }
        let inside = pairs.filter { $0.ratio.isFinite && (1 / band...band).contains($0.ratio) }.count
        let far = pairs.max { (abs(log($0.ratio)).isNaN ? .infinity : abs(log($0.ratio))) < (abs(log($1.ratio)).isNaN ? .infinity : abs(log($1.ratio))) }!
        return "At the last layer the residual stream's error is within \(band)× of the independent-errors prediction √(Σ e_source²) for \(inside) of \(pairs.count) stack × recipe pairs; the furthest is \(far.name), measured/predicted \(ratio(far.ratio)) ([depth](\(HybridReport.depthPage)))."
    }
}
