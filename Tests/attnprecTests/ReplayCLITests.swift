import CLITestSupport
import Foundation
import Testing
@testable import Workloads

/// `attnprec replay` and `attnprec variants show` through the built binary.
@Suite struct ReplayCLITests {
    /// A GDN dump as FLA names it ([1, T, H, K] with the batch of 1), in one .safetensors file.
    static func gdnInputs(_ path: String, T: Int = 96, nanAt: Int? = nil, hv: Int = 4) throws {
        let H = 2, K = 8, V = 8
        func rows(_ stream: String, _ heads: Int, _ d: Int) -> [Double] {
            let g = InputGenerator(seed: 9, stream: stream, dimension: d)
            return (0..<T).flatMap { t in (0..<heads).flatMap { g.row(head: $0, position: t) } }
        }
        var v = rows("v", hv, V)
        if let i = nanAt { v[i] = .nan }
        let g = rows("g", hv, 1).map { -0.05 * Foundation.log1p(Foundation.exp($0)) }
        let beta = rows("beta", hv, 1).map { 1 / (1 + Foundation.exp(-$0)) }
        try SafeTensors.write(path: path, tensors: [
            TensorPayload(name: "q", dtype: .bfloat16, shape: [1, T, H, K], values: rows("q", H, K)),
            TensorPayload(name: "k", dtype: .bfloat16, shape: [1, T, H, K], values: rows("k", H, K)),
            TensorPayload(name: "v", dtype: .float32, shape: [1, T, hv, V], values: v),
            TensorPayload(name: "g", dtype: .float32, shape: [1, T, hv], values: g),
            TensorPayload(name: "beta", dtype: .float32, shape: [1, T, hv], values: beta),
        ])
    }

    @Test func replayWritesEveryFileAndJudgesACompare() throws {
        let dir = try CLI.tempDir()
        try Self.gdnInputs(dir + "/gdn.safetensors")
        let first = try CLI.run(["replay", "--variant", "gated_deltanet", dir + "/gdn.safetensors", "--out", dir + "/a"])
        #expect(first.code == 0, "\(first.err)")
        let r = try CLI.run([
            "replay", "--variant", "gated_deltanet", dir + "/gdn.safetensors", "--recipe", "state=bfloat16",
            "--recipe", "state=float16,q=bfloat16,k=bfloat16", "--compare", "mine=\(dir)/a/o_ref.npy", "--out", dir + "/b",
        ])
        #expect(r.code == 0, "\(r.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/b").sorted()
        #expect(files == [
            "errors.json", "o_ref.npy", "o_state-bfloat16.npy", "o_state-float16_q-bfloat16_k-bfloat16.npy", "plots", "positions.md", "report.md",
            "state_ref.npy", "state_state-bfloat16.npy", "state_state-float16_q-bfloat16_k-bfloat16.npy",
        ])
        #expect(try NPY.view(path: dir + "/b/o_ref.npy").shape == [96, 4, 8])
        #expect(try NPY.view(path: dir + "/b/state_ref.npy").shape == [4, 8, 8])
        #expect(r.out.contains("| mine | compare | 0 | 0 | 0 | – | – |"), "\(r.out)")
        #expect(r.out.contains("`mine` equals the reference at every position."))
        #expect(r.out.contains("| state-bfloat16 | recipe | "))
        #expect(r.out.contains("; pass."))
    }

    @Test func badInputExitsTwoWithOneLineAndWritesNothing() throws {
        let dir = try CLI.tempDir()
        try Self.gdnInputs(dir + "/nan.safetensors", nanAt: 77)
        try Self.gdnInputs(dir + "/hv.safetensors", hv: 3)
        try Self.gdnInputs(dir + "/ok.safetensors")
        let ok = dir + "/ok.safetensors"
        let cases: [([String], String)] = [
            // Kernel profiles, forms and layouts (issue 18).
            (["replay", "--variant", "gated_deltanet", ok, "--kernel", "nope"], "--kernel nope: kernel: unknown profile 'nope'; profiles: fa2-bf16"),
            (["replay", "--variant", "gated_deltanet", ok, "--kernel", "fa2-bf16"], "--kernel fa2-bf16: kernel: profile 'fa2-bf16' does not apply to gated_deltanet (recurrent form)"),
            (["replay", "--variant", "gated_deltanet", ok, "--form", "chunked", "--kernel", "fla-recurrent-bf16"], "profile 'fla-recurrent-bf16' does not apply to gated_deltanet (chunked form)"),
            (["replay", "--variant", "gated_deltanet", ok, "--recipe", "tri_inverse=bfloat16"], "recipe: role 'tri_inverse' does not exist for this variant"),
            (["replay", "--variant", "gated_deltanet", ok, "--form", "sideways"], "--form: gated_deltanet replays the recurrent or chunked form, not 'sideways'"),
            (["replay", "--variant", "gated_deltanet", ok, "--layout", "hdt"], "--layout: expected thd, bthd or bhtd, got 'hdt'"),
            (["replay", "--variant", "gated_deltanet", ok, "--scale", "0"], "expected a finite number > 0"),
            (["replay", "--variant", "gated_deltanet", dir + "/nan.safetensors"], "attnprec: \(dir)/nan.safetensors: tensor 'v': element 77 is nan; inputs must be finite"),
            (["replay", "--variant", "gated_deltanet", dir + "/hv.safetensors"], "tensor 'v': shape [1, 96, 3, 8] does not agree with 'q' [1, 96, 2, 8]: H = 2 must divide HV = 3"),
            (["replay", "--variant", "kda", dir + "/hv.safetensors"], "tensor 'g': shape [1, 96, 3] read as [T, HV, K] has T = 1, but 'q' has T = 96"),
            (["replay", "--variant", "rwkv7", dir + "/hv.safetensors"], "hv.safetensors: tensor 'r' missing; rwkv7 replay needs r [T, H, K]"),
            (["replay", "--variant", "lightning", dir + "/nan.safetensors"], "tensor 'v': shape [1, 96, 4, 8] does not agree with 'q' [1, 96, 2, 8]: lightning has one value head per key head"),
            (["replay", "--variant", "gated_deltanet", "--layer", "2", dir + "/nan.safetensors"], "--layer/--layers: only lightning's decay depends on the layer"),
            (["replay", "--variant", "mla", dir + "/hv.safetensors"], "hv.safetensors: tensor 'kv_cache' missing; mla replay needs kv_cache [T, L], pe_cache [T, R]"),
            (["replay", "--variant", "gated_deltanet", dir + "/absent.safetensors"], "absent.safetensors: no such file or folder"),
            (["replay", "--variant", "gated_deltanet", "--preset", "qwen3-next", dir + "/nan.safetensors"], "do not match preset 'qwen3-next'"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(args + ["--out", dir + "/out"])
            #expect(r.code == 2, "\(args)")
            #expect(r.err.contains(message), "expected '\(message)', got '\(r.err)'")
            #expect(r.err.split(separator: "\n").count == 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["hv.safetensors", "nan.safetensors", "ok.safetensors"])
    }

    /// `LABEL:role=SPEC` names the recipe's files and series by LABEL; the numbers are those of
    /// the unlabelled recipe, byte for byte.
    @Test func labelledRecipesNameTheirFiles() throws {
        let dir = try CLI.tempDir()
        try Self.gdnInputs(dir + "/gdn.safetensors", T: 24)
        let base = ["replay", "--variant", "gated_deltanet", dir + "/gdn.safetensors", "--certify-tokens", "4", "--jobs", "1"]
        let plain = try CLI.run(base + ["--recipe", "state=bfloat16", "--out", dir + "/a"])
        let labelled = try CLI.run(base + ["--recipe", "bf16:state=bfloat16", "--recipe", "s.2:state=float8_e5m2/per-channel/fixed:0.5", "--out", dir + "/b"])
        #expect(plain.code == 0 && labelled.code == 0, "\(labelled.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/b").sorted()
        #expect(files == ["errors.json", "o_bf16.npy", "o_ref.npy", "o_s.2.npy", "plots", "positions.md", "report.md", "state_bf16.npy", "state_ref.npy", "state_s.2.npy"])
        #expect(FileManager.default.contents(atPath: dir + "/a/o_state-bfloat16.npy") == FileManager.default.contents(atPath: dir + "/b/o_bf16.npy"))
        let errors = try String(contentsOfFile: dir + "/b/errors.json", encoding: .utf8)
        #expect(errors.contains("\"name\" : \"bf16\"") && errors.contains("\"file\" : \"o_bf16.npy\""))
        let cases: [([String], String)] = [
            (["--recipe", "ref:state=bfloat16"], "--recipe 'ref:state=bfloat16': label must be"),
            (["--recipe", "a b:state=bfloat16"], "label must be letters"),
            (["--recipe", "x:state=bfloat16", "--recipe", "x:state=float16"], "--recipe 'x:state=float16': empty or given twice"),
            (["--recipe", "x:state=bfloat16", "--compare", "x=\(dir)/a/o_ref.npy"], "--compare 'x': a --recipe has that name"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(base + args + ["--out", dir + "/c"])
            #expect(r.code == 2 && r.err.contains(message) && r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/c"))
    }

    @Test func variantsShowListsReplayTensors() throws {
        let s = try CLI.run(["variants", "show", "kda"])
        #expect(s.code == 0)
        #expect(s.out.contains("kda (delta family)") && s.out.contains("kimi-linear") && s.out.range(of: #"\| gk +\| \[T, HV, K\]"#, options: .regularExpression) != nil)
        let m = try CLI.run(["variants", "show", "mla"])
        #expect(m.code == 0 && m.out.contains("deepseek-v3") && m.out.range(of: #"\| wkv_b +\| \[H·\(N\+V\), L\]"#, options: .regularExpression) != nil, "\(m.out)")
        for (variant, tensor) in [("lightning", "slope_rate"), ("moba", "k"), ("nsa", "gates"), ("dsa", "indexer_weights"), ("rwkv7", "b")] {
            let r = try CLI.run(["variants", "show", variant])
            #expect(r.code == 0 && r.out.contains("| \(tensor) ") && !r.out.contains("not supported"), "\(variant): \(r.out)")
        }
        let bad = try CLI.run(["variants", "show", "nope"])
        #expect(bad.code == 2 && bad.err.hasPrefix("attnprec: unknown variant 'nope'"))
    }
}
