import ExactArithmetic
import Workloads

/// Computes one token's decay on a backend from the raw gate parameters, in the model's own
/// order, applying the `dt` and `decay` store points on the way (shared by the decode and
/// chunked forms so that both see the same stored gates).
///
/// Order: the model's native quantity first (α for linear/RetNet; log α for Lightning, GLA =
/// logsigmoid(x)/16 and Mamba2 = Δ·A with Δ = softplus(dt + dt_bias) stored under `dt`); then
/// the stored form (log α with `decayLog`, else α = exp(log α)) rounded under `decay`; then the
/// form the kernel wants (decode: α, chunked: log α), converted with exp/log when it differs.
/// So a bf16 `decay` store of α ≥ 0.998046875 gives α = 1 and log α = 0 in both forms.
struct GateUnit<B: Backend> {
    let gate: GatedLinearConfig.Gate
    let decayLog: Bool
    let constant: Tensor?  // α or log α of a constant gate
    let aNeg: Tensor?  // Mamba2: A = −exp(A_log)
    let dtBias: Tensor?
    let normalizer: Tensor?  // GLA
    let width: Int

    init(_ c: GatedLinearConfig, backend b: B) {
        gate = c.gate
        decayLog = c.decayLog
        width = gate.perChannel ? c.keyDim : 1
        switch gate {
        case .value(let a), .logValue(let a):
            constant = b.scalar(a)
        default:
            constant = nil
        }
        if case .mamba(let aLog, let dtb) = gate {
            let a = b.scalar(aLog)
            b.apply(.exp, a, a)
            b.multiply(a, a, b.scalar(-1))
            aNeg = a
            dtBias = b.scalar(dtb)
        } else {
            aNeg = nil
            dtBias = nil
        }
        normalizer = gate == .glaLogits ? b.scalar(c.glaNormalizer) : nil
    }

    var hasDecay: Bool { gate != .none }

    /// out (1×width) ← α_t (`wantLog` false) or log α_t; raw: the token's raw gate values
    /// (GLA: 1×K logits, Mamba2: 1×1 dt) — overwritten; dt: Mamba2's Δ_t (1×1) is left there.
    func compute(_ b: B, raw: Tensor?, dt: Tensor?, out: Tensor, wantLog: Bool, stores: StorePoints, step t: Int) {
        var isLog: Bool
        switch gate {
        case .none:
            b.fill(out, wantLog ? 0 : 1)
            return
        case .value:
            b.copy(out, constant!)
            isLog = false
        case .logValue:
            b.copy(out, constant!)
            isLog = true
        case .glaLogits:
            b.apply(.logsigmoid, out, raw!)
            b.divide(out, out, normalizer!)
            isLog = true
        case .glaLog:
            b.copy(out, raw!)
            isLog = true
        case .mamba:
            b.add(dt!, raw!, dtBias!)
            b.apply(.softplus, dt!, dt!)
            stores.store(.dt, dt!, on: b, step: t)
            b.multiply(out, dt!, aNeg!)
            isLog = true
        }
        if decayLog != isLog {
            b.apply(isLog ? .exp : .log, out, out)
            isLog = decayLog
        }
        stores.store(.decay, out, on: b, step: t)
        if wantLog != isLog { b.apply(isLog ? .exp : .log, out, out) }
    }
}

extension Backend {
    /// Applies a feature map in place.
    func applyFeatureMap(_ f: GatedLinearConfig.FeatureMap, _ x: Tensor, one: Tensor) {
        switch f {
        case .identity: break
        case .eluPlusOne:
            apply(.elu, x, x)
            add(x, x, one)
        case .silu:
            apply(.silu, x, x)
        }
    }
}
