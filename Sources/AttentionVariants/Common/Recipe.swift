import Foundation
import ExactArithmetic
import NumberFormats

/// A tensor role: a place where a real kernel writes a tensor to memory (DESIGN.md §1).
public enum Role: String, CaseIterable, Hashable, Sendable, Comparable {
    case q, k, v
    case kCache = "k_cache", vCache = "v_cache"
    case latent, ropeCache = "rope_cache", indexer
    case state, chunkState = "chunk_state", vNew = "v_new", triInverse = "tri_inverse"
    /// Compute store points (kernel profiles): softmax scores and probabilities before P·V;
    /// a chunked kernel's intra-chunk attention matrix, UT-transform products and decayed q/k.
    case scores, p
    case attn, w, u, qDecayed = "q_decayed", kDecayed = "k_decayed"
    case decay, beta, dt
    /// A hybrid stack's stores: a layer's short-convolution state and the residual stream
    /// between layers.
    case convState = "conv_state", residual
    case checkpoint, snapshot
    case output

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    /// Roles only a chunked form has (per-chunk tensors).
    public static let chunkOnly: Set<Role> = [.chunkState, .vNew, .triInverse, .attn, .w, .u, .qDecayed, .kDecayed]
}

/// The block structure a kernel profile gives a run where it changes rounding: softmax key
/// blocks (FlashAttention's kBlockN, processed last block first with a running max), the
/// chunk size of a chunked kernel, and an input rotation before the stores.
public struct KernelBlocking: Sendable, Equatable {
    /// Keys per block of one query's softmax (nil: one key at a time, the storage-only path).
    public var keyBlock: Int?
    /// Blocks visited from the one holding the query down to the first (FlashAttention-2).
    public var reverseKeyBlocks: Bool
    /// The chunk size the kernel uses (nil: any).
    public var chunkSize: Int?
    /// FlashAttention-3's incoherent processing (`rotation=hadamard`): q and k multiplied by the
    /// same random orthogonal matrix H·D (D random signs, H the normalised Hadamard matrix)
    /// before their stores, so that q·k is unchanged and outliers are spread over the head dim.
    public var hadamard: Bool

    public init(keyBlock: Int? = nil, reverseKeyBlocks: Bool = false, chunkSize: Int? = nil, hadamard: Bool = false) {
        (self.keyBlock, self.reverseKeyBlocks, self.chunkSize, self.hadamard) = (keyBlock, reverseKeyBlocks, chunkSize, hadamard)
    }
}

/// A precision recipe: role → storage quantizer. A role not named stays at compute precision.
///
/// Recipes hold any `StoreQuantizer` (an `ElementRounder`, a scaled `FormatSpec` …), so a new
/// format needs no change to any kernel. Text form: `role=SPEC[,role=SPEC…]`.
public struct Recipe: Sendable, CustomStringConvertible {
    public private(set) var stores: [Role: any StoreQuantizer]
    /// The kernel profile the recipe follows (`kernel=NAME`), if any.
    public var kernel: String?
    /// The profile's block structure (none for storage-only recipes).
    public var blocking = KernelBlocking()

    public init(_ stores: [Role: any StoreQuantizer] = [:]) { self.stores = stores }

    /// Keep everything at compute precision.
    public static let exact = Recipe()

    public subscript(_ role: Role) -> (any StoreQuantizer)? {
        get { stores[role] }
        set { stores[role] = newValue }
    }

    public var roles: [Role] { stores.keys.sorted() }

    /// Canonical text: `kernel=NAME` first when a profile is followed, `rotation=hadamard` when
    /// set, then the roles sorted, `role=spec` joined by commas ("" for the exact recipe).
    public var description: String {
        ((kernel.map { ["kernel=\($0)"] } ?? []) + (blocking.hadamard ? ["rotation=hadamard"] : []) + roles.map { "\($0.rawValue)=\(stores[$0]!.spec)" })
            .joined(separator: ",")
    }

    public typealias ParseError = InputError

    /// Named layouts of real serving stacks, usable wherever a recipe is written (alone or
    /// beside `role=SPEC` entries): FlashMLA's fp8 cache (512 e4m3 latent values with one fp32
    /// scale per 128, 64 bf16 RoPE values) and DeepSeek-V3.2's (the same + fp8 indexer keys
    /// with power-of-two scales per 128).
    public static let named: [String: String] = [
        "flashmla-fp8": MLAConfig.flashMLAFP8,
        "deepseek-v3.2-fp8": DSAConfig.deepSeekV32FP8,
    ]

    /// Parses `role=SPEC[,role=SPEC…]` (a named recipe may stand for its entries); `allowed`
    /// are the variant's roles.
    public static func parse(_ text: String, allowed: [Role]? = nil) throws -> Recipe {
        var r = Recipe()
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return r }
        trimmed = trimmed.split(separator: ",").map { part in
            let p = part.trimmingCharacters(in: .whitespaces)
            return named[p] ?? p
        }.joined(separator: ",")
        var explicit = Recipe()
        for part in trimmed.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[1].isEmpty else {
                throw InputError("recipe entry '\(part)': expected role=SPEC, kernel=PROFILE, rotation=hadamard or a named recipe (\(named.keys.sorted().joined(separator: ", ")))")
            }
            if kv[0] == "kernel" {
                guard r.kernel == nil else { throw InputError("recipe: 'kernel' given twice; one kernel profile per recipe") }
                let profile = try KernelProfile.named(kv[1])
                let hadamard = r.blocking.hadamard
                r = try profile.recipe(allowed: allowed)
                r.blocking.hadamard = r.blocking.hadamard || hadamard
                continue
            }
            if kv[0] == "rotation" {
                guard kv[1] == "hadamard" else { throw InputError("recipe: rotation: expected 'hadamard' (FlashAttention-3's incoherent processing of q and k), got '\(kv[1])'") }
                if let allowed, !(allowed.contains(.q) && allowed.contains(.kCache)) {
                    throw InputError("recipe: rotation=hadamard rotates a softmax kernel's q and k; this variant has no KV cache")
                }
                r.blocking.hadamard = true
                continue
            }
            guard let role = Role(rawValue: kv[0]) else {
                throw InputError("recipe: unknown role '\(kv[0])'; valid roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let allowed, !allowed.contains(role) {
                throw InputError("recipe: role '\(role.rawValue)' does not exist for this variant; its roles: \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            do {
                explicit[role] = try FormatSpec.parse(kv[1])
            } catch {
                throw InputError("recipe: role '\(role.rawValue)': \(error)")
            }
        }
        // Explicit roles override a profile's (a profile + `state=…`).
        for role in explicit.roles { r[role] = explicit[role] }
        return r
    }
}

/// Applies a recipe's store points on one backend, keying stochastic rounding by
/// (seed, role, head, step) so results do not depend on threads or chunking.
public struct StorePoints: Sendable {
    public let recipe: Recipe
    public let seed: UInt64
    public let head: Int

    public init(recipe: Recipe, seed: UInt64, head: Int) {
        self.recipe = recipe
        self.seed = seed
        self.head = head
    }

    @inlinable
    public func has(_ role: Role) -> Bool { recipe[role] != nil }

    /// Rounds `t` as storing it under `role` would; nothing when the recipe leaves it exact.
    public func store<B: Backend>(_ role: Role, _ t: Tensor, on backend: B, step: Int) {
        guard let q = recipe[role] else { return }
        backend.store(t, quantizer: q, random: CounterRandom(seed: seed, role: role.rawValue, head: head, step: step))
    }
}

extension Recipe {
    /// The same recipe with the specs of per-step roles behind the fast store (cache roles keep
    /// their FormatSpec: the quantized caches keep codes and scales of their own).
    public var fast: Recipe {
        var r = Recipe()
        r.kernel = kernel
        r.blocking = blocking
        let fastRoles: Set<Role> = [.q, .k, .v, .state, .output, .chunkState, .decay, .beta, .dt, .scores, .p, .attn, .w, .u, .qDecayed, .kDecayed]
        for role in roles {
            if let f = self[role] as? FormatSpec, fastRoles.contains(role) { r[role] = FastStore(f) } else { r[role] = self[role] }
        }
        return r
    }

    /// The format spec of `role` (plain or behind the fast store).
    public func format(_ role: Role) -> FormatSpec? {
        if let f = self[role] as? FormatSpec { return f }
        return (self[role] as? FastStore)?.format
    }
}
