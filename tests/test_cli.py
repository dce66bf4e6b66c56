"""The ``nndl-jax`` command: each sub-command runs and reports failures through its exit code."""

import json
import subprocess
import sys

import jax

from nndl_jax import cli, verify
from nndl_jax.verify import _registry


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend" in out and "jax" in out


def test_verify_table_and_json(capsys, tmp_path):
    out_file = tmp_path / "v.json"
    assert cli.main(["verify", "--only", "layers.dense*", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "layers.dense.forward" in out and "flax.linen.Dense" in out and "ok" in out
    records = json.loads(out_file.read_text())["checks"]
    assert {r["component"] for r in records} == {"layers.dense.forward", "layers.dense.grad"}
    assert all(r["passed"] for r in records)


def test_verify_runs_checks_under_the_requested_matmul_precision(monkeypatch, tmp_path):
    verify.load_all()
    seen = []
    checks = dict(_registry._CHECKS)
    probe = lambda: seen.append(jax.config.jax_default_matmul_precision) or 0.0  # noqa: E731
    checks["zz.probe"] = _registry.Check("zz.probe", "nothing", probe, 1.0, 1.0, "property")
    monkeypatch.setattr(_registry, "_CHECKS", checks)
    out_file = tmp_path / "v.json"
    assert cli.main(["verify", "--only", "zz.*", "--json", str(out_file)]) == 0
    assert cli.main(["verify", "--only", "zz.*", "--matmul-precision", "default"]) == 0
    assert seen == ["highest", None]
    assert json.loads(out_file.read_text())["matmul_precision"] == "highest"


def test_verify_exits_1_when_a_check_fails(monkeypatch, capsys):
    verify.load_all()
    checks = dict(_registry._CHECKS)
    checks["zz.broken"] = _registry.Check("zz.broken", "nothing", lambda: 1.0, 0.0, 0.0, "property")
    monkeypatch.setattr(_registry, "_CHECKS", checks)
    assert cli.main(["verify", "--only", "zz.*"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_unknown_pattern_exits_2():
    assert cli.main(["verify", "--only", "no-such-check-anywhere"]) == 2


def test_verify_x64_in_a_fresh_process():
    # x64 must be switched on before any array exists, hence a subprocess
    proc = subprocess.run(
        [sys.executable, "-m", "nndl_jax.cli", "verify", "--x64", "--only", "layers.*"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "float64" in proc.stdout


def test_bench_lists_suites_and_rejects_unknown(capsys):
    assert cli.main(["bench", "--list"]) == 0
    assert cli.main(["bench", "no-such-suite"]) == 2
    assert "unknown benchmark suite" in capsys.readouterr().err


def test_tour_unknown_experiment_exits_2():
    assert cli.main(["tour", "--only", "no-such-experiment", "--out", "/tmp/unused"]) == 2


def test_train_is_forwarded_to_the_training_command(capsys):
    assert cli.main(["train", "--help"]) == 0
    assert "mlp" in capsys.readouterr().out
    assert cli.main(["train", "mlp", "--dataset", "no-such-set"]) == 2
    assert "digits" in capsys.readouterr().err
