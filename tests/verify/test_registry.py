"""Every registered verification check passes, float32 and float64, and the registry behaves."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from nndl_jax import verify
from nndl_jax.verify import _registry

ALL_CHECKS = verify.checks()


@pytest.mark.parametrize("name", [c.name for c in ALL_CHECKS])
def test_check_passes(name):
    (c,) = [c for c in ALL_CHECKS if c.name == name]
    result = verify.run_one(c)
    assert result.passed, (
        f"{name}: error {result.error} > tolerance {result.tolerance} vs {c.reference}\n"
        f"{result.message}"
    )


def test_every_check_passes_in_float64(tmp_path):
    # x64 must be set before JAX starts, so the float64 run is a fresh process (about 45 s).
    out = tmp_path / "x64.json"
    proc = subprocess.run(
        [sys.executable, "-m", "nndl_jax.cli", "verify", "--x64", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    failed = [r["component"] for r in report["checks"] if not r["passed"]]
    assert proc.returncode == 0 and not failed, f"{failed}\n{proc.stderr[-3000:]}"
    assert report["dtype"] == "float64" and len(report["checks"]) == len(ALL_CHECKS)


def test_registry_is_populated_for_every_area():
    areas = {c.name.split(".")[0] for c in ALL_CHECKS}
    assert {"activations", "initializers", "losses", "metrics", "data", "layers"} <= areas


def test_failing_crashing_and_nan_checks_fail(monkeypatch):
    monkeypatch.setattr(_registry, "_CHECKS", {})
    verify.check("t.too_big", reference="x", tol=0.1)(lambda: 0.2)
    verify.check("t.nan", reference="x", tol=1.0)(lambda: math.nan)

    def boom():
        raise RuntimeError("exploded")

    verify.check("t.crash", reference="x", tol=1.0)(boom)
    verify.check("t.ok", reference="x", tol=0.1)(lambda: 0.05)
    results = {r.check.name: r for r in (verify.run_one(c) for c in _registry._CHECKS.values())}
    assert not results["t.too_big"].passed
    assert not results["t.nan"].passed
    assert not results["t.crash"].passed and "exploded" in results["t.crash"].message
    assert results["t.ok"].passed


def test_bad_registration_is_rejected(monkeypatch):
    monkeypatch.setattr(_registry, "_CHECKS", {})
    with pytest.raises(ValueError, match="tier"):
        verify.check("t.x", reference="r", tol=1.0, tier="vibes")
    with pytest.raises(ValueError, match="tol"):
        verify.check("t.x", reference="r", tol=-1.0)
    verify.check("t.dup", reference="r", tol=1.0)(lambda: 0.0)

    def other():
        return 0.0

    with pytest.raises(ValueError, match="already registered"):
        verify.check("t.dup", reference="r", tol=1.0)(other)


def test_max_abs_diff():
    assert verify.max_abs_diff({"a": [1.0, 2.0]}, {"a": [1.5, 2.0]}) == pytest.approx(0.5)
    assert math.isnan(verify.max_abs_diff([float("nan")], [0.0]))
    assert verify.max_abs_diff([float("inf")], [float("inf")]) == 0.0
    with pytest.raises(ValueError, match="structures differ"):
        verify.max_abs_diff({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="shapes differ"):
        verify.max_abs_diff(np.ones((1, 2)), np.ones((1, 1)))
