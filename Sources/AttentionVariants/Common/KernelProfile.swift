import NumberFormats

extension Recipe {
    /// A profile's chunk size must be the run's (`chunk_size` of the variant).
    public func checkChunkSize(_ c: Int) throws {
        if let k = blocking.chunkSize, k != c {
            throw VariantError("chunk_size: kernel profile '\(kernel ?? "?")' runs chunks of \(k) tokens; this run's chunk size is \(c)")
        }
    }
}

/// A named kernel profile: what a real kernel rounds (storage and compute store points) and
/// the block structure that changes its rounding, usable wherever a recipe is written
/// (`kernel: NAME` in study configs and budgets, `kernel=NAME` in recipe text, `--kernel NAME`
/// in replay) and combinable with storage roles (`kernel=fla-chunk-bf16,state=bfloat16`).
public struct KernelProfile: Sendable {
    public let name: String
    public let summary: String
    /// The kernel source the profile follows (file and version).
    public let source: String
    /// How the profile was checked against the real kernel (nil: not checked; it follows the
    /// kernel's published code).
    public let checked: String?
    /// The families and forms whose kernels the profile describes.
    public let families: Set<VariantFamily>
    public let form: String
    /// Role → format spec; roles a variant's form lacks are left out (see `required`).
    public let stores: [(role: Role, spec: String)]
    /// Roles the variant's form must have for the profile to apply.
    public let required: [Role]
    public let blocking: KernelBlocking

    /// Every profile, by name.
    public static let all: [KernelProfile] = [
        flashAttention2(name: "fa2-bf16", dtype: "bfloat16"),
        flashAttention2(name: "fa2-fp16", dtype: "float16"),
        KernelProfile(
            name: "fla-chunk-bf16",
            summary: "FLA 0.6 chunk kernels (chunk_gated_delta_rule, chunk_kda, chunk_gla, chunk_simple_gla), bf16 inputs: the intra-chunk matrices in bf16, fp32 accumulation, chunk 64",
            source: "flash-linear-attention 0.6.0: fla/ops/common/chunk_delta_h.py, chunk_o.py, fla/ops/gated_delta_rule/wy_fast.py, fla/ops/utils/solve_tril.py, fla/ops/gla/chunk.py",
            checked: "Tests/Fixtures/kernels (H100, FLA 0.6.0): gated_deltanet, kda, gla, linear",
            families: [.delta, .linear], form: "chunked",
            stores: [.q, .k, .v, .triInverse, .w, .u, .chunkState, .vNew, .attn, .qDecayed, .kDecayed, .output].map { ($0, "bfloat16") },
            required: [.attn], blocking: KernelBlocking(chunkSize: 64)),
        KernelProfile(
            name: "fla-recurrent-bf16",
            summary: "FLA 0.6 fused_recurrent kernels, bf16 inputs: the state in fp32 registers, gates fp32, output bf16",
            source: "flash-linear-attention 0.6.0: fla/ops/gated_delta_rule/fused_recurrent.py, fla/ops/kda/fused_recurrent.py, fla/ops/common/fused_recurrent.py",
            checked: "Tests/Fixtures/kernels (H100, FLA 0.6.0): gated_deltanet, kda, gla, linear",
            families: [.delta, .linear], form: "recurrent",
            stores: [.q, .k, .v, .output].map { ($0, "bfloat16") }, required: [], blocking: KernelBlocking()),
        KernelProfile(
            name: "fa3-fp8",
            summary: "FlashAttention-3 FP8 forward (Hopper), head dim 128: q, k, v in e4m3 with a scale per token (finer than FA3's scale per 128 × d block, which on outlier-heavy inputs acts like a per-tensor scale: give q/k_cache/v_cache per-tensor scales for that), P·2^8 cast to e4m3, key blocks of 224 from the query's block down, output bf16; add rotation=hadamard for its incoherent processing",
            source: "FlashAttention-3, Dao-AILab/flash-attention hopper/ at 0251105a: tile_size.h (fp8, head dim 128: kBlockN 224), softmax.h and flash_fwd_kernel_sm90.h (Max_offset 8: P scaled by 2^8 before the cast, the row sum in fp32), mainloop_fwd_sm90_tma_gmma_ws.hpp (n_block from the last down)",
            checked: nil, families: [.softmax], form: "recurrent",
            stores: [(.q, "float8_e4m3fn/per-token"), (.kCache, "float8_e4m3fn/per-token"), (.vCache, "float8_e4m3fn/per-token"),
                     (.p, "float8_e4m3fn/per-tensor/fixed:0.00390625"), (.output, "bfloat16")],
            required: [.p], blocking: KernelBlocking(keyBlock: 224, reverseKeyBlocks: true)),
        KernelProfile(
            name: "vllm-fp8-kv",
            summary: "vLLM's fp8 KV cache (kv_cache_dtype=fp8): k and v stored in e4m3 with one static scale per tensor, 1.0 unless the checkpoint or calculate_kv_scales gives one (override: k_cache=float8_e4m3fn/per-tensor/fixed:S), dequantized to bf16 for FlashAttention-2 (P and output bf16, key blocks of 64)",
            source: "vLLM: vllm/attention/layer.py (_k_scale, _v_scale default 1.0; calc_kv_scales: amax / K_SCALE_CONSTANT = 200, amax / V_SCALE_CONSTANT = 100, vllm/envs.py), reshape_and_cache_flash (x / scale cast to e4m3)",
            checked: nil, families: [.softmax], form: "recurrent",
            stores: [(.q, "bfloat16"), (.k, "bfloat16"), (.v, "bfloat16"), (.kCache, "float8_e4m3fn/per-tensor/fixed:1"), (.vCache, "float8_e4m3fn/per-tensor/fixed:1"),
                     (.p, "bfloat16"), (.output, "bfloat16")],
            required: [.p], blocking: KernelBlocking(keyBlock: 64, reverseKeyBlocks: true)),
        KernelProfile(
            name: "flashmla-fp8",
            summary: "FlashMLA's fp8 KV cache: 512 e4m3 latent values with one fp32 scale per 128, 64 bf16 RoPE values (storage only)",
            source: "FlashMLA (deepseek-ai/FlashMLA) fp8 KV-cache layout",
            checked: nil, families: [.softmax, .sparse], form: "recurrent",
            stores: pairs(MLAConfig.flashMLAFP8), required: [.latent], blocking: KernelBlocking()),
    ]

    static func flashAttention2(name: String, dtype: String) -> KernelProfile {
        KernelProfile(
            name: name,
            summary: "FlashAttention-2 (PyTorch SDPA flash backend), \(dtype) q/k/v: P rounded to \(dtype) before P·V, the row sum from fp32 P, key blocks of 64 from the query's block down with a running max, output \(dtype)",
            source: "FlashAttention-2 csrc/flash_attn/src/flash_fwd_kernel.h and softmax.h as vendored by PyTorch 2.11 (kBlockN = 64 for head dim 128 on sm90)",
            checked: "Tests/Fixtures/kernels/sdpa-flash-d128-t2048.safetensors (H100, torch 2.11)",
            families: [.softmax], form: "recurrent",
            stores: [.q, .k, .v, .p, .output].map { ($0, dtype) }, required: [.p],
            blocking: KernelBlocking(keyBlock: 64, reverseKeyBlocks: true))
    }

    /// `role=spec` pairs of a recipe text written in this module.
    static func pairs(_ text: String) -> [(role: Role, spec: String)] {
        text.split(separator: ",").map { part in
            let kv = part.split(separator: "=", maxSplits: 1)
            return (Role(rawValue: String(kv[0]))!, String(kv[1]))
        }
    }

    /// The profile called `name`, or a one-line error listing the profiles.
    public static func named(_ name: String) throws -> KernelProfile {
        if let p = all.first(where: { $0.name == name }) { return p }
        throw InputError("kernel: unknown profile '\(name)'; profiles: \(all.map(\.name).joined(separator: ", "))")
    }

    /// The recipe of the profile for a form with `allowed` roles (nil: every role).
    public func recipe(allowed: [Role]?) throws -> Recipe {
        if let allowed, let missing = required.first(where: { !allowed.contains($0) }) {
            throw InputError("kernel: profile '\(name)' needs role '\(missing.rawValue)', which this variant's \(form) form lacks; \(name) is for \(families.map(\.rawValue).sorted().joined(separator: ", ")) variants in the \(form) form")
        }
        var r = Recipe()
        for (role, spec) in stores where allowed?.contains(role) ?? true { r[role] = try FormatSpec.parse(spec) }
        r.kernel = name
        r.blocking = blocking
        return r
    }

    /// Checks that a variant of `family` in `form` can take the profile.
    public func check(variant: String, family: VariantFamily, form: String) throws {
        guard families.contains(family), form == self.form else {
            throw InputError("kernel: profile '\(name)' does not apply to \(variant) (\(form) form); it follows \(summary.prefix { $0 != "," && $0 != ":" }) — for \(families.map(\.rawValue).sorted().joined(separator: ", ")) variants in the \(self.form) form")
        }
    }
}

extension KernelProfile {
    /// One line for `attnprec profiles list`.
    public var listLine: String {
        "\(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(form.padding(toLength: 10, withPad: " ", startingAt: 0)) \(checked == nil ? "not checked" : "checked    ") \(summary)"
    }

    /// `attnprec profiles show NAME`: store points, blocks, source and how it was checked.
    public var details: String {
        var lines = ["\(name): \(summary)", "",
                     "applies to:  \(families.map(\.rawValue).sorted().joined(separator: ", ")) variants, \(form) form",
                     "store points (role → format; roles a variant lacks are skipped):"]
        lines += stores.map { "  \($0.role.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \($0.spec)" }
        var blocks: [String] = []
        if let b = blocking.keyBlock { blocks.append("key blocks of \(b)\(blocking.reverseKeyBlocks ? ", from the query's block down to the first, running max" : "")") }
        if let c = blocking.chunkSize { blocks.append("chunks of \(c) tokens") }
        if blocking.hadamard { blocks.append("q and k rotated by H·D (rotation=hadamard)") }
        lines.append("blocks:      \(blocks.isEmpty ? "none (per token)" : blocks.joined(separator: "; "))")
        lines.append("follows:     \(source)")
        lines.append("checked:     \(checked ?? "no — follows the kernel's published code; no real kernel was run")")
        return lines.joined(separator: "\n")
    }
}
