#!/usr/bin/env python3
"""Writes the bad-input corpus (issue 16): Tests/attnprecTests/BadInputs/corpus.jsonl.

Each case is a command line, the files it reads (text, or bytes in base64) and what the tool
must do: the exit code (2 for bad input) and a fragment of its one-line message. The test suite
(BadInputTests) runs every case with the built binary in a fresh folder and checks the exit
code, the fragment, that stderr is one line, and that nothing was written.

The cases are written here, by hand and by systematic mutation of small valid inputs; the
expected fragments are what the binary printed when the case was added (`--record BIN` runs
each case and stores the message with the case's folder removed), reviewed before committing.
No Python is needed to run the tests.

    scripts/make-bad-inputs.py --record .build/release/attnprec   # (re)record every message
    scripts/make-bad-inputs.py --show BIN                          # print case, exit, message
"""
import base64, json, os, struct, subprocess, sys, tempfile

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "attnprecTests", "BadInputs", "corpus.jsonl")

def j(obj):
    """JSON text: JSON is YAML, so a config written as JSON is a YAML config."""
    return json.dumps(obj)

STUDY = {"name": "s", "tokens": [64], "seeds": [0], "inputs": "bfloat16",
         "reference": {"tier": "float64", "certify_tokens": 8, "bits": 128, "double_precision_tokens": 4},
         "sampling": {"per_octave": 4}, "variants": ["linear"], "recipes": [{"name": "bf16", "store": "bfloat16"}],
         "workloads": ["gaussian"]}
BUDGETS = {"inputs": "bfloat16", "budgets": [{"name": "b", "variant": "linear", "recipe": {"state": "bfloat16"},
           "tokens": 64, "max_output_rel_err": 0.1}]}
SCENARIO = {"scenario": "handoff", "name": "h", "seeds": [0], "tokens": [64], "continuation": 64,
            "variants": [{"name": "gated_deltanet", "key_dim": 16, "value_dim": 16}],
            "recipes": [{"name": "bf16", "roles": "state=bfloat16"}]}

def with_(base, path, value):
    """A deep copy of `base` with the key path set to `value` (None removes the key)."""
    obj = json.loads(json.dumps(base))
    node = obj
    for k in path[:-1]:
        node = node[k]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return obj

def npy(descr="<f4", shape=(2, 4), fortran=False, payload=None, header=None, version=(1, 0)):
    """An .npy file; `header` replaces the dict text."""
    d = header if header is not None else "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")")
    fixed = 10 if version[0] == 1 else 12
    d += " " * ((64 - (fixed + len(d) + 1) % 64) % 64) + "\n"
    b = d.encode("latin1")
    out = b"\x93NUMPY" + bytes(version) + (struct.pack("<H", len(b)) if version[0] == 1 else struct.pack("<I", len(b))) + b
    if payload is None:
        n = 1
        for s in shape:
            n *= s
        payload = b"\0" * (n * 4)
    return out + payload

def safetensors(header, data=b""):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data

def cases():
    c = []
    def add(id, args, files=None, binary=None, exit=2):
        c.append({"id": id, "args": args, "files": files or {}, "binary": {k: base64.b64encode(v).decode() for k, v in (binary or {}).items()}, "exit": exit})
    # --- study configs: `run c.yaml --out out`
    run = ["run", "c.yaml", "--out", "out"]
    study_mutations = [
        ("name-list", ["name"], [1]), ("title-map", ["title"], {"a": 1}), ("tokens-string", ["tokens"], "many"),
        ("tokens-empty", ["tokens"], []), ("tokens-zero", ["tokens"], [0]), ("tokens-huge", ["tokens"], [1 << 40]),
        ("tokens-float", ["tokens"], [64.5]), ("tokens-negative", ["tokens"], [-64]), ("seeds-negative", ["seeds"], [-1]),
        ("seeds-string", ["seeds"], "zero"), ("seeds-empty", ["seeds"], []), ("inputs-unknown", ["inputs"], "bfloat17"),
        ("inputs-list", ["inputs"], ["bfloat16"]), ("reference-number", ["reference"], 3),
        ("reference-tier", ["reference", "tier"], "float128"), ("reference-bits-low", ["reference", "bits"], 1),
        ("reference-bits-string", ["reference", "bits"], "many"), ("reference-unknown-key", ["reference", "speed"], 1),
        ("reference-certify-negative", ["reference", "certify_tokens"], -1),
        ("sampling-number", ["sampling"], 4), ("sampling-zero", ["sampling", "per_octave"], 0),
        ("sampling-unknown", ["sampling", "every"], 2), ("variants-empty", ["variants"], []),
        ("variants-unknown", ["variants"], ["nope"]), ("variants-number", ["variants"], [3]),
        ("variants-form", ["variants"], [{"name": "linear", "form": "bogus"}]),
        ("variants-key-dim-zero", ["variants"], [{"name": "linear", "key_dim": 0}]),
        ("variants-key-dim-huge", ["variants"], [{"name": "linear", "key_dim": 1 << 20}]),
        ("variants-unknown-key", ["variants"], [{"name": "linear", "speed": 1}]),
        ("variants-preset-unknown", ["variants"], [{"name": "gated_deltanet", "preset": "gpt-9"}]),
        ("variants-preset-wrong-variant", ["variants"], [{"name": "mha", "preset": "qwen3-next"}]),
        ("variants-decay-high", ["variants"], [{"name": "linear", "decay": 1.5}]),
        ("variants-decay-nan", ["variants"], [{"name": "linear", "decay": ".nan"}]),
        ("variants-head-negative", ["variants"], [{"name": "gated_deltanet", "preset": "qwen3-next", "head": -1}]),
        ("variants-head-too-big", ["variants"], [{"name": "gated_deltanet", "preset": "qwen3-next", "head": 999}]),
        ("variants-no-name", ["variants"], [{"key_dim": 16}]), ("variants-tokens-zero", ["variants"], [{"name": "linear", "tokens": [0]}]),
        ("variants-head-dim-odd", ["variants"], [{"name": "mha", "head_dim": 0}]),
        ("recipes-empty", ["recipes"], []), ("recipes-no-name", ["recipes"], [{"store": "bfloat16"}]),
        ("recipes-bad-store", ["recipes"], [{"name": "x", "store": "bfloat17"}]),
        ("recipes-bad-roles", ["recipes"], [{"name": "x", "roles": "state=bfloat17"}]),
        ("recipes-unknown-role", ["recipes"], [{"name": "x", "roles": "stat=bfloat16"}]),
        ("recipes-both", ["recipes"], [{"name": "x", "store": "bfloat16", "roles": "state=bfloat16"}]),
        ("recipes-neither", ["recipes"], [{"name": "x"}]), ("recipes-unknown-key", ["recipes"], [{"name": "x", "store": "bfloat16", "speed": 1}]),
        ("recipes-duplicate-name", ["recipes"], [{"name": "x", "store": "bfloat16"}, {"name": "x", "store": "float16"}]),
        ("recipes-variants-unknown", ["recipes"], [{"name": "x", "store": "bfloat16", "variants": ["nope"]}]),
        ("recipes-role-variant-lacks", ["recipes"], [{"name": "x", "roles": "k_cache=bfloat16"}]),
        ("recipes-granularity-bad", ["recipes"], [{"name": "x", "store": "float8_e4m3fn/per-galaxy"}]),
        ("workloads-unknown", ["workloads"], ["brownian"]), ("workloads-number", ["workloads"], [1]),
        ("workloads-param-bad", ["workloads"], [{"name": "o", "input": "sparse_outliers", "probability": 2}]),
        ("workloads-param-unknown", ["workloads"], [{"name": "o", "input": "sparse_outliers", "speed": 2}]),
        ("exclude-number", ["exclude"], 1), ("exclude-unknown-key", ["exclude"], [{"colour": "red"}]),
        ("unknown-top-key", ["colour"], "red"), ("top-is-list", None, [1, 2]), ("top-is-scalar", None, "hello"),
    ]
    for id, path, value in study_mutations:
        doc = value if path is None else with_(STUDY, path, value)
        add("study-" + id, run, {"c.yaml": j(doc)})
    for id, text in [
        ("yaml-unclosed", "variants: [linear\nrecipes: [bf16]\n"), ("yaml-tab-indent", "variants:\n\t- linear\n"),
        ("yaml-empty", ""), ("yaml-comment-only", "# nothing\n"), ("yaml-bad-indent", "variants:\n  - linear\n - mha\n"),
        ("yaml-undefined-alias", "variants: *nope\n"), ("yaml-duplicate-key", "tokens: [64]\ntokens: [128]\nvariants: [linear]\nrecipes: [{name: a, store: bfloat16}]\n"),
        ("yaml-python-tag", j(STUDY)[:-1] + ', "x": !!python/object:os.system "ls"}'),
        ("yaml-deep-flow", "variants: " + "[" * 5000 + "]" * 5000 + "\n"), ("yaml-deep-block", "- " * 5000 + "x\n"),
        ("yaml-control-char", "variants: [lin\x1bear]\nrecipes: [{name: a, store: bfloat16}]\n"),
        ("yaml-newline-in-name", j(with_(STUDY, ["variants"], ["lin\near"]))),
    ]:
        add("study-" + id, run, {"c.yaml": text})
    add("study-not-utf8", run, binary={"c.yaml": b"variants: [\xff\xfe]\n"})
    add("study-missing-file", ["run", "missing.yaml", "--out", "out"])
    add("study-directory", ["run", "d", "--out", "out"], {"d/x.txt": "x"})
    # --- budgets: `validate b.yaml`
    val = ["validate", "b.yaml"]
    budget_mutations = [
        ("budgets-missing", ["budgets"], None), ("budgets-empty", ["budgets"], []), ("budgets-map", ["budgets"], {"a": 1}),
        ("unknown-top", ["colour"], 1), ("inputs-unknown", ["inputs"], "nope"),
        ("name-missing", ["budgets", 0, "name"], None), ("variant-missing", ["budgets", 0, "variant"], None),
        ("variant-unknown", ["budgets", 0, "variant"], "nope"), ("recipe-missing", ["budgets", 0, "recipe"], None),
        ("recipe-bad-role", ["budgets", 0, "recipe"], {"stat": "bfloat16"}), ("recipe-bad-spec", ["budgets", 0, "recipe"], {"state": "bf17"}),
        ("recipe-role-lacking", ["budgets", 0, "recipe"], {"k_cache": "bfloat16"}), ("recipe-number", ["budgets", 0, "recipe"], 3),
        ("tokens-zero", ["budgets", 0, "tokens"], 0), ("tokens-string", ["budgets", 0, "tokens"], "long"),
        ("tokens-huge", ["budgets", 0, "tokens"], 1 << 40), ("no-limit", ["budgets", 0, "max_output_rel_err"], None),
        ("limit-negative", ["budgets", 0, "max_output_rel_err"], -0.1), ("limit-string", ["budgets", 0, "max_output_rel_err"], "small"),
        ("limit-nan", ["budgets", 0, "max_output_rel_err"], ".nan"), ("limit-inf", ["budgets", 0, "max_output_rel_err"], ".inf"),
        ("state-limit-stateless", ["budgets", 0, "variant"], "mha"), ("slope-negative", ["budgets", 0, "max_slope"], -1),
        ("unknown-key", ["budgets", 0, "colour"], "red"), ("seeds-empty", ["budgets", 0, "seeds"], []),
        ("seeds-negative", ["budgets", 0, "seeds"], [-3]), ("preset-unknown", ["budgets", 0, "preset"], "gpt-9"),
        ("workload-unknown", ["budgets", 0, "workload"], {"inputs": "brownian"}),
        ("workload-param", ["budgets", 0, "workload"], {"inputs": "sparse_outliers", "probability": -1}),
        ("workload-unknown-key", ["budgets", 0, "workload"], {"inputs": "gaussian", "colour": 1}),
        ("reference-bits", ["reference"], {"bits": 2}), ("sampling-zero", ["sampling"], {"per_octave": 0}),
        ("form-bogus", ["budgets", 0, "form"], "bogus"),
    ]
    for id, path, value in budget_mutations:
        add("budgets-" + id, val, {"b.yaml": j(with_(BUDGETS, path, value))})
    b2 = json.loads(json.dumps(BUDGETS)); b2["budgets"].append(dict(b2["budgets"][0]))
    add("budgets-duplicate-name", val, {"b.yaml": j(b2)})
    add("budgets-state-limit-on-mha", val, {"b.yaml": j(with_(with_(BUDGETS, ["budgets", 0, "variant"], "mha"), ["budgets", 0, "max_state_rel_err"], 0.1))})
    add("budgets-missing-file", ["validate", "missing.yaml"])
    add("budgets-yaml-unclosed", val, {"b.yaml": "budgets: [{name: a\n"})
    add("budgets-junit-in-missing-dir", ["validate", "b.yaml", "--junit", "no/such/dir/j.xml"], {"b.yaml": j(BUDGETS), "no": "a file, not a folder"})
    # --- scenario configs: `run s.yaml --out out`
    scen_mutations = [
        ("kind-unknown", ["scenario"], "teleport"), ("kind-number", ["scenario"], 3), ("tokens-zero", ["tokens"], [0]),
        ("continuation-zero", ["continuation"], 0), ("continuation-string", ["continuation"], "long"),
        ("variants-empty", ["variants"], []), ("variants-unknown", ["variants"], ["nope"]),
        ("variants-unsupported", ["variants"], ["mha"]), ("recipes-bad", ["recipes"], [{"name": "x", "roles": "state=bf17"}]),
        ("recipes-empty", ["recipes"], []), ("unknown-key", ["colour"], "red"), ("seeds-negative", ["seeds"], [-1]),
        ("kind-key-of-other", ["drafts"], 3),
    ]
    for id, path, value in scen_mutations:
        add("scenario-" + id, ["run", "s.yaml", "--out", "out"], {"s.yaml": j(with_(SCENARIO, path, value))})
    # --- format specs
    for id, spec in [("unknown", "bfloat17"), ("empty", ""), ("e11m52", "e11m52"), ("e9m20", "e9m20"), ("e1m1", "e1m1"),
                     ("granularity", "float8_e4m3fn/per-galaxy"), ("block-zero", "float8_e4m3fn/block:0"),
                     ("stochastic-zero", "bfloat16/stochastic:0"), ("stochastic-huge", "bfloat16/stochastic:99"),
                     ("fixed-negative", "float8_e4m3fn/per-token/fixed:-1"), ("fixed-nan", "float8_e4m3fn/per-token/fixed:nan"),
                     ("int-bits", "int1"), ("int-bits-huge", "int99"), ("mx-block", "mxfp8/block:7"), ("trailing-slash", "bfloat16/"),
                     ("double-part", "bfloat16/stochastic/stochastic"), ("control", "bfloat16/\x1b[31m"), ("spaces", "bfloat 16")]:
        add("spec-" + id, ["formats", "show", spec])
    # --- recipes on the command line (replay) and .npy / .safetensors inputs
    good = npy(shape=(2, 4))
    for id, data in [
        ("not-npy", b"hello world, not numpy at all"), ("truncated-header", good[:20]), ("short-payload", good[:-4]),
        ("long-payload", good + b"\0\0\0\0"), ("version", good[:6] + bytes([9, 0]) + good[8:]),
        ("minor-version", good[:6] + bytes([1, 5]) + good[8:]), ("complex", npy(descr="<c8", payload=b"\0" * 64)),
        ("object", npy(descr="|O", payload=b"\0" * 64)), ("byte-order", npy(descr="Qf4")),
        ("junk-after-dict", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), } junk")),
        ("duplicate-shape", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), 'shape': (2, 4), }")),
        ("stray-comma", npy(header="{'descr': '<f4',, 'fortran_order': False, 'shape': (2, 4), }")),
        ("missing-key", npy(header="{'descr': '<f4', 'shape': (2, 4), }")),
        ("extra-key", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'x': 1, }")),
        ("negative-shape", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 4), }")),
        ("bool-shape", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (True, 8), }", payload=b"\0" * 32)),
        ("overflow-shape", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")),
        ("nan-input", npy(shape=(2, 4), payload=struct.pack("<8f", 1, 2, float("nan"), 4, 5, 6, 7, 8))),
    ]:
        add("npy-" + id, ["formats", "quantize", "--format", "bfloat16", "in.npy", "out.npy"], binary={"in.npy": data}, exit=2)
    add("npy-missing", ["formats", "quantize", "--format", "bfloat16", "missing.npy", "out.npy"])
    add("npy-directory", ["formats", "quantize", "--format", "bfloat16", "d", "out.npy"], {"d/x.txt": "x"})
    add("npy-out-in-missing-dir", ["formats", "quantize", "--format", "bfloat16", "in.npy", "no/such/out.npy"], binary={"in.npy": good})
    T, H, K = 8, 1, 4
    def f32(n): return b"\0\0\x80\x3f" * n
    qkv = {"q": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [0, T * H * K * 4]},
           "k": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [T * H * K * 4, 2 * T * H * K * 4]},
           "v": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [2 * T * H * K * 4, 3 * T * H * K * 4]}}
    data = f32(3 * T * H * K)
    def st(id, header, d=data, args=None):
        add("safetensors-" + id, args or ["replay", "t.safetensors", "--variant", "linear", "--recipe", "state=bfloat16", "--out", "out"], binary={"t.safetensors": safetensors(header, d)})
    st("overlap", dict(qkv, v={"dtype": "F32", "shape": [T, H, K], "data_offsets": [0, T * H * K * 4]}))
    st("gap", dict(qkv, v={"dtype": "F32", "shape": [T, H, K], "data_offsets": [2 * T * H * K * 4 + 4, 3 * T * H * K * 4 + 4]}), data + b"\0" * 4)
    st("trailing-bytes", qkv, data + b"\0" * 8)
    st("short-data", qkv, data[:-4])
    st("bad-dtype", dict(qkv, q=dict(qkv["q"], dtype="F128")))
    st("shape-size-mismatch", dict(qkv, q=dict(qkv["q"], shape=[T, H, K + 1])))
    st("offsets-reversed", dict(qkv, q=dict(qkv["q"], data_offsets=[T * H * K * 4, 0])))
    st("missing-tensor", {k: v for k, v in qkv.items() if k != "v"})
    st("not-json", b"{not json at all}" + b" " * 7)
    st("header-too-long", b"{}", b"")
    add("safetensors-header-beyond-file", ["replay", "t.safetensors", "--variant", "linear", "--out", "out"], binary={"t.safetensors": struct.pack("<Q", 1 << 40) + b"{}"})
    st("metadata-number", dict(qkv, __metadata__=3))
    st("nan-input", qkv, struct.pack("<f", float("nan")) + data[4:])
    # --- flags
    for id, args in [
        ("run-jobs-zero", ["run", "c.yaml", "--jobs", "0"]), ("run-jobs-negative", ["run", "c.yaml", "--jobs", "-1"]),
        ("run-jobs-word", ["run", "c.yaml", "--jobs", "many"]), ("run-shard-bad", ["run", "c.yaml", "--shard", "3/2"]),
        ("run-shard-negative", ["run", "c.yaml", "--shard", "-1/2"]), ("run-shard-zero-count", ["run", "c.yaml", "--shard", "0/0"]),
        ("run-shard-word", ["run", "c.yaml", "--shard", "half"]), ("validate-jobs-negative", ["validate", "b.yaml", "--jobs", "-2"]),
        ("replay-no-variant", ["replay", "t.safetensors"]), ("replay-variant-unknown", ["replay", "t.safetensors", "--variant", "nope"]),
        ("replay-recipe-bad", ["replay", "t.safetensors", "--variant", "linear", "--recipe", "state=bf17"]),
        ("replay-compare-no-label", ["replay", "t.safetensors", "--variant", "linear", "--compare", "x.npy"]),
        ("replay-top-k-negative", ["replay", "t.safetensors", "--variant", "moba", "--top-k", "-1"]),
        ("quantize-seed-negative", ["formats", "quantize", "--format", "bfloat16/stochastic", "--seed", "-1", "in.npy", "o.npy"]),
        ("unknown-subcommand", ["teleport"]), ("unknown-flag", ["run", "--colour", "red"]),
        ("reference-tokens-zero", ["reference", "certify", "--variant", "linear", "--tokens", "0"]),
        ("bench-count-zero", ["bench", "formats", "--count", "0"]), ("bench-seconds-negative", ["bench", "kernels", "--seconds", "-1"]),
        ("variants-show-unknown", ["variants", "show", "nope"]),
    ]:
        add("flag-" + id, args, {"c.yaml": j(STUDY), "b.yaml": j(BUDGETS)}, binary={"t.safetensors": safetensors(qkv, data), "in.npy": good})
    # --- output locations
    add("out-is-file", ["run", "c.yaml", "--out", "out"], {"c.yaml": j(STUDY), "out": "a file"})
    add("out-under-file", ["run", "c.yaml", "--out", "f/out"], {"c.yaml": j(STUDY), "f": "a file"})
    add("report-out-is-file", ["report", "r", "--out", "f"], {"r/results.jsonl": "", "f": "a file"})
    add("report-missing", ["report", "nowhere"])
    add("report-not-results", ["report", "r"], {"r/results.jsonl": "not json\n"})
    add("validate-summary-under-file", ["validate", "b.yaml", "--summary", "f/s.md"], {"b.yaml": j(BUDGETS), "f": "a file"})
    add("validate-junit-is-dir", ["validate", "b.yaml", "--junit", "d"], {"b.yaml": j(BUDGETS), "d/x": "x"})
    add("replay-out-is-file", ["replay", "t.safetensors", "--variant", "linear", "--out", "f"], {"f": "a file"}, binary={"t.safetensors": safetensors(qkv, data)})
    return c

def run_case(binary, case):
    with tempfile.TemporaryDirectory() as d:
        for name, text in case["files"].items():
            os.makedirs(os.path.dirname(os.path.join(d, name)) or d, exist_ok=True)
            open(os.path.join(d, name), "w", encoding="utf-8").write(text)
        for name, b64 in case["binary"].items():
            os.makedirs(os.path.dirname(os.path.join(d, name)) or d, exist_ok=True)
            open(os.path.join(d, name), "wb").write(base64.b64decode(b64))
        before = sorted(os.listdir(d))
        p = subprocess.run([os.path.abspath(binary)] + case["args"], cwd=d, capture_output=True, timeout=120)
        after = sorted(os.listdir(d))
        err = p.stderr.decode("utf-8", "replace").replace(d + "/", "").replace(d, ".")
        return p.returncode, err, p.stdout.decode("utf-8", "replace"), before, after

def main():
    args = sys.argv[1:]
    all_cases = cases()
    ids = [c["id"] for c in all_cases]
    assert len(ids) == len(set(ids)), "duplicate ids"
    if len(args) == 2 and args[0] in ("--record", "--show"):
        out = []
        for case in all_cases:
            code, err, stdout, before, after = run_case(args[1], case)
            line = err.strip().split("\n")[-1] if err.strip() else ""
            flag = ("" if code == case["exit"] else f" EXIT {code}!") + ("" if err.count("\n") <= 1 else " MULTILINE!") + ("" if before == after else " WROTE!")
            print(f"{case['id']:40s} {code} {line[:200]}{flag}")
            if args[0] == "--record":
                case = dict(case, message=line.replace("attnprec: ", "", 1))
                out.append(case)
        if args[0] == "--record":
            os.makedirs(os.path.dirname(OUT), exist_ok=True)
            with open(OUT, "w") as f:
                for case in out:
                    f.write(json.dumps(case, ensure_ascii=True) + "\n")
            print(f"wrote {len(out)} cases to {OUT}")
    else:
        print(__doc__)
        sys.exit(2)

main()
