"""pyproject.toml lists every sub-package (the list is explicit because of nndl_jax.benchmarks)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nndl_jax").rglob("__init__.py")
    }
    assert found - listed == set(), f"add these to [tool.setuptools].packages: {found - listed}"
    assert config["package-dir"]["nndl_jax.benchmarks"] == "benchmarks"


def test_console_script_and_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["nndl-jax"] == "nndl_jax.cli:main"
    names = {d.split(">")[0].split("=")[0].split("[")[0] for d in project["dependencies"]}
    assert {"jax", "jaxlib", "optax", "flax", "chex", "numpy", "scikit-learn", "matplotlib",
            "tqdm"} <= names  # fmt: skip
