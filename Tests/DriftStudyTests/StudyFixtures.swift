import Foundation
@testable import DriftStudy

/// Small configs and folders shared by the study tests.
enum StudyFixture {
    static let small = """
    name: small
    tokens: [300]
    inputs: bfloat16
    reference: {tier: float64, certify_tokens: 16, bits: 64, double_precision_tokens: 8}
    sampling: {per_octave: 8}
    variants:
      - {name: linear, key_dim: 16, value_dim: 16}
      - {name: linear, key_dim: 16, value_dim: 16, decay: 0.99}
      - {name: mha, head_dim: 16}
    recipes:
      - bfloat16
      - {name: e4m3-token, store: float8_e4m3fn/per-token}
      - {name: bf16-sr, store: bfloat16/stochastic}
    workloads:
      - gaussian
      - {name: outliers, input: sparse_outliers, probability: 0.01, scale: 10}
    exclude:
      - {variant: mha, recipe: bf16-sr}
    """

    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("attnprec-study-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func config(_ text: String = small) throws -> StudyConfig {
        try StudyConfig.parse(text, file: "small.yaml", defaultName: "small")
    }

    static func read(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }
}
