import AttentionVariants
import Foundation
import NumberFormats

/// What one emulated stack stores: a recipe per layer type (the mixer's roles and `conv_state`)
/// and the residual stream's format.
public struct StackRecipe: Sendable {
    public var name: String
    public var layers: [LayerKind: Recipe]
    /// The residual stream between layers (nil: kept at compute precision).
    public var residual: (any StoreQuantizer)?
    /// Layer type (or `residual`) → recipe text, as records carry it.
    public var text: [String: String]

    public init(name: String, layers: [LayerKind: Recipe] = [:], residual: (any StoreQuantizer)? = nil, text: [String: String] = [:]) {
        (self.name, self.layers, self.residual, self.text) = (name, layers, residual, text)
    }

    /// The exact recipe: every store at compute precision.
    public static let exact = StackRecipe(name: "exact")

    /// Parses `{layer type: "role=SPEC,…", residual: SPEC}` for `shape`; the residual defaults to
    /// the model's own (bf16, or fp32 for Nemotron-H) unless given. `where` names the place for errors.
    public static func parse(name: String, _ entries: [(key: String, value: String)], shape: StackShape, form: String, where place: String) throws -> StackRecipe {
        var r = StackRecipe(name: name)
        var residualText = shape.model.residual
        for (key, value) in entries {
            if key == Role.residual.rawValue {
                residualText = value
                continue
            }
            let kind: LayerKind
            do { kind = try LayerKind.named(key) } catch { throw InputError("\(place): \(error)") }
            guard shape.layers.contains(kind) else {
                throw InputError("\(place): layer type '\(key)' is not in \(shape.model.name)'s stack; its layer types: \(shape.kinds.map(\.name).joined(separator: ", ")), residual")
            }
            do { r.layers[kind] = try Recipe.parse(value, allowed: kind.roles(form: form)) } catch { throw InputError("\(place): \(key): \(error)") }
            if let k = r.layers[kind]!.kernel, let d = kind.definition {
                do { try KernelProfile.named(k).check(variant: d.name, family: d.family, form: form) } catch { throw InputError("\(place): \(key): \(error)") }
            }
            r.text[key] = value
        }
        if let t = residualText, t != "fp32", t != "float32" {
            do { r.residual = try FormatSpec.parse(t) } catch { throw InputError("\(place): residual: \(error)") }
            r.text[Role.residual.rawValue] = t
        } else {
            r.text[Role.residual.rawValue] = "float32"
        }
        return r
    }

    /// The same recipe with only `kind`'s stores (or only the residual's, for nil).
    public func only(_ kind: LayerKind?) -> StackRecipe {
        var r = StackRecipe(name: name + "/" + (kind?.name ?? Role.residual.rawValue))
        if let kind { r.layers[kind] = layers[kind] } else { r.residual = residual }
        return r
    }

    /// The sources of rounding the attribution separates: each layer type with stores, then the residual.
    public var sources: [LayerKind?] {
        let kinds: [LayerKind?] = LayerKind.all.filter { layers[$0].map { !$0.roles.isEmpty } ?? false }
        return kinds + (residual != nil ? [nil] : [])
    }
}
