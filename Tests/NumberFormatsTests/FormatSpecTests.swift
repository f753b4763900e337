import Testing
@testable import NumberFormats

@Suite struct FormatSpecTests {
    @Test func namesWinOverPatterns() throws {
        #expect(ElementFormat.named("e4m3") == .float8_e4m3fn)
        #expect(ElementFormat.named("e5m2") == .float8_e5m2)
        #expect(ElementFormat.named("e3m4") == .float8_e3m4)
        #expect(ElementFormat.named("e2m3") == .float6_e2m3fn)
        #expect(ElementFormat.named("e3m2") == .float6_e3m2fn)
        #expect(ElementFormat.named("e2m1") == .float4_e2m1fn)
        #expect(ElementFormat.named("e8m0") == .float8_e8m0fnu)
        #expect(ElementFormat.named("tf32") == ElementFormat.named("e8m10"))
        let custom = try #require(ElementFormat.named("e5m3"))
        #expect(custom.bias == 15 && custom.hasInfinity && custom.nanEncoding == .ieee)
        #expect(custom.maxFinite == 61440)  // (2 − 2^-3)·2^15
        #expect(ElementFormat.named("e9m2") == nil)
        #expect(ElementFormat.named("fp7") == nil)
    }

    @Test func canonicalStrings() throws {
        let cases: [(String, String)] = [
            ("bfloat16", "bfloat16"), ("bf16", "bfloat16"), ("BF16/Stochastic", "bfloat16/stochastic"),
            ("e4m3/per-token", "float8_e4m3fn/per-token"),
            ("float8_e4m3fn/block:128/pow2", "float8_e4m3fn/block:128/pow2"),
            ("float8_e4m3fn/pow2/block:128", "float8_e4m3fn/block:128/pow2"),
            ("mxfp4", "mxfp4"), ("mxfp4/ceil", "mxfp4/ceil"), ("mxfp8", "mxfp8_e4m3"), ("nvfp4", "nvfp4"),
            ("nvfp4/no-tensor-scale", "nvfp4/no-tensor-scale"), ("int4/group:32/asym", "int4/group:32/asym"),
            ("e3m4/toward-zero", "float8_e3m4/toward-zero"), ("e4m3/ieee", "float8_e4m3fn/ieee"),
            ("fp16/saturate", "float16/saturate"), ("bf16/stochastic:8/flush", "bfloat16/stochastic:8/flush"),
        ]
        for (input, canonical) in cases {
            let spec = try FormatSpec.parse(input)
            #expect(spec.description == canonical, "\(input)")
            #expect(try FormatSpec.parse(spec.description) == spec, "\(input) round trip")
        }
    }

    @Test func structure() throws {
        let mx = try FormatSpec.parse("mxfp6_e3m2/even")
        #expect(mx.element == .float(.float6_e3m2fn) && mx.granularity == .block(32) && mx.scaleRule == .mx(.even))
        let kivi = try FormatSpec.parse("int2/group:64/asym/stochastic")
        #expect(kivi.element == .integer(bits: 2, .asymmetric) && kivi.granularity == .group(64))
        #expect(kivi.rounding == .stochastic(bits: 32))
        let e4 = try FormatSpec.parse("e4m3")
        #expect(e4.granularity == nil && e4.overflow == .saturate)
        #expect(try FormatSpec.parse("bf16").overflow == .ieee)
        #expect(try FormatSpec.parse("e4m3/pow2").granularity == .perTensor)
    }

    @Test func errorsListWhatIsValid() {
        func message(_ s: String) -> String {
            do { _ = try FormatSpec.parse(s); return "" } catch { return "\(error)" }
        }
        #expect(message("fp5").contains("unknown format 'fp5'") && message("fp5").contains("float8_e4m3fn"))
        let bad = message("e4m3/per-tokn")
        #expect(bad.contains("unknown part 'per-tokn'") && bad.contains("per-token") && bad.contains("nearest-even"))
        #expect(message("mxfp4/block:16").contains("fixed granularity"))
        #expect(message("mxfp4/pow2").contains("unknown part 'pow2'") && message("mxfp4/pow2").contains("ceil"))
        #expect(message("e4m3/per-token/per-channel").contains("two granularities"))
        #expect(message("e4m3/block:0").contains("block size '0' is out of range; expected an integer in 1...1048576"))
        #expect(message("").contains("empty format spec"))
        #expect(message("e4m3//up").contains("empty part"))
        #expect(message("bf16/stochastic:33").contains("'33' is out of range; expected an integer in 1...32"))
        #expect(message("e4m3/fixed:-1").contains("positive"))
    }

    @Test func bitsPerElementIncludeScales() throws {
        #expect(try FormatSpec.parse("mxfp4").bitsPerElement(shape: [4, 128]) == 4.25)
        #expect(try FormatSpec.parse("mxfp8").bitsPerElement(shape: [4, 128]) == 8.25)
        #expect(try FormatSpec.parse("nvfp4/no-tensor-scale").bitsPerElement(shape: [4, 128]) == 4.5)
        #expect(try FormatSpec.parse("e4m3/per-token").bitsPerElement(shape: [4, 128]) == 8.25)
        #expect(try FormatSpec.parse("int4/group:32/asym").bitsPerElement(shape: [64, 128]) == 6)  // 4 + (32 + 32) / 32
        #expect(try FormatSpec.parse("bfloat16").bitsPerElement(shape: [4, 128]) == 16)
    }
}
