import ExactArithmetic
import NumberFormats
import Workloads

/// What `attnprec replay` sets beside the tensors, as a variant's replay plan reads it.
public struct ReplayOptions: Sendable {
    /// A model preset giving the shapes the tensors must have (and SWA's window and sinks).
    public var preset: String?
    /// Delta rule: L2-normalise q and k in the kernel (FLA's use_qk_l2norm_in_kernel=True).
    public var qkL2Norm = true
    /// Lightning: the layer index and count of MiniMax's slope schedule.
    public var layer: Int?
    public var layers: Int?
    /// MoBA/NSA: tokens per block, blocks selected, NSA's window; DSA: tokens selected.
    public var blockSize: Int?
    public var topK: Int?
    public var window: Int?
    /// The form to run (`recurrent`, or `chunked` where the plan has it) and FLA's `scale`
    /// argument (nil: K^−1/2).
    public var form = "recurrent"
    public var scale: Double?
    /// How the dump orders its per-token tensors (`--layout`).
    public var layout = TensorLayout.thd

    public init(
        preset: String? = nil, qkL2Norm: Bool = true, layer: Int? = nil, layers: Int? = nil, blockSize: Int? = nil, topK: Int? = nil,
        window: Int? = nil
    ) {
        (self.preset, self.qkL2Norm, self.layer, self.layers) = (preset, qkL2Norm, layer, layers)
        (self.blockSize, self.topK, self.window) = (blockSize, topK, window)
    }
}

/// The selection flags a variant's replay takes (`--block-size`, `--top-k`, `--window`).
public struct ReplayFlags: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let blockSize = ReplayFlags(rawValue: 1 << 0)
    public static let topK = ReplayFlags(rawValue: 1 << 1)
    public static let window = ReplayFlags(rawValue: 1 << 2)
}

/// A variant's replay on one file: the shapes read from the tensors, and how to make its runs
/// on a tier.
public struct ReplayPlan {
    public var tokens: Int
    /// The tensors read, checked for NaN/Inf before anything runs.
    public var inputs: [TensorView]
    public var outputShape: [Int]
    public var stateShape: [Int]?
    public var roles: [Role]
    /// The forms the plan runs (`ReplayOptions.form` must be one) and whether it takes `--scale`.
    public var forms = ["recurrent"]
    public var takesScale = false
    /// Runs of one tier: one per value head (recurrent) or one for all heads (softmax).
    public var make: (BackendTier, Recipe) throws -> [SteppedRun]

    public init(
        tokens: Int, inputs: [TensorView], outputShape: [Int], stateShape: [Int]?, roles: [Role],
        make: @escaping (BackendTier, Recipe) throws -> [SteppedRun]
    ) {
        (self.tokens, self.inputs, self.outputShape, self.stateShape, self.roles, self.make) = (tokens, inputs, outputShape, stateShape, roles, make)
    }
}

/// The per-token tensors of a definition's `replayTensors`, read from a file and checked: every
/// required one present, the same T everywhere, q and k of one width, the [H] constants and the
/// initial state of the right shapes. Plans take their shapes from here.
public struct ReplayTensors {
    public var variant: String
    public var options: ReplayOptions
    public var file: TensorFile
    /// The tensors by input stream (q, k, v, g, beta …).
    public var rows: [String: TensorRows]
    /// The [H] constants and the initial state, by name.
    public var constants: [String: TensorView]
    public var inputs: ReplayInputs
    public var q: TensorRows { rows["q"]! }
    public var k: TensorRows { rows["k"]! }
    public var v: TensorRows { rows["v"]! }
    public var T: Int { q.tokens }
    public var K: Int { q.width }
    public var V: Int { v.width }
    public var H: Int { q.heads }
    public var HV: Int { v.heads }
    public var views: [TensorView] { rows.values.map(\.view) + constants.values }

    /// Reads and checks the tensors `d` replays; every error names the file and tensor.
    public init(file: TensorFile, definition d: any VariantDefinition, options: ReplayOptions) throws {
        let specs = d.replayTensors ?? []
        (variant, self.options, self.file) = (d.name, options, file)
        rows = try Self.perTokenRows(file, d.name, specs, layout: options.layout)
        let q = rows["q"]!, k = rows["k"]!, vv = rows["v"]!
        if k.heads != q.heads && !d.keepsCache { throw Self.mismatch(k, "'\(q.view.name)' \(q.view.shapeText) (same H)") }
        if k.width != q.width { throw Self.mismatch(k, "'\(q.view.name)' \(q.view.shapeText) (same K)") }
        constants = try Self.constants(file, d.name, specs, heads: vv.heads)
        if let s0 = file["initial_state"] {
            guard !d.keepsCache else { throw InputError("\(s0.file): tensor 'initial_state': \(d.name) has no recurrent state") }
            let HV = vv.heads, K = q.width, V = vv.width
            var shape = s0.shape
            if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
            guard shape == [HV, K, V] else {
                throw InputError("\(s0.file): tensor 'initial_state': shape \(s0.shapeText); expected [HV, K, V] = [\(HV), \(K), \(V)] (or with a leading batch 1)")
            }
            constants["initial_state"] = s0
        }
        inputs = ReplayInputs(streams: rows, constants: constants)
    }

    /// The required per-token tensors by stream, all of one length T.
    static func perTokenRows(_ file: TensorFile, _ variant: String, _ specs: [ReplayTensorSpec], layout: TensorLayout) throws -> [String: TensorRows] {
        var rows: [String: TensorRows] = [:]
        var layouts: [String: String] = [:]
        for s in specs where s.required && s.shape.hasPrefix("[T") {
            var view = file[s.name]
            if view == nil && s.name == "gk" { view = file["g"] }
            guard let view else { throw missing(file, s.name, variant, specs) }
            do {
                rows[s.stream] = try TensorRows(view, perChannel: s.shape.split(separator: ",").count == 3, layout: layout)
                layouts[s.stream] = s.shape
            } catch let e as TensorFileError { throw InputError(e.message) }
        }
        let T = rows["q"]!.tokens
        for (name, r) in rows.sorted(by: { $0.key < $1.key }) where r.tokens != T {
            let first = specs.first { $0.stream == "q" }!.name
            throw InputError("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) read as \(layouts[name]!) has T = \(r.tokens), but '\(first)' has T = \(T)")
        }
        return rows
    }

    /// The [H] constants of `specs` present in `file`, H the value heads.
    static func constants(_ file: TensorFile, _ variant: String, _ specs: [ReplayTensorSpec], heads: Int) throws -> [String: TensorView] {
        var constants: [String: TensorView] = [:]
        for s in specs where s.shape == "[H]" {
            guard let c = file[s.name] else {
                if s.required { throw InputError("\(file.path): tensor '\(s.name)' missing; \(variant) replay needs it with shape [H] = [\(heads)]") }
                continue
            }
            guard c.shape == [heads] else { throw InputError("\(c.file): tensor '\(s.name)': shape \(c.shapeText); expected [H] = [\(heads)]") }
            constants[s.name] = c
        }
        return constants
    }

    /// The error for a required tensor absent from `file`.
    public static func missing(_ file: TensorFile, _ name: String, _ variant: String, _ specs: [ReplayTensorSpec]) -> InputError {
        let need = specs.filter(\.required).map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
        return InputError("\(file.path): tensor '\(name)' missing; \(variant) replay needs \(need)")
    }

    /// The error for a tensor whose shape disagrees with `what`.
    public static func mismatch(_ r: TensorRows, _ what: String) -> InputError {
        InputError("\(r.view.file): tensor '\(r.view.name)': shape \(r.view.shapeText) does not agree with \(what)")
    }

    /// Softmax heads: HKV value heads, HQ a multiple of HKV.
    public func checkKV() throws {
        guard v.heads == k.heads else { throw Self.mismatch(v, "'k' \(k.view.shapeText) (same HKV)") }
        guard q.heads % k.heads == 0 else { throw Self.mismatch(k, "'q' \(q.view.shapeText): HKV = \(k.heads) must divide HQ = \(q.heads)") }
    }

    /// Recurrences whose value heads read key heads GQA-style: H divides HV.
    public func checkValueHeads() throws {
        guard HV % H == 0 else { throw Self.mismatch(v, "'\(q.view.name)' \(q.view.shapeText): H = \(H) must divide HV = \(HV)") }
    }
}
