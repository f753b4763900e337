import AttentionVariants
import NumberFormats

/// Theory overlays of DESIGN.md §7.
public enum DriftTheory {
    /// κ for round-to-nearest.
    public static let kappaNearest = 0.42
    /// κ for stochastic rounding.
    public static let kappaStochastic = 0.58

    /// Undecayed state rounded every step with zero-mean updates: κ·u·√(t/2).
    public static func undecayedRelativeRMS(unitRoundoff u: Double, t: Int, kappa: Double = kappaNearest) -> Double {
        kappa * u * (Double(t) / 2).squareRoot()
    }

    /// Decay a < 1: saturation at κ·u/√(1 − a²).
    public static func decayedSaturation(unitRoundoff u: Double, decay a: Double, kappa: Double = kappaNearest) -> Double {
        kappa * u / (1 - a * a).squareRoot()
    }
}

extension DriftTheory {
    /// The overlay for one record: the law its shape follows, with the unit roundoff of the
    /// role holding its memory (`storage`), and the measured/predicted ratio at the end.
    static func overlay(
        recipe: Recipe, inputs: Recipe, shape: VariantFactory.Shape, tokens T: Int, final: Double
    ) -> StudyRecord.Theory {
        var theory = StudyRecord.Theory()
        let storage = storageSpec(recipe)
        guard let u = storage.map({ unitRoundoff($0) }) ?? 0x1p-24 else { return theory }
        theory.unitRoundoff = u
        theory.kappa = storage?.rounding.isStochastic == true ? kappaStochastic : kappaNearest
        // DESIGN §7's laws cover storage rounding; a kernel profile's compute store points (P,
        // intra-chunk matrices, the output) are outside them: no prediction.
        if recipe.kernel != nil { return theory }
        if shape.isCache {
            theory.law = "flat"
            // A cache that stores the (already rounded) inputs in a format holding them exactly loses
            // nothing: what is left is the binary32 compute.
            if recipe.format(.kCache) != nil, let input = inputs.format(.k), holdsExactly(storage!, input) {
                theory.unitRoundoff = 0x1p-24
            }
        } else if shape.undecayed { theory.law = "sqrt" } else if let d = shape.constantDecay { theory.law = "saturation"; theory.decay = d }
        if theory.law != nil {
            theory.predictedAtEnd = theory.predicted(at: T - 1)
            if let pr = theory.predictedAtEnd, pr > 0, final.isFinite { theory.ratio = final / pr }
        }
        return theory
    }

    /// Every value of `input` is a value of `storage` (both unscaled floating-point formats, the
    /// storage with at least the input's exponent and mantissa bits).
    static func holdsExactly(_ storage: FormatSpec, _ input: FormatSpec) -> Bool {
        guard !storage.isScaled, !input.isScaled, case .float(let s) = storage.element, case .float(let i) = input.element else { return false }
        return s.exponentBits >= i.exponentBits && s.mantissaBits >= i.mantissaBits
    }

    /// The spec of the role that holds the variant's memory (state, KV cache or latent).
    static func storageSpec(_ r: Recipe) -> FormatSpec? {
        for role in [Role.state, .kCache, .latent] { if let s = r.format(role) { return s } }
        return nil
    }

    /// u = 2^−(m+1) for floating-point elements (nil for integers).
    static func unitRoundoff(_ s: FormatSpec) -> Double? {
        if case .float(let f) = s.element { return Double(sign: .plus, exponent: -(f.mantissaBits + 1), significand: 1) }
        return nil
    }
}
