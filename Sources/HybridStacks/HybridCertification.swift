import ExactArithmetic
import Foundation
import NumberFormats

/// The Float64 stack against the same stack at MPFR precision: every layer's residual stream and
/// the final hidden state, the mean relative error over the last window of the prefix
/// (`reference certify --variant hybrid`). The mixers receive their inputs as doubles in both
/// (the replay plans read binary64 tensors), which costs the MPFR stack at most 2^−53 relative
/// per layer input — far below the 1e−12 it is held to.
public struct HybridCertificate: Codable, Sendable {
    public var preset: String
    public var width: String
    public var layers: Int
    public var tokens: Int
    public var bits: Int
    public var form: String
    /// Final hidden state and the worst layer's residual stream, Float64 vs MPFR.
    public var float64VsMPFR: Double
    public var worstLayer: Double
    public var worstLayerIndex: Int
    public var threshold: Double
    public var pass: Bool

    enum CodingKeys: String, CodingKey {
        case preset, width, layers, tokens, bits, form, threshold, pass
        case float64VsMPFR = "float64_vs_mpfr", worstLayer = "worst_layer_rel_err", worstLayerIndex = "worst_layer"
    }

    public static let threshold = 1e-12

    public static func certify(_ shape: StackShape, name: String, tokens: Int, bits: Int, form: String, jobs: Int) throws -> HybridCertificate {
        var o = StackRunOptions(tokens: tokens)
        o.form = form
        o.attribution = false
        o.referenceTier = .mpfr(bits: bits)
        o.emulatedTier = .float64
        o.jobs = jobs
        let (_, streams) = try StackRun.run(shape, recipes: [StackRecipe(name: "exact")], options: o)
        let e = streams[0]
        // NaN anywhere makes the worst error NaN (and the certificate fail).
        func worstOf(_ v: [Double]) -> Double { v.contains { $0.isNaN } ? .nan : v.max() ?? .nan }
        let worst = e.residual.indices.first { e.residual[$0].isNaN } ?? e.residual.indices.max { e.residual[$0] < e.residual[$1] } ?? 0
        let final = worstOf(e.hidden)
        let pass = final < threshold && e.residual.allSatisfy { $0 < threshold }
        return HybridCertificate(preset: name, width: StackShape.text(shape.width), layers: shape.layers.count, tokens: tokens, bits: bits, form: form,
                                 float64VsMPFR: final, worstLayer: e.residual.isEmpty ? .nan : e.residual[worst], worstLayerIndex: worst + 1,
                                 threshold: threshold, pass: pass)
    }
}
