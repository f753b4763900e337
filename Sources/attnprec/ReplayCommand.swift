import ArgumentParser
import AttentionVariants
import DriftReports
import DriftStudy
import Foundation
import NumberFormats
import Workloads

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a variant on your own tensors: the exact reference, recipe emulations, and your kernel's outputs side by side.",
        discussion: """
            INPUTS is a .safetensors file or a folder of .npy files named as flash-linear-attention \
            calls its kernels (see `attnprec variants show NAME`). Writes o_ref.npy (float64), \
            o_<LABEL or recipe>.npy (float32), state_*.npy (recurrent variants), errors.json and the report \
            (report.md, positions.md, plots/replay-error.svg; `attnprec report OUT` redraws it) into --out; nothing is written when an input is bad (exit 2).
            """)
    @Option(name: .long, help: "Variant: \(Replay.supported.joined(separator: ", ")).") var variant: String
    @Option(name: .long, help: "Model preset the shapes must match (e.g. qwen3-next).") var preset: String?
    @Argument(help: "A .safetensors file or a folder of .npy files.") var inputs: String
    @Option(name: .long, help: "Recipe [LABEL:]role=SPEC[,role=SPEC…], e.g. bf16:state=bfloat16,q=bfloat16 (repeatable); files are named by LABEL when given.") var recipe: [String] = []
    @Option(name: .long, help: "LABEL=FILE.npy: an output of your own kernel, shape of o_ref (repeatable).") var compare: [String] = []
    @Option(name: .long, help: "Output folder.") var out: String = "replay"
    @Option(name: .long, parsing: .unconditional, help: "Positions of the reference certified against MPFR.") var certifyTokens: Int = 64
    @Flag(name: .long, inversion: .prefixedNo, help: "Delta rule: L2-normalise q and k in the kernel (FLA's use_qk_l2norm_in_kernel).")
    var qkL2norm = true
    @Option(name: .long, parsing: .unconditional, help: "Lightning: layer index of MiniMax's slope schedule (when the inputs give no slope_rate).", transform: FlagValue.int(0...Int.max)) var layer: Int?
    @Option(name: .long, parsing: .unconditional, help: "Lightning: number of layers of the schedule (default 80, MiniMax-01).", transform: FlagValue.positive) var layers: Int?
    @Option(name: .long, parsing: .unconditional, help: "MoBA/NSA: tokens per block (default 64).", transform: FlagValue.positive) var blockSize: Int?
    @Option(name: .long, parsing: .unconditional, help: "MoBA/NSA: blocks selected (default 4); DSA: tokens selected.", transform: FlagValue.positive) var topK: Int?
    @Option(name: .long, parsing: .unconditional, help: "NSA: sliding-window tokens (default 64).", transform: FlagValue.positive) var window: Int?
    @Option(name: .long, help: "Kernel profile to emulate beside the recipes (repeatable; `attnprec profiles list`).") var kernel: [String] = []
    @Option(name: .long, help: "Form: recurrent (decode), or chunked (linear, gated-linear and delta-rule variants; chunks of 64, a partial last chunk).") var form: String = "recurrent"
    @Option(name: .long, help: "How the dump orders per-token tensors: thd [T,H,D] (optional batch 1), bthd [1,T,H,D], bhtd [1,H,T,D] (head-first).") var layout: String = "thd"
    @Option(name: .long, parsing: .unconditional, help: "FLA's scale argument (default K^-1/2).", transform: FlagValue.positiveDouble) var scale: Double?
    @Option(name: .long, parsing: .unconditional, help: "Threads (each run on one thread: the same bits for any count).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        guard (0...65536).contains(certifyTokens) else { throw InputError("--certify-tokens: expected 0...65536, got \(certifyTokens)") }
        var o = Replay.Options(variant: variant, preset: preset, inputs: inputs, recipes: recipe, compares: compare, out: out)
        o.certifyTokens = certifyTokens
        o.qkL2Norm = qkL2norm
        o.layer = layer
        o.layers = layers
        o.blockSize = blockSize
        o.topK = topK
        o.window = window
        o.kernels = kernel
        o.form = form
        o.scale = scale
        guard let l = TensorLayout(rawValue: layout) else { throw InputError("--layout: expected thd, bthd or bhtd, got '\(layout)'") }
        o.layout = l
        o.report = { r, dir in try ReplayReport.write(r, to: dir) }
        guard jobs >= 1 else { throw InputError("--jobs: expected ≥ 1, got \(jobs)") }
        o.jobs = jobs
        if !qkL2norm && !(VariantRegistry.definition(variant) is DeltaDefinition) {
            let delta = VariantRegistry.all.filter { $0 is DeltaDefinition }.map(\.name).joined(separator: ", ")
            throw InputError("--no-qk-l2norm: only the delta rule (\(delta)) normalises q and k")
        }
        try OutputLocation.check(out, kind: .folder, flag: "--out")
        let result: Replay.Result
        result = try Replay.run(o)
        print(ReplayReport.summary(result))
        print("wrote \(out)/errors.json, \(out)/report.md, \(out)/o_ref.npy")
    }
}
