"""What the command writes: strict JSON, output paths checked before the work, one failing
benchmark case or experiment reported without losing the others."""

import json
import math
import subprocess
import sys

import pytest
from nndl_jax.benchmarks import _harness

from nndl_jax import cli, verify
from nndl_jax.experiments import _registry as tour_registry
from nndl_jax.experiments._registry import Section
from nndl_jax.verify import _registry as verify_registry


def _strict_json(path):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def fake_cases(monkeypatch):
    _harness.load_all()
    cases = dict(_harness._CASES)

    def crash(quick):
        raise RuntimeError("boom")

    cases[("zz", "a_ok")] = _harness.Case("zz", "a_ok", lambda quick: [{"ratio": math.nan}])
    cases[("zz", "b_crash")] = _harness.Case("zz", "b_crash", crash)
    monkeypatch.setattr(_harness, "_CASES", cases)


def test_bench_keeps_going_after_a_crashing_case(fake_cases, tmp_path, capsys):
    out = tmp_path / "deep" / "bench.json"
    assert cli.main(["bench", "zz", "--out", str(out)]) == 1
    rows = _strict_json(out)["rows"]
    assert [r["case"] for r in rows] == ["a_ok", "b_crash"]
    assert rows[0]["ratio"] is None and rows[1]["error"] == "RuntimeError: boom"
    assert "1 case(s) failed: zz/b_crash" in capsys.readouterr().err


def test_bench_list_follows_the_filters_and_out_is_checked_first(fake_cases, tmp_path, capsys):
    assert cli.main(["bench", "zz", "--list"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["zz  a_ok", "zz  b_crash"]
    assert cli.main(["bench", "--list", "--case", "b_crash"]) == 0
    assert capsys.readouterr().out.strip() == "zz  b_crash"
    assert cli.main(["bench", "no-such-suite", "--list"]) == 2
    assert cli.main(["bench", "zz", "--out", str(tmp_path)]) == 2  # a folder: nothing runs
    assert "--out must name a file" in capsys.readouterr().err


def test_verify_json_is_strict_and_keeps_the_message(monkeypatch, tmp_path):
    verify.load_all()
    checks = dict(verify_registry._CHECKS)

    def boom():
        raise RuntimeError("exploded")

    checks["zz.crash"] = verify_registry.Check("zz.crash", "nothing", boom, 1.0, 1.0, "property")
    monkeypatch.setattr(verify_registry, "_CHECKS", checks)
    out = tmp_path / "new" / "folder" / "v.json"
    assert cli.main(["verify", "--only", "zz.*", "--json", str(out)]) == 1
    (record,) = _strict_json(out)["checks"]
    assert record["error"] is None and "exploded" in record["message"]
    assert cli.main(["verify", "--only", "zz.*", "--json", str(tmp_path)]) == 2


def test_tour_results_are_strict_json_and_bad_arguments_exit_2(monkeypatch, tmp_path):
    tour_registry.load_all()
    experiments = {"zz_nan": tour_registry.Experiment(
        "zz_nan", "NaN metric", 1, lambda ctx: Section("NaN metric", metrics={"loss": math.nan})
    )}  # fmt: skip
    monkeypatch.setattr(tour_registry, "_EXPERIMENTS", experiments)
    monkeypatch.setattr(tour_registry, "load_all", lambda: None)
    assert cli.main(["tour", "--only", "zz_nan", "--out", str(tmp_path / "r")]) == 0
    assert _strict_json(tmp_path / "r" / "results.json")["NaN metric"]["metrics"]["loss"] is None
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert cli.main(["tour", "--only", "zz_nan", "--out", str(a_file)]) == 2
    assert cli.main(["tour", "--only", "zz_nan", "--seed", "-1", "--out", str(tmp_path)]) == 2
    assert cli.main(["tour", "--only", "nothing-matches", "--out", str(tmp_path / "n")]) == 2
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize("args", [["--only", "bogus"], ["--trees", "2x-5"]])
def test_optim_benchmark_script_usage_errors(args):
    proc = subprocess.run([sys.executable, "-m", "nndl_jax.benchmarks.optim", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "usage:" in proc.stderr, proc.stderr


def test_compare_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats and number must be >= 1"):
        _harness.compare(lambda: 0, lambda: 0, (), peer_name="p", number=0, jit=False)
