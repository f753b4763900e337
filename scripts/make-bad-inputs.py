#!/usr/bin/env python3
"""Writes the bad-input corpus (issue 16): Tests/attnprecTests/BadInputs/corpus.jsonl.

Each case is a command line, the files it reads (text, or bytes in base64) and what the tool
must do: the exit code (2 for bad input) and fragments of its one-line message (all must
appear). The test suite (BadInputTests) runs every case with the built binary in a fresh folder
and checks the exit code, the fragments, that stderr is one line and stdout empty, that no
Foundation error text shows, and that the folder is unchanged (nothing written, inputs intact).

The cases are written here, by hand and by systematic mutation of small valid inputs. A case's
fragments are written here where the message must name something (a flag and its value, an
output path), else derived from what the binary printed when the case was recorded (the
leading file/line/key names, and the first quoted value or clause), reviewed before committing.
Cases in KNOWN_FAILING misbehave on main today; they are recorded with what issue 16 requires
and marked "pending" (the tests expect them to fail, as known issues). No Python is needed to
run the tests.

    scripts/make-bad-inputs.py --record .build/release/attnprec   # (re)record every message
    scripts/make-bad-inputs.py --show BIN                          # print case, exit, message

Both print each case and its problems, and exit 1 when a case not in KNOWN_FAILING fails or
one in it passes (then update the list and record again).
"""
import base64, json, os, re, struct, subprocess, sys, tempfile

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
HYBRID = {"hybrid": "h", "width": "1/16", "stacks": [{"preset": "qwen3-next", "pattern": "gated_deltanet, gated_attention", "tokens": 32,
          "recipes": [{"name": "bf16", "gated_deltanet": "state=bfloat16"}]}]}

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
    def add(id, args, files=None, binary=None, exit=2, fragments=None):
        if id.startswith("flag-"):
            # Flag cases share one set of inputs: keep the files the command line names.
            used = lambda name: any(name in a for a in args)
            files = {k: v for k, v in (files or {}).items() if used(k)}
            binary = {k: v for k, v in (binary or {}).items() if used(k)}
        case = {"id": id, "args": args, "files": files or {}, "binary": {k: base64.b64encode(v).decode() for k, v in (binary or {}).items()}, "exit": exit}
        if fragments:
            case["fragments"] = fragments
        c.append(case)
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
    add("budgets-junit-in-missing-dir", ["validate", "b.yaml", "--junit", "no/such/dir/j.xml"], {"b.yaml": j(BUDGETS), "no": "a file, not a folder"}, fragments=["--junit", "no/such/dir/j.xml"])
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
    ]:
        add("npy-" + id, ["formats", "quantize", "--format", "bfloat16", "in.npy", "out.npy"], binary={"in.npy": data}, exit=2)
    add("npy-missing", ["formats", "quantize", "--format", "bfloat16", "missing.npy", "out.npy"])
    add("npy-directory", ["formats", "quantize", "--format", "bfloat16", "d", "out.npy"], {"d/x.txt": "x"}, fragments=["d"])
    T, H, K = 8, 1, 4
    def f32(n): return b"\0\0\x80\x3f" * n
    qkv = {"q": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [0, T * H * K * 4]},
           "k": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [T * H * K * 4, 2 * T * H * K * 4]},
           "v": {"dtype": "F32", "shape": [T, H, K], "data_offsets": [2 * T * H * K * 4, 3 * T * H * K * 4]}}
    data = f32(3 * T * H * K)
    def st(id, header, d=data, args=None, fragments=None):
        add("safetensors-" + id, args or ["replay", "t.safetensors", "--variant", "linear", "--recipe", "state=bfloat16", "--out", "out"], binary={"t.safetensors": safetensors(header, d)}, fragments=fragments)
    st("overlap", dict(qkv, v={"dtype": "F32", "shape": [T, H, K], "data_offsets": [0, T * H * K * 4]}))
    st("gap", dict(qkv, v={"dtype": "F32", "shape": [T, H, K], "data_offsets": [2 * T * H * K * 4 + 4, 3 * T * H * K * 4 + 4]}), data + b"\0" * 4, fragments=["t.safetensors"])
    st("trailing-bytes", qkv, data + b"\0" * 8, fragments=["t.safetensors"])
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
        named = [i for i, a in enumerate(args[:-1]) if a.startswith("--")]
        fragments = None if not named or id == "unknown-flag" else [args[named[-1]], args[named[-1] + 1]]
        add("flag-" + id, args, {"c.yaml": j(STUDY), "b.yaml": j(BUDGETS)}, binary={"t.safetensors": safetensors(qkv, data), "in.npy": good}, fragments=fragments)
    # --- output locations
    add("out-is-file", ["run", "c.yaml", "--out", "out"], {"c.yaml": j(STUDY), "out": "a file"}, fragments=["--out", "out"])
    add("out-under-file", ["run", "c.yaml", "--out", "f/out"], {"c.yaml": j(STUDY), "f": "a file"}, fragments=["--out", "f/out"])
    add("report-out-is-file", ["report", "r", "--out", "f"], {"r/results.jsonl": "", "f": "a file"}, fragments=["--out", "f"])
    add("report-missing", ["report", "nowhere"])
    add("report-not-results", ["report", "r"], {"r/results.jsonl": "not json\n"})
    add("validate-summary-under-file", ["validate", "b.yaml", "--summary", "f/s.md"], {"b.yaml": j(BUDGETS), "f": "a file"}, fragments=["--summary", "f/s.md"])
    add("validate-junit-is-dir", ["validate", "b.yaml", "--junit", "d"], {"b.yaml": j(BUDGETS), "d/x": "x"}, fragments=["--junit", "d"])
    add("replay-out-is-file", ["replay", "t.safetensors", "--variant", "linear", "--out", "f"], {"f": "a file"}, binary={"t.safetensors": safetensors(qkv, data)}, fragments=["--out", "f"])
    more_npy(add, good)
    more_safetensors(add, qkv, data, T, H, K)
    more_configs(add)
    more_flags(add, qkv, data, good)
    more_outputs(add, qkv, data, good)
    more_conform(add)
    return c

def more_npy(add, good):
    """.npy headers and files that NumPy refuses (or that are ambiguous), and dtypes quantize cannot read."""
    quantize = ["formats", "quantize", "--format", "bfloat16", "in.npy", "out.npy"]
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }"
    for id, data in [
        ("empty-file", b""), ("magic-only", b"\x93NUMPY"), ("wrong-magic", b"\x93NUMPZ" + good[6:]),
        ("int-dtype", npy(descr="<i4")), ("bool-dtype", npy(descr="|b1", payload=b"\0" * 8)),
        ("unicode-dtype", npy(descr="<U4", payload=b"\0" * 128)), ("descr-number", npy(header="{'descr': 4, 'fortran_order': False, 'shape': (2, 4), }")),
        ("descr-empty", npy(descr="")), ("fortran-word", npy(header="{'descr': '<f4', 'fortran_order': yes, 'shape': (2, 4), }")),
        ("shape-list", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': [2, 4], }")),
        ("shape-float", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 4), }")),
        ("shape-string", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': '2, 4', }")),
        ("shape-unclosed", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, }")),
        ("header-not-dict", npy(header="['descr', '<f4']")), ("header-unclosed", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), ")),
        ("missing-comma", npy(header="{'descr': '<f4' 'fortran_order': False, 'shape': (2, 4), }")),
        ("header-length-beyond", good[:8] + struct.pack("<H", 60000) + good[10:]),
        ("header-latin1", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), '\xe9': 1, }")),
        ("v2-length-beyond", b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 30) + b"{}"),
        ("duplicate-descr", npy(header="{'descr': '<f8', 'fortran_order': False, 'descr': '<f4', 'shape': (2, 4), }")),
        ("key-unquoted", npy(header="{descr: '<f4', 'fortran_order': False, 'shape': (2, 4), }")),
        ("big-shape-small-data", npy(header="{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }")),
    ]:
        add("npy-" + id, quantize, binary={"in.npy": data})

def more_safetensors(add, qkv, data, T, H, K):
    """Headers the `safetensors` library refuses, and tensors replay cannot use."""
    n = T * H * K * 4
    def st(id, header, d=data, args=None, fragments=None):
        add("safetensors-" + id, args or ["replay", "t.safetensors", "--variant", "linear", "--recipe", "state=bfloat16", "--out", "out"], binary={"t.safetensors": safetensors(header, d)}, fragments=fragments)
    q = qkv["q"]
    st("header-empty", b"")
    st("header-array", b"[1, 2, 3]")
    st("header-not-utf8", b'{"q\xff": 1}')
    st("header-trailing-junk", json.dumps(qkv).encode() + b" junk")
    st("duplicate-name", json.dumps(qkv)[:-1].encode() + b', "q": ' + json.dumps(dict(q, data_offsets=[2 * n, 3 * n])).encode() + b"}", fragments=["t.safetensors", "'q'"])
    st("entry-not-object", dict(qkv, q=3))
    st("missing-dtype", dict(qkv, q={"shape": q["shape"], "data_offsets": q["data_offsets"]}))
    st("missing-shape", dict(qkv, q={"dtype": "F32", "data_offsets": q["data_offsets"]}))
    st("missing-offsets", dict(qkv, q={"dtype": "F32", "shape": q["shape"]}))
    st("offsets-three", dict(qkv, q=dict(q, data_offsets=[0, n, 2 * n])))
    st("offsets-negative", dict(qkv, q=dict(q, data_offsets=[-4, n - 4])))
    st("offsets-string", dict(qkv, q=dict(q, data_offsets=["0", str(n)])))
    st("offsets-beyond", dict(qkv, v=dict(qkv["v"], data_offsets=[2 * n, 4 * n])))
    st("dtype-lowercase", dict(qkv, q=dict(q, dtype="f32")))
    st("dtype-number", dict(qkv, q=dict(q, dtype=32)))
    st("shape-negative", dict(qkv, q=dict(q, shape=[-T, H, K])))
    st("shape-not-list", dict(qkv, q=dict(q, shape="8,1,4")))
    st("shape-float", dict(qkv, q=dict(q, shape=[8.0, 1, 4])), fragments=["t.safetensors", "shape"])
    st("rank-wrong", dict(qkv, q=dict(q, shape=[T * H * K])))
    st("length-mismatch", dict(qkv, k=dict(qkv["k"], shape=[T // 2, H, 2 * K])))
    add("safetensors-file-tiny", ["replay", "t.safetensors", "--variant", "linear", "--out", "out"], binary={"t.safetensors": b"\x08\0\0"})
    st("metadata-nested", dict(qkv, __metadata__={"a": {"b": 1}}))
    st("inf-input", qkv, data[:-4] + struct.pack("<f", float("inf")))
    add("safetensors-npy-folder-empty", ["replay", "d", "--variant", "linear", "--out", "out"], {"d/readme.txt": "no tensors"})
    add("safetensors-npy-folder-bad", ["replay", "d", "--variant", "linear", "--out", "out"], binary={"d/q.npy": b"not npy", "d/k.npy": npy(shape=(8, 1, 4), payload=data[:n]), "d/v.npy": npy(shape=(8, 1, 4), payload=data[:n])})
    add("safetensors-wrong-extension", ["replay", "t.txt", "--variant", "linear", "--out", "out"], {"t.txt": "hello"})

def more_configs(add):
    """More study, budgets and scenario mutations: numbers where names go, ranges, YAML features."""
    run = ["run", "c.yaml", "--out", "out"]
    for id, path, value in [
        ("tokens-nan", ["tokens"], [".nan"]), ("tokens-inf", ["tokens"], [".inf"]), ("tokens-bool", ["tokens"], [True]),
        ("seeds-float", ["seeds"], [1.5]), ("seeds-huge", ["seeds"], [1 << 70]), ("name-empty", ["name"], ""),
        ("reference-double-negative", ["reference", "double_precision_tokens"], -1),
        ("reference-bits-huge", ["reference", "bits"], 1 << 20), ("sampling-huge", ["sampling", "per_octave"], 100000),
        ("variants-decay-zero", ["variants"], [{"name": "linear", "decay": 0}]),
        ("variants-decay-string", ["variants"], [{"name": "linear", "decay": "slow"}]),
        ("variants-layer-negative", ["variants"], [{"name": "lightning", "layer": -1}]),
        ("variants-value-dim-nan", ["variants"], [{"name": "linear", "value_dim": ".nan"}]),
        ("recipes-store-number", ["recipes"], [{"name": "x", "store": 16}]),
        ("recipes-name-list", ["recipes"], [{"name": ["x"], "store": "bfloat16"}]),
        ("recipes-fixed-nan", ["recipes"], [{"name": "x", "store": "float8_e4m3fn/per-token/fixed:nan"}]),
    ]:
        add("study-" + id, run, {"c.yaml": j(with_(STUDY, path, value))})
    add("study-yaml-alias-bomb", run, {"c.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ", ".join(["*" + chr(97 + i)] * 10)) for i in range(8)) + "variants: *i\n"})
    add("study-yaml-binary-tag", run, {"c.yaml": j(STUDY)[:-1] + ', "x": !!binary "aGVsbG8="}'})
    add("study-yaml-multi-doc", run, {"c.yaml": j(STUDY) + "\n---\n" + j(STUDY) + "\n"})
    add("study-bom-junk", run, binary={"c.yaml": b"\xef\xbb\xbf\x00\x01variants: [linear]\n"})
    add("study-two-configs-one-bad", ["run", "c.yaml", "d.yaml", "--out", "out"], {"c.yaml": j(STUDY), "d.yaml": j(with_(STUDY, ["tokens"], [0]))})
    val = ["validate", "b.yaml"]
    for id, path, value in [
        ("limit-zero", ["budgets", 0, "max_output_rel_err"], 0), ("limit-huge-string", ["budgets", 0, "max_output_rel_err"], "1e999"),
        ("state-limit-string", ["budgets", 0, "max_state_rel_err"], "small"), ("key-dim-zero", ["budgets", 0, "key_dim"], 0),
        ("decay-high", ["budgets", 0, "decay"], 2), ("name-number", ["budgets", 0, "name"], ["b"]),
        ("budget-scalar", ["budgets", 0], "b"), ("tokens-negative", ["budgets", 0, "tokens"], -64),
        ("workload-seed-negative", ["budgets", 0, "workload"], {"inputs": "gaussian", "seed": -1}),
        ("reference-tier", ["reference"], {"tier": "float16"}), ("sampling-string", ["sampling"], "dense"),
    ]:
        add("budgets-" + id, val, {"b.yaml": j(with_(BUDGETS, path, value))})
    add("budgets-deep-nesting", val, {"b.yaml": "budgets: " + "[" * 3000 + "]" * 3000 + "\n"})
    add("budgets-python-tag", val, {"b.yaml": "budgets: !!python/object:os.system ls\n"})
    add("budgets-directory", ["validate", "d"], {"d/x.yaml": "x: 1"})
    scen = ["run", "s.yaml", "--out", "out"]
    for id, path, value in [
        ("name-empty", ["name"], ""), ("tokens-negative", ["tokens"], [-64]), ("tokens-huge", ["tokens"], [1 << 30]),
        ("continuation-huge", ["continuation"], 1 << 30), ("variant-key-dim-zero", ["variants"], [{"name": "gated_deltanet", "key_dim": 0}]),
        ("per-octave-zero", ["per_octave"], 0), ("recipes-no-roles", ["recipes"], [{"name": "x"}]),
    ]:
        add("scenario-" + id, scen, {"s.yaml": j(with_(SCENARIO, path, value))})
    # --- hybrid stack configs (issue 19)
    hyb = ["run", "h.yaml", "--out", "out"]
    for id, path, value in [
        ("pattern-unknown-layer", ["stacks", 0, "pattern"], "gated_deltanet, flash_attention"),
        ("pattern-unclosed", ["stacks", 0, "pattern"], "(3*gated_deltanet, gated_attention"),
        ("pattern-variant-not-a-layer", ["stacks", 0, "pattern"], "rwkv7, gated_attention"),
        ("pattern-position-out", ["stacks", 0, "pattern"], "kda*4; mla@9"),
        ("preset-unknown", ["stacks", 0, "preset"], "gpt-5"),
        ("width-heads-not-whole", ["width"], "1/3"), ("width-zero", ["width"], "0"), ("width-word", ["width"], "narrow"),
        ("recipe-absent-layer", ["stacks", 0, "recipes"], [{"name": "x", "mamba2": "state=bfloat16"}]),
        ("recipe-role-of-other-layer", ["stacks", 0, "recipes"], [{"name": "x", "gated_deltanet": "k_cache=bfloat16"}]),
        ("recipe-no-name", ["stacks", 0, "recipes"], [{"gated_deltanet": "state=bfloat16"}]),
        ("recipe-bad-spec", ["stacks", 0, "recipes"], [{"name": "x", "residual": "bfloat17"}]),
        ("attribution-unknown-recipe", ["stacks", 0, "attribution"], ["nope"]),
        ("tokens-too-few", ["stacks", 0, "tokens"], 4), ("tokens-missing", ["stacks", 0, "tokens"], None),
        ("caches-exceed-memory", ["stacks", 0, "tokens"], 1 << 20),
        ("form-unknown", ["form"], "parallel"), ("stacks-empty", ["stacks"], []), ("unknown-key", ["colour"], "red"),
    ]:
        add("hybrid-" + id, hyb, {"h.yaml": j(with_(HYBRID, path, value))})
    add("hybrid-certify-no-preset", ["reference", "certify", "--variant", "hybrid"])
    add("hybrid-certify-layers-zero", ["reference", "certify", "--variant", "hybrid", "--preset", "nemotron-h", "--layers", "0"])
    add("hybrid-bench-width", ["bench", "hybrid", "--width", "1/5"])
    add("scenario-with-shard", ["run", "s.yaml", "--out", "out", "--shard", "1/2"], {"s.yaml": j(SCENARIO)})
    add("scenario-with-resume", ["run", "s.yaml", "--out", "out", "--resume"], {"s.yaml": j(SCENARIO)})
    add("scenario-two-configs", ["run", "s.yaml", "t.yaml", "--out", "out"], {"s.yaml": j(SCENARIO), "t.yaml": j(SCENARIO)})
    for id, spec in [("block-huge", "float8_e4m3fn/block:99999999"), ("group-zero", "int4/group:0"), ("fixed-zero", "float8_e4m3fn/per-token/fixed:0"),
                     ("fixed-inf", "float8_e4m3fn/per-token/fixed:inf"), ("fixed-word", "float8_e4m3fn/per-token/fixed:big"),
                     ("two-granularities", "float8_e4m3fn/per-token/per-head"), ("two-overflows", "bfloat16/saturate/ieee"),
                     ("only-slash", "/"), ("e0m3", "e0m3"), ("negative-mantissa", "e4m-1"), ("stochastic-word", "bfloat16/stochastic:many"),
                     ("nvfp4-granularity", "nvfp4/per-token"), ("newline", "bfloat16\n/per-token")]:
        add("spec-" + id, ["formats", "show", spec])

HUGE = "99999999999999999999"

def more_flags(add, qkv, data, good):
    """Every command's numeric flags: negative, zero, huge, non-numeric, NaN and infinity strings."""
    ctx = {"c.yaml": j(STUDY), "b.yaml": j(BUDGETS)}
    T = qkv["q"]["shape"][0]
    gates = {"gates": {"dtype": "F32", "shape": [T, 1, 3], "data_offsets": [len(data), len(data) + T * 12]}}
    bins = {"t.safetensors": safetensors(qkv, data), "n.safetensors": safetensors(dict(qkv, **gates), data + b"\0" * (T * 12)), "in.npy": good}
    def flag(id, args, fragments=None):
        add("flag-" + id, args, ctx, binary=bins, fragments=fragments)
    # Argument-parser refusals: the flag and the value must both be named.
    def values(prefix, base, name, cases):
        for suffix, v in cases:
            flag(f"{prefix}-{suffix}", base + [name, v], fragments=[name, v])
    run = ["run", "c.yaml", "--out", "out"]
    values("run-jobs", run, "--jobs", [("huge", HUGE), ("nan", "nan"), ("inf", "inf"), ("fraction", "1.5")])
    values("run-shard", run, "--shard", [("nan", "nan/2"), ("inf", "1/inf"), ("huge", "1/" + HUGE), ("zero-index", "0/2"), ("no-count", "1/")])
    values("validate-jobs", ["validate", "b.yaml"], "--jobs", [("zero", "0"), ("word", "many"), ("huge", HUGE), ("nan", "nan")])
    replay = ["replay", "t.safetensors", "--variant", "linear", "--out", "out"]
    values("replay-jobs", replay, "--jobs", [("zero", "0"), ("negative", "-1"), ("word", "all")])
    values("replay-certify-tokens", replay, "--certify-tokens", [("negative", "-1"), ("huge", "99999999"), ("word", "some"), ("nan", "nan")])
    lightning = ["replay", "t.safetensors", "--variant", "lightning", "--out", "out"]
    values("replay-layer", lightning, "--layer", [("negative", "-1"), ("word", "last"), ("huge", "99999")])
    values("replay-layers", lightning + ["--layer", "1"], "--layers", [("zero", "0"), ("negative", "-3"), ("below-layer", "1")])
    moba = ["replay", "t.safetensors", "--variant", "moba", "--out", "out"]
    values("replay-block-size", moba, "--block-size", [("negative", "-64"), ("word", "big")])
    # Range checks of the variant's parameters name them as in a config (block_size, top_k, window).
    flag("replay-block-size-zero", moba + ["--block-size", "0"], ["--block-size", "0"])
    flag("replay-top-k-zero", moba + ["--top-k", "0"], ["--top-k", "0"])
    flag("replay-window-zero", ["replay", "n.safetensors", "--variant", "nsa", "--out", "out", "--window", "0"], ["window", "0"])
    values("replay-top-k", moba, "--top-k", [("word", "few")])
    values("replay-window", ["replay", "n.safetensors", "--variant", "nsa", "--out", "out"], "--window", [("negative", "-4")])
    flag("replay-block-size-on-linear", replay + ["--block-size", "4"], ["--block-size"])
    flag("replay-window-on-linear", replay + ["--window", "4"], ["--window"])
    flag("replay-layer-on-linear", replay + ["--layer", "3"], ["--layer"])
    flag("replay-no-l2norm-on-linear", replay + ["--no-qk-l2norm"], ["--no-qk-l2norm"])
    flag("replay-preset-unknown", replay + ["--preset", "gpt-9"], ["--preset"])
    flag("replay-compare-missing-file", replay + ["--compare", "mine=missing.npy"], ["missing.npy"])
    flag("replay-compare-empty-label", replay + ["--compare", "=in.npy"], ["--compare"])
    flag("replay-compare-wrong-shape", replay + ["--compare", "mine=in.npy"], ["in.npy"])
    flag("replay-recipe-no-equals", replay + ["--recipe", "state"], ["--recipe"])
    flag("replay-recipe-role-lacking", replay + ["--recipe", "k_cache=bfloat16"], ["k_cache"])
    flag("replay-missing-input", ["replay", "missing.safetensors", "--variant", "linear", "--out", "out"], ["missing.safetensors"])
    quantize = ["formats", "quantize", "--format", "bfloat16/stochastic"]
    for suffix, v in [("word", "lucky"), ("huge", "18446744073709551616"), ("nan", "nan"), ("fraction", "0.5")]:
        flag("quantize-seed-" + suffix, quantize + ["--seed", v, "in.npy", "o.npy"], ["--seed", v])
    flag("quantize-rounding-bogus", ["formats", "quantize", "--format", "bfloat16", "--rounding", "bogus", "in.npy", "o.npy"], ["--rounding", "bogus"])
    flag("quantize-overflow-bogus", ["formats", "quantize", "--format", "bfloat16", "--overflow", "bogus", "in.npy", "o.npy"], ["--overflow", "bogus"])
    flag("quantize-no-format", ["formats", "quantize", "in.npy", "o.npy"], ["--format"])
    flag("quantize-bad-format", ["formats", "quantize", "--format", "bfloat17", "in.npy", "o.npy"], ["bfloat17"])
    flag("quantize-no-output", ["formats", "quantize", "--format", "bfloat16", "in.npy"])
    certify = ["reference", "certify", "--variant", "linear"]
    values("reference-tokens", certify, "--tokens", [("negative", "-1"), ("word", "long"), ("huge", "99999999999"), ("nan", "nan")])
    values("reference-bits", certify + ["--tokens", "16"], "--bits", [("zero", "0"), ("negative", "-128"), ("huge", "99999999"), ("word", "many")])
    flag("reference-tier-bogus", certify + ["--tokens", "16", "--tier", "float32"], ["--tier", "float32"])
    flag("reference-form-bogus", certify + ["--tokens", "16", "--form", "bogus"], ["--form", "bogus"])
    flag("reference-variant-unknown", ["reference", "certify", "--variant", "nope"], ["nope"])
    fmt = ["bench", "formats", "--only", "no-such-case"]
    values("bench-count", fmt, "--count", [("negative", "-128"), ("not-multiple", "100"), ("word", "lots"), ("huge", HUGE)])
    values("bench-repeats", fmt + ["--count", "128"], "--repeats", [("zero", "0"), ("negative", "-1"), ("word", "twice")])
    for cmd in ["inputs", "kernels", "reference"]:
        values(f"bench-{cmd}-seconds", ["bench", cmd], "--seconds", [("zero", "0"), ("nan", "nan"), ("inf", "inf"), ("word", "brief"), ("too-long", "3600")] + ([("negative", "-1")] if cmd != "kernels" else []))
    values("bench-reference-bits", ["bench", "reference"], "--bits", [("zero", "0"), ("negative", "-1"), ("huge", "99999999")])
    values("bench-long-tokens", ["bench", "long"], "--tokens", [("zero", "0"), ("negative", "-1"), ("huge", "99999999999"), ("word", "long")])
    values("bench-long-baseline", ["bench", "long"], "--baseline-tokens", [("zero", "0"), ("negative", "-1")])
    values("bench-long-threads", ["bench", "long"], "--threads", [("zero", "0"), ("negative", "-2"), ("huge", "999")])
    flag("variants-list-recipe-role", ["variants", "list", "--recipe", "stat=bfloat16"], ["--recipe", "stat"])
    flag("variants-list-recipe-spec", ["variants", "list", "--recipe", "state=bfloat17"], ["--recipe", "bfloat17"])
    flag("variants-list-recipe-no-equals", ["variants", "list", "--recipe", "state"], ["--recipe"])
    flag("variants-show-missing", ["variants", "show"])
    flag("formats-show-missing", ["formats", "show"])
    flag("formats-unknown-subcommand", ["formats", "teleport"], ["teleport"])
    flag("run-missing-config", ["run", "missing.yaml", "--out", "out"], ["missing.yaml"])

def more_outputs(add, qkv, data, good):
    """Output locations that cannot be written: a file where a folder goes, a folder where a
    file goes, below a file, and in /proc; checked before any computation, nothing written."""
    st = {"t.safetensors": safetensors(qkv, data), "in.npy": good}
    study, budgets, scen = {"c.yaml": j(STUDY)}, {"b.yaml": j(BUDGETS)}, {"s.yaml": j(SCENARIO)}
    def out(id, args, files, frag, binary=None):
        add("out-" + id, args, dict(files, f="a file", **{"d/x": "x", "dir/x": "x"}), binary=binary, fragments=frag)
    out("run-in-proc", ["run", "c.yaml", "--out", "/proc/attnprec-out"], study, ["--out", "/proc/attnprec-out"])
    out("run-dev-null", ["run", "c.yaml", "--out", "/dev/null"], study, ["--out", "/dev/null"])
    out("run-empty", ["run", "c.yaml", "--out", ""], study, ["--out"])
    out("scenario-is-file", ["run", "s.yaml", "--out", "f"], scen, ["--out", "f"])
    out("scenario-under-file", ["run", "s.yaml", "--out", "f/r"], scen, ["--out", "f/r"])
    out("report-under-file", ["report", "r", "--out", "f/r"], {"r/results.jsonl": ""}, ["--out", "f/r"])
    out("report-in-proc", ["report", "r", "--out", "/proc/attnprec-report"], {"r/results.jsonl": ""}, ["--out", "/proc/attnprec-report"])
    out("report-not-a-study", ["report", "d"], {}, ["d/results.jsonl"])
    out("report-results-is-folder", ["report", "r"], {"r/results.jsonl/x": "x"}, ["r/results.jsonl"])
    out("report-key-only", ["report", "r"], {"r/results.jsonl": '{"key": "a"}\n'}, ["'a'"])
    out("report-of-file", ["report", "f"], {}, ["f"])
    out("report-into-other-study", ["report", "r", "--out", "o2"], {"r/results.jsonl": "", "o2/results.jsonl": '{"key": "b"}\n'},
        ["--out o2", "would drop"])
    out("report-binary", ["report", "r"], {}, ["r/results.jsonl"], binary={"r/results.jsonl": b"\x00\xff\xfe\n"})
    out("validate-junit-under-file", ["validate", "b.yaml", "--junit", "f/j.xml"], budgets, ["--junit", "f/j.xml"])
    out("validate-junit-in-proc", ["validate", "b.yaml", "--junit", "/proc/attnprec.xml"], budgets, ["--junit", "/proc/attnprec.xml"])
    out("validate-junit-empty", ["validate", "b.yaml", "--junit", ""], budgets, ["--junit"])
    out("validate-summary-is-dir", ["validate", "b.yaml", "--summary", "d"], budgets, ["--summary", "d"])
    out("validate-summary-in-proc", ["validate", "b.yaml", "--summary", "/proc/attnprec.md"], budgets, ["--summary", "/proc/attnprec.md"])
    out("validate-good-junit-bad-summary", ["validate", "b.yaml", "--junit", "j.xml", "--summary", "f/s.md"], budgets, ["--summary", "f/s.md"])
    out("replay-under-file", ["replay", "t.safetensors", "--variant", "linear", "--out", "f/r"], {}, ["--out", "f/r"], binary=st)
    out("replay-in-proc", ["replay", "t.safetensors", "--variant", "linear", "--out", "/proc/attnprec-replay"], {}, ["--out", "/proc/attnprec-replay"], binary=st)
    out("quantize-to-folder", ["formats", "quantize", "--format", "bfloat16", "in.npy", "d"], {}, ["d"], binary=st)
    out("quantize-under-file", ["formats", "quantize", "--format", "bfloat16", "in.npy", "f/o.npy"], {}, ["f/o.npy"], binary=st)
    out("quantize-in-proc", ["formats", "quantize", "--format", "bfloat16", "in.npy", "/proc/attnprec.npy"], {}, ["/proc/attnprec.npy"], binary=st)
    # A one-letter path ("d") also meets a Foundation crash in NSString.deletingLastPathComponent.
    out("quantize-to-named-folder", ["formats", "quantize", "--format", "bfloat16", "in.npy", "dir"], {}, ["dir"], binary=st)
    certify = ["reference", "certify", "--variant", "linear", "--tokens", "16", "--bits", "64"]
    for id, path in [("is-dir", "d"), ("is-named-dir", "dir"), ("under-file", "f/x.json"), ("in-proc", "/proc/attnprec.json")]:
        out("reference-json-" + id, certify + ["--json", path], {}, ["--json", path])
        out("bench-json-" + id, ["bench", "formats", "--count", "128", "--repeats", "1", "--only", "no-such-case", "--json", path], {}, ["--json", path])

# Cases that misbehave on main today and that work under way fixes (issue 16): recorded with
# what the issue requires (exit 2, one line, the flag or key named); the tests mark them as known
# issues. Empty this list once those fixes are merged, then re-record.
KNOWN_FAILING: set[str] = set()

FOUNDATION_TEXT = ["NSCocoaErrorDomain", "couldn\u2019t be completed", "could not be completed"]
STOPS = [" expected", " got ", "unknown", "(", ";", " must "]

def more_conform(add):
    """`formats conform` (issue 22): files that disagree with the spec or with each other."""
    x = npy("<f4", (2, 64), payload=struct.pack("<128f", *[0.25 * (i - 64) for i in range(128)]))
    codes = npy("|u1", (2, 64), payload=bytes(128))
    conform = ["formats", "conform", "--format"]
    def cf(id, args, binary, fragments):
        add("conform-" + id, conform + args, binary=binary, fragments=fragments)
    cf("shape", ["e4m3", "x.npy", "c.npy"], {"x.npy": x, "c.npy": npy("|u1", (2, 32), payload=bytes(64))}, ["c.npy", "shape [2, 32]", "[2, 64]"])
    cf("code-outside", ["e2m1", "x.npy", "c.npy"], {"x.npy": x, "c.npy": npy("|u1", (2, 64), payload=bytes(5) + b"\x1f" + bytes(122))},
       ["c.npy", "0x1f", "(0, 5)", "outside"])
    cf("codes-dtype", ["bf16", "x.npy", "c.npy"], {"x.npy": x, "c.npy": codes}, ["c.npy", "|u1", "<u2"])
    cf("codes-float", ["e4m3", "x.npy", "c.npy"], {"x.npy": x, "c.npy": x}, ["c.npy", "<f4", "|u1"])
    cf("input-ints", ["e4m3", "c.npy", "c.npy"], {"c.npy": codes}, ["c.npy", "not a float"])
    cf("scales-length", ["mxfp4", "x.npy", "c.npy", "--scales", "s.npy"],
       {"x.npy": x, "c.npy": codes, "s.npy": npy("|u1", (2, 1), payload=bytes(2))}, ["s.npy", "expected 4", "[2, 2]"])
    cf("scales-dtype", ["e4m3/per-token", "x.npy", "c.npy", "--scales", "s.npy"],
       {"x.npy": x, "c.npy": codes, "s.npy": npy("|u1", (2, 1), payload=bytes(2))}, ["s.npy", "float32 scales"])
    cf("scales-unscaled", ["e4m3", "x.npy", "c.npy", "--scales", "s.npy"],
       {"x.npy": x, "c.npy": codes, "s.npy": npy("<f4", (1,))}, ["s.npy", "unscaled"])
    cf("zeros-symmetric", ["int4/per-token", "x.npy", "c.npy", "--zeros", "z.npy"],
       {"x.npy": x, "c.npy": codes, "z.npy": npy("<f4", (2, 1))}, ["z.npy", "zero points"])
    cf("tensor-scale-mx", ["mxfp4", "x.npy", "c.npy", "--tensor-scale", "t.npy"],
       {"x.npy": x, "c.npy": codes, "t.npy": npy("<f4", (1,))}, ["t.npy", "tensor scale"])
    cf("tensor-scale-length", ["nvfp4", "x.npy", "c.npy", "--tensor-scale", "t.npy"],
       {"x.npy": x, "c.npy": codes, "t.npy": npy("<f4", (2,))}, ["t.npy", "expected 1"])
    cf("stochastic", ["e4m3/stochastic", "x.npy", "c.npy"], {"x.npy": x, "c.npy": codes}, ["--format", "stochastic"])
    cf("wide", ["float32", "x.npy", "c.npy"], {"x.npy": x, "c.npy": codes}, ["--format", "32-bit"])
    cf("bad-format", ["e4m3/sideways", "x.npy", "c.npy"], {"x.npy": x, "c.npy": codes}, ["--format", "sideways"])
    cf("codes-missing", ["e4m3", "x.npy", "missing.npy"], {"x.npy": x}, ["missing.npy"])
    cf("junit-folder", ["e4m3", "x.npy", "c.npy", "--junit", "x.npy/j.xml"], {"x.npy": x, "c.npy": codes}, ["--junit", "x.npy"])

def derive_fragments(message):
    """The stable parts of a recorded message: where it is (the file, line, key or flag: the
    leading ': '-separated names), and the first quoted value after it, else the first clause."""
    parts = message.split(": ")
    n = 0
    while n < len(parts) - 1 and len(parts[n]) <= 48 and not any(x in parts[n] for x in STOPS):
        n += 1
    head, rest = ": ".join(parts[:n]), ": ".join(parts[n:])
    frags = [head] if len(head) >= 3 else []
    q = re.search(r"'[^']+'", rest)
    clause = re.split(r"[;,(]", rest)[0].strip()[:40].strip()
    frags.append(q.group(0) if q else clause)
    return [f for f in frags if f]

def snapshot(d):
    """Every file below `d`: relative path -> bytes (folders as None)."""
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, d)] = None if os.path.isdir(path) else open(path, "rb").read()
    return out

def run_case(binary, case):
    with tempfile.TemporaryDirectory() as d:
        for name, text in case["files"].items():
            os.makedirs(os.path.dirname(os.path.join(d, name)) or d, exist_ok=True)
            open(os.path.join(d, name), "w", encoding="utf-8").write(text)
        for name, b64 in case["binary"].items():
            os.makedirs(os.path.dirname(os.path.join(d, name)) or d, exist_ok=True)
            open(os.path.join(d, name), "wb").write(base64.b64decode(b64))
        before = snapshot(d)
        try:
            p = subprocess.run([os.path.abspath(binary)] + case["args"], cwd=d, capture_output=True, timeout=60,
                               env=dict((k, v) for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"))
            code, err, out = p.returncode, p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            code, err, out = "timeout", "", ""
        changed = before != snapshot(d)
        err = err.replace(d + "/", "").replace(d, ".")
        return code, err, out, changed

def problems(case, code, err, out, changed, fragments):
    """What the tests (BadInputTests) would report: the same rules."""
    message = err.rstrip("\n").replace("attnprec: ", "", 1)
    found = []
    if code != case["exit"]: found.append(f"exit {code}")
    if err.count("\n") != 1 or not err.endswith("\n"): found.append(f"{err.count(chr(10))} stderr lines")
    if out: found.append("stdout not empty")
    if changed: found.append("the folder changed")
    found += [f"Foundation text '{t}'" for t in FOUNDATION_TEXT if t in err]
    found += [f"no '{f}'" for f in fragments if f not in message]
    return found

def main():
    args = sys.argv[1:]
    all_cases = cases()
    ids = [c["id"] for c in all_cases]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert KNOWN_FAILING <= set(ids), KNOWN_FAILING - set(ids)
    if len(args) != 2 or args[0] not in ("--record", "--show"):
        print(__doc__)
        sys.exit(2)
    out, surprises = [], []
    for case in all_cases:
        code, err, stdout, changed = run_case(args[1], case)
        line = err.strip().split("\n")[-1] if err.strip() else ""
        message = line.replace("attnprec: ", "", 1)
        pending = case["id"] in KNOWN_FAILING
        assert not pending or "fragments" in case, case["id"] + ": a known-failing case needs its fragments written here"
        fragments = case.get("fragments") or derive_fragments(message)
        found = problems(case, code, err, stdout, changed, fragments)
        note = (" [" + "; ".join(found) + "]" if found else "") + (" (known failing)" if pending else "")
        print(f"{case['id']:40s} {code} {line[:160]}{note}")
        if bool(found) != pending:
            surprises.append(case["id"] + (" fails: " + "; ".join(found) if found else " passes: remove it from KNOWN_FAILING"))
        out.append(dict(case, fragments=fragments, message=message, **({"pending": True} if pending else {})))
    if args[0] == "--record":
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT, "w") as f:
            for case in out:
                f.write(json.dumps(case, ensure_ascii=True, sort_keys=True) + "\n")
        print(f"wrote {len(out)} cases ({len(KNOWN_FAILING)} known failing) to {OUT}")
    for s in surprises:
        print("SURPRISE:", s)
    sys.exit(1 if surprises else 0)

main()
