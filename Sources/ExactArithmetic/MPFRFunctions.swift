import CMPFR

/// The elementwise functions gates, feature maps and softmax need.
///
/// Every backend evaluates them correctly rounded to its own precision, subnormal results of
/// binary32 and binary64 included (`MPFRFunctions.rounded`).
public enum ElementFunction: String, CaseIterable, Sendable {
    case exp, expm1, log, log1p, sqrt, rsqrt
    /// 1 / (1 + e^−x)
    case sigmoid
    /// log σ(x) = −softplus(−x)
    case logsigmoid
    /// log(1 + e^x)
    case softplus
    /// x·σ(x)
    case silu
    /// x for x > 0, e^x − 1 otherwise (α = 1)
    case elu
}

/// Scratch numbers for the compound functions' Ziv loops, allocated once at a large precision
/// so that narrowing them with `mpfr_set_prec` never allocates.
public final class MPFRWorkspace {
    @usableFromInline let t: MPFRNumber
    @usableFromInline let u: MPFRNumber
    @usableFromInline let y: MPFRNumber
    /// Precision-limited input/output slots used by the fast backends.
    public let input: MPFRNumber
    public let output: MPFRNumber
    public static let maxWorkingPrecision = 4096 + 256

    public init() {
        t = MPFRNumber(precision: MPFRWorkspace.maxWorkingPrecision)
        u = MPFRNumber(precision: MPFRWorkspace.maxWorkingPrecision)
        y = MPFRNumber(precision: MPFRWorkspace.maxWorkingPrecision)
        // Allocated wide, then narrowed: later `mpfr_set_prec` calls up to this width reuse the limbs.
        input = MPFRNumber(precision: MPFRWorkspace.maxWorkingPrecision)
        output = MPFRNumber(precision: MPFRWorkspace.maxWorkingPrecision)
        mpfr_set_prec(input.pointer, 256)
        mpfr_set_prec(output.pointer, 256)
    }
}

/// Correctly rounded elementwise functions on `mpfr_t`.
///
/// exp, expm1, log, log1p, sqrt and rsqrt are MPFR's own (correctly rounded by contract).
/// sigmoid, logsigmoid, softplus and silu are evaluated at a working precision w = P + 24 with
/// a relative error below 8·2^−w, then rounded with `mpfr_can_round`; w grows until the
/// rounding is decided (Ziv's strategy), up to 4096 bits, where the working value is returned
/// (only reached when the exact result lies within 2^−4000 of a rounding boundary, e.g.
/// σ(10^6) = 1 − tiny, whose nearest value is 1 anyway).
public enum MPFRFunctions {
    /// f(x) correctly rounded to nearest-even in a binary format with `bits` significand bits
    /// whose least subnormal is 2^`leastExponent` (binary32: 24, −149; binary64: 53, −1074),
    /// as a Double (exactly the format's value). Evaluating at `bits` and converting would round
    /// a subnormal result twice; here a result below the normal range is evaluated again at
    /// the precision its binade has in the format (E − leastExponent bits, E its MPFR
    /// exponent), until that exponent is stable, and one below half the least subnormal is ±0
    /// (a result in [2^(le−1), 2^le) is compared with the midpoint at 128 bits). `out` is left
    /// at precision 256.
    public static func rounded(
        _ f: ElementFunction, _ x: Double, bits: Int, leastExponent: Int, workspace ws: MPFRWorkspace
    ) -> Double {
        let inp = ws.input.pointer, out = ws.output.pointer
        defer { mpfr_set_prec(out, 256) }
        _ = attnprec_mpfr_set_d(inp, x, MPFR_RNDN)
        mpfr_set_prec(out, mpfr_prec_t(bits))
        evaluate(f, out, inp, workspace: ws)
        guard attnprec_mpfr_nan_p(out) == 0, attnprec_mpfr_inf_p(out) == 0, attnprec_mpfr_zero_p(out) == 0 else {
            return mpfr_get_d(out, MPFR_RNDN)
        }
        var p = Int(attnprec_mpfr_get_exp(out)) - leastExponent
        if p >= bits { return mpfr_get_d(out, MPFR_RNDN) }
        let negative = attnprec_mpfr_sgn(out) < 0
        while p >= 1 {
            mpfr_set_prec(out, mpfr_prec_t(p))
            evaluate(f, out, inp, workspace: ws)
            let q = Int(attnprec_mpfr_get_exp(out)) - leastExponent
            // At p bits the value may round up into the next binade (q = p + 1: still on the
            // format's grid) but not below its own; q < p means the first estimate's exponent
            // came from a round-up, so the binade is one lower.
            if q >= p { return mpfr_get_d(out, MPFR_RNDN) }
            p = q
        }
        let least = Double(sign: negative ? .minus : .plus, exponent: leastExponent, significand: 1)
        guard p == 0 else { return negative ? -0.0 : 0.0 }
        // |f(x)| ∈ [2^(le−1), 2^le): 2^le above the midpoint, ±0 at or below it (a tie goes to
        // the even 0; transcendental values do not tie).
        mpfr_set_prec(out, 128)
        evaluate(f, out, inp, workspace: ws)
        let above = mpfr_cmp_d(out, least / 2) * (negative ? -1 : 1) > 0
        return above ? least : (negative ? -0.0 : 0.0)
    }

    /// rop ← f(x), rounded to nearest-even at rop's precision. rop and x may alias.
    public static func evaluate(
        _ f: ElementFunction, _ rop: mpfr_ptr, _ x: mpfr_ptr, workspace: MPFRWorkspace? = nil
    ) {
        let rnd = MPFR_RNDN
        switch f {
        case .exp: _ = mpfr_exp(rop, x, rnd)
        case .expm1: _ = mpfr_expm1(rop, x, rnd)
        case .log: _ = mpfr_log(rop, x, rnd)
        case .log1p: _ = mpfr_log1p(rop, x, rnd)
        case .sqrt: _ = mpfr_sqrt(rop, x, rnd)
        case .rsqrt: _ = mpfr_rec_sqrt(rop, x, rnd)
        case .elu:
            if attnprec_mpfr_sgn(x) > 0 { _ = mpfr_set(rop, x, rnd) } else { _ = mpfr_expm1(rop, x, rnd) }
        case .sigmoid, .logsigmoid, .softplus, .silu:
            if special(f, rop, x) { return }
            let ws = workspace ?? MPFRWorkspace()
            compound(f, rop, x, ws)
        }
    }

    /// NaN, ±Inf and zero inputs of the compound functions.
    static func special(_ f: ElementFunction, _ rop: mpfr_ptr, _ x: mpfr_ptr) -> Bool {
        if attnprec_mpfr_nan_p(x) != 0 { mpfr_set_nan(rop); return true }
        if attnprec_mpfr_inf_p(x) != 0 {
            let positive = attnprec_mpfr_sgn(x) > 0
            switch f {
            case .sigmoid: _ = attnprec_mpfr_set_d(rop, positive ? 1 : 0, MPFR_RNDN)
            case .softplus: _ = attnprec_mpfr_set_d(rop, positive ? .infinity : 0, MPFR_RNDN)
            case .logsigmoid: _ = attnprec_mpfr_set_d(rop, positive ? 0 : -.infinity, MPFR_RNDN)
            default: _ = attnprec_mpfr_set_d(rop, positive ? .infinity : -0.0, MPFR_RNDN)
            }
            return true
        }
        if attnprec_mpfr_zero_p(x) != 0 {
            switch f {
            case .sigmoid: _ = attnprec_mpfr_set_d(rop, 0.5, MPFR_RNDN); return true
            case .silu: _ = mpfr_set(rop, x, MPFR_RNDN); return true
            default: return false
            }
        }
        return false
    }

    static func compound(_ f: ElementFunction, _ rop: mpfr_ptr, _ x: mpfr_ptr, _ ws: MPFRWorkspace) {
        let p = Int(attnprec_mpfr_get_prec(rop))
        var w = p + 24
        let t = ws.t.pointer, u = ws.u.pointer, y = ws.y.pointer
        let rnd = MPFR_RNDN
        while true {
            mpfr_set_prec(t, mpfr_prec_t(w))
            mpfr_set_prec(u, mpfr_prec_t(w))
            mpfr_set_prec(y, mpfr_prec_t(w))
            let positive = attnprec_mpfr_sgn(x) > 0
            switch f {
            case .sigmoid, .silu:
                if positive {
                    _ = mpfr_neg(t, x, rnd); _ = mpfr_exp(t, t, rnd)  // e^−x ≤ 1
                    _ = mpfr_add_ui(t, t, 1, rnd)
                    _ = mpfr_ui_div(y, 1, t, rnd)
                } else {
                    _ = mpfr_exp(t, x, rnd)
                    _ = mpfr_add_ui(u, t, 1, rnd)
                    _ = mpfr_div(y, t, u, rnd)
                }
                if f == .silu { _ = mpfr_mul(y, y, x, rnd) }
            case .softplus, .logsigmoid:
                // softplus(z), z = x or −x
                let zPositive = f == .softplus ? positive : !positive
                if f == .softplus { _ = mpfr_set(u, x, rnd) } else { _ = mpfr_neg(u, x, rnd) }
                if zPositive {
                    _ = mpfr_neg(t, u, rnd); _ = mpfr_exp(t, t, rnd)
                    _ = mpfr_log1p(t, t, rnd)
                    _ = mpfr_add(y, u, t, rnd)
                } else {
                    _ = mpfr_exp(t, u, rnd)
                    _ = mpfr_log1p(y, t, rnd)
                }
                if f == .logsigmoid { _ = mpfr_neg(y, y, rnd) }
            default:
                preconditionFailure("not a compound function")
            }
            let decided = attnprec_mpfr_zero_p(y) != 0
                || mpfr_can_round(y, mpfr_exp_t(w - 4), rnd, MPFR_RNDZ, mpfr_prec_t(p + 1)) != 0
            if decided || w >= MPFRWorkspace.maxWorkingPrecision - 64 {
                _ = mpfr_set(rop, y, rnd)
                return
            }
            w = min(w * 2, MPFRWorkspace.maxWorkingPrecision - 64)
        }
    }
}
