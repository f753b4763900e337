import Foundation
import NumberFormats

/// A `StackModel` at a width: a fraction w of every head count, of d_model and of the MLP's
/// intermediate width; head sizes, state sizes and the latent stay as the model has them. A
/// head count below one at w (Qwen3-Next's 2 KV heads at 1/16) becomes one head; a count
/// above one must come out whole.
public struct StackShape: Sendable {
    public let model: StackModel
    public let width: Double
    public let layers: [LayerKind]
    public let dModel: Int
    public let intermediate: Int
    public let linearKeyHeads: Int, linearValueHeads: Int
    public let ssmHeads: Int, ssmGroups: Int
    public let attentionHeads: Int, attentionKVHeads: Int
    /// The LM head's vocabulary (a seeded head; see `StackMetrics`).
    public static let vocab = 4096

    /// The stack of `model` at `width`, its first `prefix` layers only when given (certification).
    public init(model: StackModel, width: Double, prefix: Int? = nil) throws {
        guard width > 0, width <= 1, width.isFinite else { throw InputError("width: expected a fraction in (0, 1], got \(width)") }
        self.model = model
        self.width = width
        let all = try model.layers()
        if let prefix, !(1...all.count).contains(prefix) { throw InputError("layers: expected 1…\(all.count) (\(model.name) has \(all.count) layers), got \(prefix)") }
        layers = Array(all.prefix(prefix ?? all.count))
        func scaled(_ n: Int, _ what: String) throws -> Int {
            if n == 0 { return 0 }
            let x = Double(n) * width
            if x < 1 { return 1 }
            guard x == x.rounded() else {
                throw InputError("width: \(Self.text(width)) of \(model.name)'s \(n) \(what) is \(x); choose a width at which every head count is whole")
            }
            return Int(x)
        }
        dModel = try scaled(model.dModel, "d_model channels")
        intermediate = try scaled(model.intermediate, "MLP channels")
        linearKeyHeads = try scaled(model.linearKeyHeads, "linear key heads")
        linearValueHeads = try scaled(model.linearValueHeads, "linear value heads")
        ssmHeads = try scaled(model.ssmHeads, "Mamba2 heads")
        ssmGroups = try scaled(model.ssmGroups, "Mamba2 groups")
        attentionHeads = try scaled(model.attentionHeads, "attention heads")
        attentionKVHeads = try scaled(model.attentionKVHeads, "attention KV heads")
        if attentionKVHeads > 0, attentionHeads % attentionKVHeads != 0 {
            throw InputError("width: \(Self.text(width)) leaves \(model.name) with \(attentionHeads) query heads over \(attentionKVHeads) KV heads")
        }
        if linearKeyHeads > 0, linearValueHeads % linearKeyHeads != 0 {
            throw InputError("width: \(Self.text(width)) leaves \(model.name) with \(linearValueHeads) value heads over \(linearKeyHeads) key heads")
        }
        if ssmGroups > 0, ssmHeads % ssmGroups != 0 {
            throw InputError("width: \(Self.text(width)) leaves \(model.name) with \(ssmHeads) Mamba2 heads over \(ssmGroups) groups")
        }
    }

    /// "1/16" for reciprocals of whole numbers, else the decimal.
    public static func text(_ w: Double) -> String {
        let r = 1 / w
        return w == 1 ? "1" : (r == r.rounded() ? "1/\(Int(r))" : String(w))
    }

    /// The distinct layer kinds in order of first appearance.
    public var kinds: [LayerKind] {
        var seen: [LayerKind] = []
        for k in layers where !seen.contains(k) { seen.append(k) }
        return seen
    }

    /// Channels of the short convolution of a layer of `kind` (0: none).
    public func convChannels(_ kind: LayerKind, full: Bool = false) -> Int {
        let (hk, hv) = full ? (model.linearKeyHeads, model.linearValueHeads) : (linearKeyHeads, linearValueHeads)
        let (hs, g) = full ? (model.ssmHeads, model.ssmGroups) : (ssmHeads, ssmGroups)
        switch kind {
        case .gatedDeltaNet, .kda: return 2 * hk * model.linearKeyDim + hv * model.linearValueDim
        case .mamba2: return hs * model.ssmHeadDim + 2 * g * model.ssmState
        default: return 0
        }
    }
}

/// Parses a width: `1/16`, `0.0625` or `1`.
public func parseWidth(_ text: String) throws -> Double {
    let t = text.trimmingCharacters(in: .whitespaces)
    if let slash = t.firstIndex(of: "/") {
        guard let a = Double(t[..<slash]), let b = Double(t[t.index(after: slash)...]), b != 0 else {
            throw InputError("width: expected a fraction such as 1/16 or 0.0625, got '\(text)'")
        }
        return a / b
    }
    guard let w = Double(t) else { throw InputError("width: expected a fraction such as 1/16 or 0.0625, got '\(text)'") }
    return w
}
