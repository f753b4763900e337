import AttentionVariants
import ExactArithmetic
import Foundation
import NumberFormats
import Workloads

/// `attnprec replay`: one variant on tensors from a `.safetensors` file or a folder of `.npy`
/// files — the exact reference (Float64, certified against MPFR on a prefix) and every recipe's
/// emulation, position by position, with each `--compare` output (a user's own kernel) judged
/// against the same reference (DESIGN.md §9).
public enum Replay {
    /// The variants replay supports, in registry order.
    public static var supported: [String] { VariantRegistry.all.filter { $0.replayTensors != nil }.map(\.name) }

    /// What `variant` expects, for `variants show` and error messages.
    public static func tensors(_ variant: String) -> [ReplayTensorSpec]? { VariantRegistry.definition(variant)?.replayTensors }

    public struct Options: Sendable {
        public var variant: String
        public var preset: String?
        public var inputs: String
        public var recipes: [String]
        public var compares: [String]
        public var out: String
        public var certifyTokens = 64
        public var bits = 128
        /// Delta rule: L2-normalise q and k in the kernel (FLA's use_qk_l2norm_in_kernel=True, as
        /// its layers call it); false when the dumped q and k are already normalised.
        public var qkL2Norm = true
        /// Lightning: the layer index and count of MiniMax's slope schedule (when no `slope_rate` is given).
        public var layer: Int?
        public var layers: Int?
        /// MoBA/NSA: tokens per block, blocks selected, NSA's window (nil: 64, 4, 64).
        public var blockSize: Int?
        public var topK: Int?
        public var window: Int?
        /// `--form`: the form replayed (`chunked` for linear, gated-linear and delta-rule variants).
        public var form = "recurrent"
        /// `--scale`: FLA's `scale` argument (nil: the kernel's default K^−1/2).
        public var scale: Double?
        /// `--kernel`: kernel profiles replayed beside the recipes (each one more emulation).
        public var kernels: [String] = []
        /// `--layout`: how the dump orders its per-token tensors.
        public var layout = TensorLayout.thd
        /// Threads stepping the runs (each run on one thread, in order: the same bits for any count).
        public var jobs = 1
        /// Writes the report of a result into a folder (the scratch folder that becomes `out`):
        /// the CLI passes DriftReports' `ReplayReport`; nil writes no report.
        public var report: (@Sendable (Result, String) throws -> Void)?
        /// Positions per block (nil: as many as fit 8 MB per series); tests set small blocks.
        var blockPositions: Int?

        public init(variant: String, preset: String? = nil, inputs: String, recipes: [String] = [], compares: [String] = [], out: String) {
            self.variant = variant
            self.preset = preset
            self.inputs = inputs
            self.recipes = recipes
            self.compares = compares
            self.out = out
        }
    }

    /// One row of errors.json: a recipe's emulation or a compared output.
    public struct Series: Codable, Sendable {
        public var name: String
        public var kind: String
        public var recipe: [String: String]?
        public var file: String
        public var outputRelErr: [Double]
        public var maxOutputRelErr: Double
        public var meanOutputRelErr: Double
        public var finalStateRelErr: Double?
        /// The first position whose output was not finite, and how many were not (absent when all were).
        public var firstNonFinite: Int?
        public var nonFinitePositions: Int?

        enum CodingKeys: String, CodingKey {
            case name, kind, recipe, file
            case firstNonFinite = "first_non_finite", nonFinitePositions = "non_finite_positions"
            case outputRelErr = "output_rel_err"
            case maxOutputRelErr = "max_output_rel_err"
            case meanOutputRelErr = "mean_output_rel_err"
            case finalStateRelErr = "final_state_rel_err"
        }
    }

    public struct Result: Codable, Sendable {
        public var variant: String
        public var preset: String?
        public var inputs: String
        public var tokens: Int
        public var outputShape: [Int]
        public var stateShape: [Int]?
        public var reference: StudyRecord.ReferenceInfo
        public var series: [Series]

        enum CodingKeys: String, CodingKey {
            case variant, preset, inputs, tokens, reference, series
            case outputShape = "output_shape"
            case stateShape = "state_shape"
        }
    }

    /// A file-name-safe form of a recipe: `state=bfloat16,q=bfloat16` → `state-bfloat16_q-bfloat16`.
    public static func fileName(_ recipe: String) -> String {
        String(recipe.map { c -> Character in
            if c == "=" { return "-" }
            if c == "," { return "_" }
            return c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." ? c : "~"
        })
    }

    /// Runs the replay and writes o_ref.npy, o_<recipe>.npy, state_*.npy, errors.json and the
    /// report (`o.report`) into `o.out` — all or nothing.
    @discardableResult
    public static func run(_ o: Options) throws -> Result {
        let file: TensorFile
        do { file = try TensorFile.open(o.inputs) } catch let e as TensorFileError { throw fail(e.message) }
        let plan = try plan(o, file: file)
        for t in plan.inputs.sorted(by: { $0.name < $1.name }) {
            if let bad = t.firstNonFinite() {
                throw fail("\(t.file): tensor '\(t.name)': element \(bad) is \(t.element(bad)); inputs must be finite")
            }
        }
        try checkForm(o, plan)
        for k in o.kernels {
            do {
                let profile = try KernelProfile.named(k)
                if let family = VariantRegistry.definition(o.variant)?.family { try profile.check(variant: o.variant, family: family, form: o.form) }
                _ = try profile.recipe(allowed: plan.roles)
            } catch { throw fail("--kernel \(k): \(error)") }
        }
        let recipes = try parseRecipes(o.recipes + o.kernels.map { "\($0):kernel=\($0)" }, roles: plan.roles, variant: o.variant, form: o.form)
        let compares = try openCompares(o.compares, outputShape: plan.outputShape)
        if let c = compares.first(where: { c in recipes.contains { $0.name == c.label } }) {
            throw fail("--compare '\(c.label)': a --recipe has that name; labels must be unique")
        }
        let reference: [SteppedRun], emulated: [[SteppedRun]]
        do {
            reference = try plan.make(.float64, Recipe())
            emulated = try recipes.map { try plan.make(.float32, $0.recipe) }
        } catch let e as VariantError { throw fail("\(o.inputs): \(e.description)") }
        let scratch = try ReplayScratch(out: o.out)
        let errors = try stepAndWrite(reference, emulated, recipes: recipes, compares: compares, plan: plan, options: o, into: scratch)
        let stateErrors = try writeStates(reference, emulated, recipes: recipes, shape: plan.stateShape, into: scratch)
        let info = try certify(o, plan)
        let result = Result(variant: o.variant, preset: o.preset, inputs: o.inputs, tokens: plan.tokens, outputShape: plan.outputShape,
                            stateShape: plan.stateShape, reference: info,
                            series: series(recipes, compares, errors: errors, stateErrors: stateErrors))
        try wrap {
            try NPY.writeAtomically(try StudyJSON.encoder(pretty: true).encode(result), to: scratch.file("errors.json"))
            try o.report?(result, scratch.path)
        }
        try scratch.moveIntoPlace()
        return result
    }

    /// A recipe given on the command line: its file-name form, its text, the recipe.
    typealias NamedRecipe = (name: String, text: String, recipe: Recipe)
    /// A `--compare` output: its label and the file.
    typealias Compared = (label: String, view: TensorView, rowOffset: Int)

    /// A recipe's optional label: `LABEL:role=SPEC,…` → (LABEL, `role=SPEC,…`); a text whose
    /// first `:` comes after an `=` or `,` (a spec such as `fixed:0.5`) has none.
    static func splitLabel(_ text: String) -> (label: String?, body: String) {
        guard let colon = text.firstIndex(of: ":"), !text[..<colon].contains(where: { $0 == "=" || $0 == "," }) else { return (nil, text) }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The `--recipe` texts parsed against the variant's roles, with unique file names: the
    /// label when one is given (`o_LABEL.npy`), else the recipe's file-name form.
    static func parseRecipes(_ texts: [String], roles: [Role], variant: String, form: String) throws -> [NamedRecipe] {
        var recipes: [NamedRecipe] = []
        let family = VariantRegistry.definition(variant)?.family
        for text in texts {
            let (label, body) = splitLabel(text)
            if let label, label.isEmpty || fileName(label) != label || label == "ref" {
                throw fail("--recipe '\(text)': label must be letters, digits, '-', '_' or '.', and not 'ref'")
            }
            let r: Recipe
            do {
                r = try Recipe.parse(body, allowed: roles)
                if let k = r.kernel, let family { try KernelProfile.named(k).check(variant: variant, family: family, form: form) }
            } catch { throw fail("--recipe '\(text)': \(error)") }
            let name = label ?? fileName(body)
            guard !name.isEmpty, !recipes.contains(where: { $0.name == name }) else { throw fail("--recipe '\(text)': empty or given twice") }
            recipes.append((name, body, r.fast))
        }
        return recipes
    }

    /// The `--compare LABEL=FILE.npy` outputs, each of the output's shape.
    static func openCompares(_ texts: [String], outputShape: [Int]) throws -> [Compared] {
        var compares: [Compared] = []
        for text in texts {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw fail("--compare '\(text)': expected LABEL=FILE.npy")
            }
            let label = String(text[..<eq]), path = String(text[text.index(after: eq)...])
            guard fileName(label) == label, label != "ref", !compares.contains(where: { $0.label == label }) else {
                throw fail("--compare '\(text)': label must be letters, digits, '-', '_' or '.', not 'ref', and unique")
            }
            let view: TensorView
            do { view = try NPY.view(path: path) } catch let e as TensorFileError { throw fail(e.message) }
            var s = view.shape
            if s.count == outputShape.count + 1 && s.first == 1 { s.removeFirst() }
            guard s == outputShape else {
                throw fail("\(path): tensor '\(view.name)': shape \(view.shapeText); expected the output shape \(outputShape)")
            }
            compares.append((label, view, 0))
        }
        return compares
    }

    /// Tensor-file errors as bad input.
    static func wrap<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as TensorFileError { throw fail(e.message) }
    }

    /// Steps every run, streaming o_ref.npy and each recipe's o_<recipe>.npy into `scratch`;
    /// memory is bounded by the block, not by T. Returns each series' error per position.
    static func stepAndWrite(
        _ reference: [SteppedRun], _ emulated: [[SteppedRun]], recipes: [NamedRecipe], compares: [Compared], plan: ReplayPlan,
        options o: Options, into scratch: ReplayScratch
    ) throws -> [[Double]] {
        let T = plan.tokens
        let rowWidth = plan.outputShape.dropFirst().reduce(1, *)
        let refWriter = try wrap { try NPYStreamWriter(path: scratch.file("o_ref.npy"), shape: plan.outputShape, dtype: .float64) }
        let writers = try recipes.map { r in try wrap { try NPYStreamWriter(path: scratch.file("o_\(r.name).npy"), shape: plan.outputShape, dtype: .float32) } }
        let block = max(1, min(T, o.blockPositions ?? (1 << 20) / max(rowWidth, 1)))
        let errors = try wrap {
            try stepAndMeasure([reference] + emulated, compares: compares.map(\.view), rowWidth: rowWidth, tokens: T, block: block,
                               jobs: o.jobs, writers: [refWriter] + writers)
        }
        try wrap {
            try refWriter.finish()
            for w in writers { try w.finish() }
        }
        return errors
    }

    /// Writes state_ref.npy and each recipe's final state; returns each recipe's relative state
    /// error (nil for all when the variant keeps a cache).
    static func writeStates(
        _ reference: [SteppedRun], _ emulated: [[SteppedRun]], recipes: [NamedRecipe], shape: [Int]?, into scratch: ReplayScratch
    ) throws -> [Double?] {
        var stateErrors = [Double?](repeating: nil, count: recipes.count)
        guard let shape else { return stateErrors }
        let meter = ErrorMeter()
        let per = reference[0].stateCount
        func states(_ runs: [SteppedRun]) -> [Double] {
            var s = [Double](repeating: 0, count: per * runs.count)
            s.withUnsafeMutableBufferPointer { b in
                for (h, r) in runs.enumerated() { r.readState(into: UnsafeMutableBufferPointer(rebasing: b[h * per..<(h + 1) * per])) }
            }
            return s
        }
        func write(_ s: [Double], _ name: String, _ dtype: TensorDType) throws {
            try wrap {
                let w = try NPYStreamWriter(path: scratch.file("state_\(name).npy"), shape: shape, dtype: dtype)
                try w.append(s)
                try w.finish()
            }
        }
        let ref = states(reference)
        try write(ref, "ref", .float64)
        for (i, runs) in emulated.enumerated() {
            let s = states(runs)
            try write(s, recipes[i].name, .float32)
            let d = ref.withUnsafeBufferPointer { a in s.withUnsafeBufferPointer { b in meter.distance(reference: a, b) } }
            stateErrors[i] = d.nonFinite > 0 ? .nan : d.relative
        }
        return stateErrors
    }

    /// The reference certified against MPFR on a prefix (head 0).
    static func certify(_ o: Options, _ plan: ReplayPlan) throws -> StudyRecord.ReferenceInfo {
        let n = min(plan.tokens, o.certifyTokens)
        var info = StudyRecord.ReferenceInfo(tier: BackendTier.float64.description, certifiedTokens: n, bits: o.bits)
        guard n > 0 else { return info }
        let c = try ReferenceCertification.certify(
            variant: o.variant, form: o.form, tokens: n, bits: o.bits, fastTier: .float64, doublePrecisionTokens: min(n, 32)
        ) { tier in try plan.make(tier, Recipe())[0] }
        info.fastVsMPFROutput = c.fastVsMPFR.outputMaxRel
        info.fastVsMPFRState = c.fastVsMPFR.stateMaxRel
        info.mpfrPVs2POutput = c.mpfrPVs2P.outputMaxRel
        info.mpfrPVs2PState = c.mpfrPVs2P.stateMaxRel
        info.pass = c.pass
        return info
    }

    /// errors.json's rows: each recipe's emulation, then each compared output.
    static func series(_ recipes: [NamedRecipe], _ compares: [Compared], errors: [[Double]], stateErrors: [Double?]) -> [Series] {
        func summary(_ e: [Double]) -> (Double, Double) {
            if e.contains(where: { $0.isNaN }) { return (.nan, .nan) }
            return (e.max() ?? 0, e.isEmpty ? 0 : e.reduce(0, +) / Double(e.count))
        }
        var series: [Series] = []
        for (i, r) in recipes.enumerated() {
            let (mx, mean) = summary(errors[i])
            series.append(Series(name: r.name, kind: "recipe", recipe: RecipeResolver.canonical(r.recipe), file: "o_\(r.name).npy",
                                 outputRelErr: errors[i], maxOutputRelErr: mx, meanOutputRelErr: mean, finalStateRelErr: stateErrors[i]))
        }
        for (j, c) in compares.enumerated() {
            let e = errors[recipes.count + j]
            let (mx, mean) = summary(e)
            series.append(Series(name: c.label, kind: "compare", recipe: nil, file: c.view.file, outputRelErr: e,
                                 maxOutputRelErr: mx, meanOutputRelErr: mean, finalStateRelErr: nil))
        }
        for i in series.indices {
            let bad = series[i].outputRelErr.indices.filter { series[i].outputRelErr[$0].isNaN }
            if let first = bad.first {
                series[i].firstNonFinite = first
                series[i].nonFinitePositions = bad.count
            }
        }
        return series
    }

    /// Steps the reference (series 0) and every recipe's runs in lockstep, blocks of `block`
    /// positions on `jobs` threads, each series' heads side by side; streams each series' output
    /// rows to its writer and returns each recipe's, then each compared file's, error per
    /// position (NaN where anything is not finite).
    static func stepAndMeasure(
        _ series: [[SteppedRun]], compares: [TensorView], rowWidth: Int, tokens T: Int, block: Int, jobs: Int,
        writers: [NPYStreamWriter]
    ) throws -> [[Double]] {
        let meter = ErrorMeter()
        var apxRow = [Double](repeating: 0, count: rowWidth)
        var errors = [[Double]](repeating: [], count: series.count - 1 + compares.count)
        for i in errors.indices { errors[i].reserveCapacity(T) }
        func distance(_ ref: UnsafeBufferPointer<Double>, _ apx: UnsafeBufferPointer<Double>) -> Double {
            let d = meter.distance(reference: ref, apx)
            return d.nonFinite > 0 ? .nan : d.relative
        }
        var runs: [BlockRun] = [], groups: [[Int]] = []
        for heads in series {
            groups.append(Array(runs.count..<runs.count + heads.count))
            runs += heads.map { SteppedBlockRun($0) as BlockRun }
        }
        let engine = LockstepEngine(runs: runs, groups: groups, maxBlock: block, threads: jobs)
        try engine.run(tokens: T, endsAt: { _ in false }, measure: { start, n in
            for i in 0..<n {
                let ref = engine.row(0, i)
                try writers[0].append(ref)
                for r in series.indices.dropFirst() {
                    let apx = engine.row(r, i)
                    try writers[r].append(apx)
                    errors[r - 1].append(distance(ref, apx))
                }
                for (j, c) in compares.enumerated() {
                    apxRow.withUnsafeMutableBufferPointer { c.fill($0, from: (start + i) * rowWidth) }
                    errors[series.count - 1 + j].append(apxRow.withUnsafeBufferPointer { distance(ref, $0) })
                }
            }
        })
        return errors
    }
}
