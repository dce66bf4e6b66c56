"""The example scripts import, parse their options, and the cheapest one runs end to end."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_has_a_working_command_line(path, capsys):
    module = _load(path)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_optimizer_trajectories_writes_its_png(tmp_path):
    module = _load(next(p for p in EXAMPLES if p.stem == "optimizer_trajectories"))
    module.main(["--out", str(tmp_path), "--steps", "3"])
    png = tmp_path / "optimizer_trajectories.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
