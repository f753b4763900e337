import Foundation
import NumberFormats

/// One line of a hybrid study's `results.jsonl`: one stack, recipe (or one source of the
/// recipe rounded alone, for the attribution), length and seed.
public struct HybridRecord: Codable, Sendable, Equatable {
    public var key: String
    public var variant = "hybrid"
    /// The preset (or `pattern`), its checkpoint and public config.
    public var stack: String
    public var checkpoint: String
    public var source: String
    public var pattern: String
    /// The layer types in order (MLP blocks included) and the width the stack ran at.
    public var layers: [String]
    public var width: String
    public var dModel: Int
    public var form: String
    public var tokens: Int
    public var seed: UInt64
    public var recipeName: String
    /// Layer type (or `residual`) → recipe text.
    public var recipe: [String: String]
    /// nil: every store of the recipe; else the one source rounded alone.
    public var only: String?
    /// Measured lengths and, at each, the final hidden state's mean relative error over the window
    /// ending there, the logits' KL(p‖p̂) and top-1 agreement.
    public var lengths: [Int]
    public var hiddenRelErr: [Double]
    public var logitsKL: [Double]
    public var top1: [Double]
    /// The reference's mean next-token entropy (nats) and the LM head's calibrated scale.
    public var referenceEntropy: Double
    public var lmScale: Double
    /// Per layer at the last window: the residual stream's and the layer output's relative error.
    public var residualRelErr: [Double]
    public var layerOutputRelErr: [Double]
    /// Bytes one sequence holds at the model's full width, by context length (tokens → bytes),
    /// and the part that does not grow with the context.
    public var bytesPerSequence: [String: Double]
    public var fixedBytes: Double
    public var storedNonFinite: Int

    enum CodingKeys: String, CodingKey {
        case key, variant, stack, checkpoint, source, pattern, layers, width, form, tokens, seed, recipe, only, lengths, top1
        case dModel = "d_model", recipeName = "recipe_name", hiddenRelErr = "hidden_rel_err", logitsKL = "logits_kl"
        case referenceEntropy = "reference_entropy", lmScale = "lm_scale", residualRelErr = "residual_rel_err"
        case layerOutputRelErr = "layer_output_rel_err", bytesPerSequence = "bytes_per_sequence", fixedBytes = "fixed_bytes"
        case storedNonFinite = "stored_nonfinite"
    }

    /// The error at the last length (NaN when any stored value was not finite).
    public var finalError: Double { storedNonFinite > 0 ? .nan : hiddenRelErr.last ?? .nan }

    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    public static func line(_ r: HybridRecord) throws -> String { String(decoding: try encoder().encode(r), as: UTF8.self) }

    /// Reads a hybrid `results.jsonl`; a line that is not a hybrid record is an error naming the file and line.
    public static func read(_ path: String) throws -> [HybridRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read") }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { i, line in
            do { return try decoder().decode(HybridRecord.self, from: Data(line.utf8)) } catch {
                throw InputError("\(path):\(i + 1): not a hybrid record (\(error))")
            }
        }
    }
}

