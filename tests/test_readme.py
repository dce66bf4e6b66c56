"""The README's API tour runs as written and trains a working classifier."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block(section: str) -> str:
    text = README.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    return code


def test_api_tour_runs_and_learns():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_python_block("API tour"), str(README), "exec"), {})
    accuracy = float(out.getvalue().split("test accuracy")[1])
    assert accuracy > 0.9, out.getvalue()
