import ExactArithmetic
import NumberFormats
import Workloads

extension RWKV7Definition {
    /// RWKV-7 on flash-linear-attention's kernel inputs r, w, k, v, a, b (one state per head).
    public func replayPlan(_ x: ReplayTensors) throws -> ReplayPlan {
        let (T, K, H) = (x.T, x.K, x.H)
        for name in ["w", "v", "a", "b"] {
            let r = x.rows[name]!
            guard r.heads == H, r.width == K else { throw ReplayTensors.mismatch(r, "'r' \(x.q.view.shapeText) (RWKV-7: every input is [T, H, K])") }
        }
        if x.options.preset != nil { throw InputError("--preset: \(name) replay takes its shapes from the tensors; no presets") }
        if let s0 = x.constants["initial_state"] { throw InputError("\(s0.file): tensor 'initial_state': \(name) replay starts from a zero state") }
        var c = RWKV7Config(headDim: K, decayLog: true)
        c.replay = x.inputs
        do { try c.validate() } catch { throw InputError("\(x.file.path): \(error)") }
        let base = c
        return ReplayPlan(tokens: T, inputs: x.views, outputShape: [T, H, K], stateShape: [H, K, K], roles: RWKV7Config.roles.filter { $0 != .chunkState }) { tier, recipe in
            try (0..<H).map { h in
                var c = base
                c.head = h
                return try Self.makeRun(config: c, tier: tier, recipe: recipe)
            }
        }
    }
}
