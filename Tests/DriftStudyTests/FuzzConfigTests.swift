import AttentionVariants
import CLITestSupport
import Foundation
import NumberFormats
import Testing
@testable import DriftStudy

/// Seeded mutation fuzzing of the study and budgets YAML configs, format specs and recipes:
/// every input gives a value or a one-line InputError, quickly (no crash, no hang).
@Suite struct FuzzConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(_ folder: String) -> [[UInt8]] { Fuzz.yamlFiles(folder, root: root) }

    static func verdict(_ parse: () throws -> Void) -> Fuzz.Verdict {
        Fuzz.verdict(parse) { ($0 as? InputError)?.message }
    }

    static func text(_ b: [UInt8]) -> String? { String(bytes: b, encoding: .utf8) }

    @Test func fuzzStudyConfigs() {
        let seeds = Self.files("experiments") + Self.files("experiments/slurm")
        #expect(!seeds.isEmpty)
        let report = Fuzz.run("study config", seed: 3, seeds: seeds, tokens: Fuzz.yamlTokens, ciSeconds: 3) { b in
            guard let t = Self.text(b) else { return .refused }
            return Self.verdict { _ = try StudyConfig.parse(t, file: "fuzz.yaml", defaultName: "fuzz") }
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func fuzzBudgets() {
        let seeds = Self.files("experiments/budgets")
        #expect(!seeds.isEmpty)
        let report = Fuzz.run("budgets", seed: 4, seeds: seeds, tokens: Fuzz.yamlTokens, ciSeconds: 3) { b in
            guard let t = Self.text(b) else { return .refused }
            return Self.verdict { _ = try BudgetsFile.parse(t, file: "fuzz.yaml") }
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    static let specSeeds = ["bfloat16", "bf16/stochastic", "float8_e4m3fn/per-token", "float8_e4m3fn/block:128/pow2", "mxfp4/ceil", "nvfp4",
                            "int4/group:32/asym", "e3m4/toward-zero", "e5m10/ieee", "float8_e5m2/per-channel/fixed:0.5/saturate", "sr:8"]
    static let specTokens = ["/", ":", "block:", "group:", "stochastic:", "fixed:", "-", "0", "99", "1e9", "e", "m", "per-token", "asym",
                             "ieee", "flush", " ", "nan", "inf", "\u{0}", "é"].map { Array($0.utf8) }

    @Test func fuzzFormatSpecs() {
        let report = Fuzz.run("format spec", seed: 5, seeds: Self.specSeeds.map { Array($0.utf8) }, tokens: Self.specTokens, ciSeconds: 1.5) { b in
            Self.verdict { _ = try FormatSpec.parse(String(decoding: b, as: UTF8.self)) }
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func fuzzRecipes() {
        let seeds = ["k_cache=float8_e4m3fn/per-token", "state=bfloat16,q=bfloat16", "k_cache=int4/group:32,v_cache=mxfp4", "bf16-sr", "state=e5m2/stochastic:8"]
        let tokens = Self.specTokens + ["=", ",", "state", "k_cache", "v_cache", "q", "=="].map { Array($0.utf8) }
        let report = Fuzz.run("recipe", seed: 6, seeds: seeds.map { Array($0.utf8) }, tokens: tokens, ciSeconds: 1.5) { b in
            Self.verdict { _ = try Recipe.parse(String(decoding: b, as: UTF8.self)) }
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }
}
