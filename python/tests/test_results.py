"""load_results on a committed report; run and validate through the binary."""

import math

import pytest

import attnprec


def test_load_results_reads_a_committed_report(repo):
    records = attnprec.load_results(repo / "reports" / "default", as_frame=False)
    lines = (repo / "reports" / "default" / "results.jsonl").read_text().splitlines()
    assert len(records) == len(lines) > 100
    assert all(isinstance(r["summary"], dict) and r["key"] for r in records)
    assert {r["summary"]["verdict"] for r in records} == {"ok", "high", "grows", "fails"}
    floats = [v for r in records for v in r["output_rel_err"]]
    assert floats and not any(isinstance(v, str) for v in floats)
    with pytest.raises(FileNotFoundError, match="no results"):
        attnprec.load_results(repo / "python")


def test_nonfinite_strings_become_floats():
    from attnprec.results import nonfinite

    out = nonfinite({"a": ["NaN", 1.0, "Infinity"], "b": {"c": "-Infinity", "d": "text"}})
    assert math.isnan(out["a"][0]) and out["a"][2] == math.inf and out["b"] == {"c": -math.inf, "d": "text"}


def test_load_results_as_dataframe(repo):
    pd = pytest.importorskip("pandas", reason="pandas not installed: load_results returns dicts")
    df = attnprec.load_results(repo / "reports" / "default")
    assert isinstance(df, pd.DataFrame) and "summary.verdict" in df.columns


BUDGETS = {
    "budgets": [{"name": "linear-fp16", "variant": "linear", "recipe": {"state": "float16"}, "tokens": 256,
                 "max_output_rel_err": 1.0}],
}


def test_validate_and_run(binary, tmp_path):
    gate = attnprec.validate(BUDGETS, junit=tmp_path / "j.xml", summary=tmp_path / "s.md")
    assert gate.passed and gate.returncode == 0 and "linear-fp16" in gate.table and (tmp_path / "j.xml").exists()
    tight = {"budgets": [{**BUDGETS["budgets"][0], "max_output_rel_err": 1e-12}]}
    failed = attnprec.validate(tight)
    assert not failed and failed.returncode == 1 and "FAIL" in failed.table
    with pytest.raises(attnprec.AttnprecInputError, match="variant"):
        attnprec.validate({"budgets": [{**BUDGETS["budgets"][0], "variant": "linaer"}]})
    config = {"name": "tiny", "tokens": [128], "seeds": [0], "variants": ["linear"], "recipes": ["bfloat16"],
              "reference": {"certify_tokens": 16}}
    records = attnprec.run(config, out=tmp_path / "tiny", jobs=1)
    records = records.to_dict("records") if hasattr(records, "to_dict") else records
    assert len(records) == 1 and records[0]["key"].startswith("variant=linear")
