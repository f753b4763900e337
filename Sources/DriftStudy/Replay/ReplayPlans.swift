import AttentionVariants
import Foundation
import NumberFormats
import Workloads

/// Replay's plan: the variant's definition checks the tensors and makes its runs
/// (`VariantDefinition.replayPlan`); here only what holds for every variant — the variant
/// replays, and the options it was given are ones it takes.
extension Replay {
    static func fail(_ s: String) -> StudyInputError { StudyInputError(s) }

    /// Checks the options against the definition and asks it for the plan; every error names
    /// the file and tensor.
    static func plan(_ o: Options, file: TensorFile) throws -> ReplayPlan {
        let v = o.variant
        let d = VariantRegistry.definition(v)
        guard let d, d.replayTensors != nil else {
            if d != nil {
                throw fail("--variant: replay not supported yet for '\(v)'; supported: \(supported.joined(separator: ", "))")
            }
            throw fail("--variant: unknown '\(v)'; replay supports \(supported.joined(separator: ", "))")
        }
        if !d.overrides.contains(.layer) && (o.layer != nil || o.layers != nil) {
            let layered = VariantRegistry.all.filter { $0.overrides.contains(.layer) }.map(\.name).joined(separator: ", ")
            throw fail("--layer/--layers: only \(layered)'s decay depends on the layer")
        }
        try checkSelectionFlags(o, d.replayFlags)
        return try d.replayPlan(file: file, options: o.planning)
    }

    /// `--block-size`, `--top-k` and `--window` only where the variant takes them (a block
    /// selector's own plan says whether it has a window).
    static func checkSelectionFlags(_ o: Options, _ flags: ReplayFlags) throws {
        let given: ReplayFlags = [o.blockSize != nil ? .blockSize : [], o.topK != nil ? .topK : [], o.window != nil ? .window : []]
        guard !flags.union(flags.contains(.blockSize) ? .window : []).isSuperset(of: given) else { return }
        func names(_ take: (ReplayFlags) -> Bool) -> [String] { VariantRegistry.all.filter { take($0.replayFlags) }.map(\.name) }
        let blocks = names { $0.contains(.blockSize) }, windowed = names { $0.contains(.window) }
        let tokens = names { $0.contains(.topK) && !$0.contains(.blockSize) }
        throw fail("--block-size/--top-k/--window: only \(blocks.joined(separator: " and ")) select blocks (\(windowed.joined(separator: ", ")): --window), "
            + "\(tokens.joined(separator: ", ")) --top-k tokens")
    }
}

extension Replay {
    /// `--form` must be one the plan runs, `--scale` only where the plan takes it.
    static func checkForm(_ o: Options, _ plan: ReplayPlan) throws {
        guard plan.forms.contains(o.form) else {
            throw fail("--form: \(o.variant) replays the \(plan.forms.joined(separator: " or ")) form, not '\(o.form)'")
        }
        if o.scale != nil && !plan.takesScale { throw fail("--scale: \(o.variant) takes no scale argument") }
    }
}

extension Replay.Options {
    /// What the variant's plan reads of the options.
    var planning: ReplayOptions {
        var r = ReplayOptions(preset: preset, qkL2Norm: qkL2Norm, layer: layer, layers: layers, blockSize: blockSize, topK: topK, window: window)
        r.form = form
        r.scale = scale
        r.layout = layout
        return r
    }
}
