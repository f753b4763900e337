"""The example CI workflows, checked against the rules they promise: actions pinned to commits
(version in a comment), least permissions, no persisted credentials, checks published only
where the token may write them, the build cache keyed on the resolved package versions."""

import re

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML not installed: the workflow schema checks need it")

PIN = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+(?:\.\d+)*\s*$")
STEP_KEYS = {"name", "uses", "run", "with", "if", "env", "id", "shell", "continue-on-error", "timeout-minutes", "working-directory"}
JOB_KEYS = {"runs-on", "container", "timeout-minutes", "permissions", "env", "steps", "needs", "if", "strategy", "services"}


def load(repo, name):
    path = repo / "examples" / "ci" / name
    return path.read_text(), yaml.safe_load(path.read_text())


def test_github_workflow_schema_and_rules(repo):
    text, wf = load(repo, "attnprec-gate.yml")
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(on) >= {"pull_request", "push"}
    assert wf["permissions"] == {"contents": "read"}
    uses_lines = [ln for ln in text.splitlines() if re.match(r"^\s*(- )?uses:", ln)]
    assert uses_lines, "no actions used"
    for ln in uses_lines:
        assert PIN.match(ln), f"not pinned to a commit with its version in a comment: {ln.strip()}"
    saw_publish = saw_cache = False
    for job_name, job in wf["jobs"].items():
        assert set(job) <= JOB_KEYS, f"{job_name}: unknown keys {set(job) - JOB_KEYS}"
        assert job["runs-on"] and isinstance(job["steps"], list)
        perms = job.get("permissions", {})
        assert set(perms.values()) <= {"read", "write", "none"}
        if perms.get("checks") == "write":
            assert "head.repo.full_name == github.repository" in job.get("if", ""), f"{job_name}: writes checks on fork PRs"
        assert all(v == "read" for k, v in perms.items() if k != "checks"), f"{job_name}: {perms}"
        resolved = False
        for step in job["steps"]:
            assert set(step) <= STEP_KEYS, f"{job_name}: step keys {set(step) - STEP_KEYS}"
            assert ("uses" in step) != ("run" in step), f"{job_name}: a step needs exactly one of uses/run: {step}"
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if "run" in step and "swift package resolve" in step["run"]:
                resolved = True
            if uses.startswith("actions/cache@"):
                saw_cache = True
                assert resolved, "the cache key is computed before Package.resolved exists"
                assert "hashFiles('Package.resolved')" in step["with"]["key"]
                assert "Package.resolved" in step["with"]["restore-keys"]
            if uses.startswith("mikepenz/action-junit-report@"):
                saw_publish = True
                assert perms.get("checks") == "write"
            if uses.startswith("actions/upload-artifact@"):
                assert step["if"] == "${{ !cancelled() }}"
        if any("validate" in s.get("run", "") for s in job["steps"]):
            assert "checks" not in perms, "the gate job itself needs no write permission"
            assert any("--junit" in s.get("run", "") for s in job["steps"])
    assert saw_publish and saw_cache


def test_gitlab_example(repo):
    _, ci = load(repo, "attnprec-gate.gitlab-ci.yml")
    job = ci["attnprec-gate"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == ".build/budgets/*.xml"
    assert "Package.resolved" in job["cache"]["key"]["files"]
    assert any("validate" in line and "--junit" in line for line in job["script"])
