import AttentionVariants
import NumberFormats

/// What one layer of a stack computes: a mixer built from a variant definition, one of the layer
/// kinds the models add (`gated_attention`, `mlp`).
public enum LayerKind: Sendable, Hashable {
    case gatedDeltaNet, kda, mamba2, lightning
    /// Softmax attention with a KV cache (mha, gqa or mqa by the head counts).
    case attention
    /// Qwen3-Next's softmax attention: per-head q/k RMSNorm and a sigmoid output gate.
    case gatedAttention
    case mla
    /// A dense MLP stand-in of the model's kind (SwiGLU or squared ReLU) for MLP/MoE blocks.
    case mlp

    /// The variant definition whose kernel the mixer runs (nil: a layer without one).
    public var definition: (any VariantDefinition)? {
        switch self {
        case .gatedDeltaNet: return DeltaDefinition.gatedDeltaNet
        case .kda: return DeltaDefinition.kda
        case .mamba2: return GatedLinearDefinition.mamba2
        case .lightning: return GatedLinearDefinition.lightning
        case .attention, .gatedAttention: return SoftmaxDefinition.gqa
        case .mla: return MLADefinition()
        case .mlp: return nil
        }
    }

    /// The name a pattern and a recipe use.
    public var name: String {
        switch self {
        case .gatedAttention: return "gated_attention"
        case .mlp: return "mlp"
        case .attention: return "attention"
        default: return definition!.name
        }
    }

    /// Keeps a KV cache that grows with the context.
    public var keepsCache: Bool { self == .attention || self == .gatedAttention || self == .mla }

    /// The kinds built from a variant definition, then the stack's own.
    public static let all: [LayerKind] = [.gatedDeltaNet, .kda, .mamba2, .lightning, .attention, .gatedAttention, .mla, .mlp]

    /// The names a recipe may key by: every layer kind, and the softmax variants' canonical names.
    public static var names: [String] { all.map(\.name) + [SoftmaxDefinition.mha, SoftmaxDefinition.gqa, SoftmaxDefinition.mqa].map(\.name) }

    /// The kind a pattern names: a canonical variant name (mha, gqa and mqa all name softmax
    /// attention) or a stack layer kind.
    public static func named(_ name: String) throws -> LayerKind {
        if let k = all.first(where: { $0.name == name }) { return k }
        let softmax = [SoftmaxDefinition.mha, SoftmaxDefinition.gqa, SoftmaxDefinition.mqa].map(\.name)
        if softmax.contains(name) { return .attention }
        let valid = all.map(\.name) + softmax
        if VariantRegistry.definition(name) != nil {
            throw InputError("pattern: variant '\(name)' is not a layer a stack builds; layer types: \(valid.joined(separator: ", "))")
        }
        throw InputError("pattern: unknown layer type '\(name)'; layer types: \(valid.joined(separator: ", "))")
    }

    /// The recipe roles a layer of this kind has (its mixer's, plus the conv state where the
    /// model has a short convolution).
    public func roles(form: String) -> [Role] {
        var r = definition?.roles(form: form) ?? []
        if hasConv { r.append(.convState) }
        return r.sorted()
    }

    /// The model runs a short causal conv1d before the mixer.
    public var hasConv: Bool { self == .gatedDeltaNet || self == .kda || self == .mamba2 }
}

/// A pattern of layers: `(3*gated_deltanet, gated_attention)*12`, `kda*27; mla@4,8,12,16,20,24,27`.
///
/// Grammar: `seq (';' NAME '@' POS (',' POS)*)*` with `seq := term (',' term)*`, `term := [N '*']
/// factor ['*' N]`, `factor := NAME | '(' seq ')'`; positions are 1-based layer numbers (as
/// Kimi Linear's config counts them) that the named type replaces.
public enum LayerPattern {
    public static let maxLayers = 4096

    public static func parse(_ text: String) throws -> [LayerKind] {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var p = Parser(text: parts[0])
        var layers = try p.sequence()
        guard p.atEnd else { throw InputError("pattern: unexpected '\(p.rest)' in '\(text)'") }
        for o in parts.dropFirst() {
            let kv = o.split(separator: "@", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty else { throw InputError("pattern: expected NAME@POSITIONS after ';', got '\(o)'") }
            let kind = try LayerKind.named(kv[0])
            for s in kv[1].split(separator: ",") {
                guard let i = Int(s.trimmingCharacters(in: .whitespaces)), i >= 1, i <= layers.count else {
                    throw InputError("pattern: position '\(s)' of \(kv[0]): expected 1…\(layers.count)")
                }
                layers[i - 1] = kind
            }
        }
        guard !layers.isEmpty else { throw InputError("pattern: '\(text)' has no layers") }
        return layers
    }

    struct Parser {
        let chars: [Character]
        var i = 0
        init(text: String) { chars = Array(text) }
        var atEnd: Bool { mutating get { skip(); return i == chars.count } }
        var rest: String { String(chars[i...]) }
        mutating func skip() { while i < chars.count, chars[i] == " " { i += 1 } }

        mutating func sequence() throws -> [LayerKind] {
            var out = try term()
            skip()
            while i < chars.count, chars[i] == "," {
                i += 1
                out += try term()
                guard out.count <= LayerPattern.maxLayers else { throw InputError("pattern: more than \(LayerPattern.maxLayers) layers") }
            }
            return out
        }

        mutating func term() throws -> [LayerKind] {
            skip()
            var times = 1
            if let n = number() {
                skip()
                guard i < chars.count, chars[i] == "*" else { throw InputError("pattern: expected '*' after \(n)") }
                i += 1
                times = n
            }
            let f = try factor()
            skip()
            if i < chars.count, chars[i] == "*" {
                i += 1
                skip()
                guard let n = number() else { throw InputError("pattern: expected a count after '*'") }
                times *= n
            }
            guard times >= 1, times * f.count <= LayerPattern.maxLayers else {
                throw InputError("pattern: repeat count \(times) out of range (1…, at most \(LayerPattern.maxLayers) layers)")
            }
            return Array([[LayerKind]](repeating: f, count: times).joined())
        }

        mutating func factor() throws -> [LayerKind] {
            skip()
            if i < chars.count, chars[i] == "(" {
                i += 1
                let s = try sequence()
                skip()
                guard i < chars.count, chars[i] == ")" else { throw InputError("pattern: missing ')'") }
                i += 1
                return s
            }
            let start = i
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "." || chars[i] == "-" { i += 1 }
            guard i > start else { throw InputError("pattern: expected a layer type at '\(rest)'") }
            return [try LayerKind.named(String(chars[start..<i]))]
        }

        mutating func number() -> Int? {
            let start = i
            while i < chars.count, chars[i].isNumber { i += 1 }
            guard i > start else { return nil }
            // A name that starts with digits is not a count.
            if i < chars.count, chars[i].isLetter || chars[i] == "_" { i = start; return nil }
            return Int(String(chars[start..<i]))
        }
    }
}
