import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Testing

@testable import HybridStacks

@Suite struct LayerPatternTests {
    @Test func repeatsGroupsAndPositions() throws {
        let q = try LayerPattern.parse("(3*gated_deltanet, gated_attention)*12")
        #expect(q.count == 48)
        #expect(q.filter { $0 == .gatedAttention }.count == 12)
        #expect(q[3] == .gatedAttention && q[0] == .gatedDeltaNet)
        let k = try LayerPattern.parse("kda*27; mla@4,8,12,16,20,24,27")
        #expect(k.count == 27)
        #expect(k.indices.filter { k[$0] == .mla }.map { $0 + 1 } == [4, 8, 12, 16, 20, 24, 27])
        #expect(try LayerPattern.parse("mamba2, gqa, mlp, 2*(mha, mlp)") == [.mamba2, .attention, .mlp, .attention, .mlp, .attention, .mlp])
    }

    @Test func badPatternsSayWhatIsWrong() {
        #expect(throws: InputError.self) { try LayerPattern.parse("(3*gated_deltanet, flash)*2") }
        #expect(throws: InputError.self) { try LayerPattern.parse("rwkv7*4") }
        #expect(throws: InputError.self) { try LayerPattern.parse("(kda, mla") }
        #expect(throws: InputError.self) { try LayerPattern.parse("kda*4; mla@5") }
        do {
            _ = try LayerPattern.parse("gated_deltanet, flash")
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("unknown layer type 'flash'"))
        }
    }
}

@Suite struct StackPresetTests {
    @Test func presetsHaveTheirPublicLayerCounts() throws {
        func count(_ m: StackModel, _ k: LayerKind) throws -> Int { try m.layers().filter { $0 == k }.count }
        #expect(try count(.qwen3Next, .gatedDeltaNet) == 36 && count(.qwen3Next, .gatedAttention) == 12 && count(.qwen3Next, .mlp) == 48)
        #expect(try count(.qwen35, .gatedDeltaNet) == 45 && count(.qwen35, .gatedAttention) == 15)
        #expect(try count(.kimiLinear, .kda) == 20 && count(.kimiLinear, .mla) == 7)
        #expect(try count(.miniMax01, .lightning) == 70 && count(.miniMax01, .attention) == 10)
        #expect(try count(.nemotronH, .mamba2) == 24 && count(.nemotronH, .attention) == 4 && count(.nemotronH, .mlp) == 24)
        let s = try StackShape(model: .qwen3Next, width: 1.0 / 16)
        #expect(s.dModel == 128 && s.linearKeyHeads == 1 && s.linearValueHeads == 2 && s.attentionHeads == 1 && s.attentionKVHeads == 1)
    }

    /// Qwen3.5-397B's GDN page per layer and sequence: 4.27 MB with an fp32 state and bf16 conv
    /// state, 2.17 MB with a bf16 state (64 value heads of 128 × 128, conv 12,288 channels × 3).
    @Test func qwen35StatePages() throws {
        let fp32 = try Recipe.parse("conv_state=bfloat16"), bf16 = try Recipe.parse("state=bfloat16,conv_state=bfloat16")
        #expect(StackMemory.layerBytes(.qwen35, .gatedDeltaNet, recipe: fp32, tokens: 0) == 4_268_032)
        #expect(StackMemory.layerBytes(.qwen35, .gatedDeltaNet, recipe: bf16, tokens: 0) == 2_170_880)
    }

    @Test func widthsWhoseHeadsAreNotWholeAreRefused() {
        #expect(throws: InputError.self) { try StackShape(model: .qwen3Next, width: 1.0 / 3) }
        #expect(throws: InputError.self) { try StackShape(model: .kimiLinear, width: 0) }
    }
}

@Suite struct StackRunTests {
    static func spec(_ model: StackModel, pattern: String? = nil, width: Double, tokens: Int, recipes: [String: [(key: String, value: String)]],
                     attribution: Bool = false) throws -> HybridSpec {
        var m = model
        if let pattern { m.pattern = pattern }
        let shape = try StackShape(model: m, width: width)
        let rs = try recipes.keys.sorted().map { try StackRecipe.parse(name: $0, recipes[$0]!, shape: shape, form: "recurrent", where: "test") }
        var o = StackRunOptions(tokens: tokens)
        o.attribution = attribution
        o.jobs = 2
        return HybridSpec(name: m.name, shape: shape, recipes: rs, options: o)
    }

    /// Every store at compute precision: the Float32 stack equals the Float64 one to Float32's precision.
    @Test func exactRecipeMatchesTheReferenceToComputePrecision() throws {
        let s = try Self.spec(.qwen3Next, pattern: "2*gated_deltanet, gated_attention", width: 1.0 / 16, tokens: 96,
                              recipes: ["fp32": [("residual", "fp32")], "bf16": [("gated_deltanet", "state=bfloat16")]])
        let r = try HybridRunner.records(s)
        let exact = try #require(r.first { $0.recipeName == "fp32" }), bf16 = try #require(r.first { $0.recipeName == "bf16" })
        #expect(exact.hiddenRelErr.last! < 2e-6, "\(exact.hiddenRelErr)")
        #expect(exact.hiddenRelErr.last! > 0)
        #expect(bf16.hiddenRelErr.last! > 10 * exact.hiddenRelErr.last!, "\(bf16.hiddenRelErr) vs \(exact.hiddenRelErr)")
        #expect(exact.layers.count == 6 && exact.residualRelErr.count == 6)
        #expect(exact.top1.last! == 1)
        #expect(abs(exact.referenceEntropy - 2.5) < 0.3, "entropy \(exact.referenceEntropy)")
    }

    @Test func recipesNamingAbsentLayersAreRefused() throws {
        #expect(throws: InputError.self) {
            try Self.spec(.qwen3Next, pattern: "gated_deltanet", width: 1.0 / 16, tokens: 8, recipes: ["x": [("mamba2", "state=bfloat16")]])
        }
        #expect(throws: InputError.self) {
            try Self.spec(.qwen3Next, pattern: "gated_deltanet", width: 1.0 / 16, tokens: 8, recipes: ["x": [("gated_deltanet", "k_cache=bfloat16")]])
        }
    }

    /// The bound counts each stream's buffers at its tier's element size: Float32 streams half
    /// of Float64 ones (the 32k runs of experiments/hybrids-long.yaml fit 25 GB by this).
    @Test func memoryBoundFollowsTheTiers() throws {
        var s = try Self.spec(.nemotronH, width: 1.0 / 16, tokens: 32_768, recipes: ["fp32": [], "bf16": [("mamba2", "state=bfloat16")]])
        let float32 = s.memoryBound
        s.options.emulatedTier = .float64
        let float64 = s.memoryBound
        s.options.emulatedTier = .mpfr(bits: 128)
        #expect(float32 < float64 && float64 < s.memoryBound)
        // Three streams: the reference (8 bytes) and two Float32 ones (4) against three of 8.
        let workers = float64 - 3 * (float64 - float32)
        #expect(abs((float64 - workers) / (float32 - workers) - 24.0 / 16.0) < 1e-12)
    }

    @Test func runsThatWouldNotFitAreRefused() throws {
        let s = try Self.spec(.miniMax01, width: 1.0 / 16, tokens: 50_000_000, recipes: ["fp32": []])
        #expect(throws: InputError.self) { try s.checkMemory(place: "test") }
    }
}
