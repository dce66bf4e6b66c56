"""Registry of experiments and the tour runner."""

from __future__ import annotations

import fnmatch
import importlib
import json
import pkgutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nndl_jax._json import jsonable


def format_table(header: list[Any], rows: list[list[Any]]) -> str:
    """Plain-text table: columns padded to their widest cell, a rule under the header."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[Any]]

    def as_text(self) -> str:
        """The caption and the table as plain text (for scripts and terminals)."""
        return f"{self.caption}\n{format_table(self.header, self.rows)}"


@dataclass
class Section:
    """What one experiment contributes to the report."""

    title: str
    text: str = ""
    figures: list[Path] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


@dataclass
class Context:
    out_dir: Path
    quick: bool = True
    seed: int = 0

    def savefig(self, fig, name: str) -> Path:
        """Save a matplotlib figure as ``out_dir/name.png``, close it and return the path."""
        import matplotlib.pyplot as plt

        path = self.out_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return path


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    order: int
    fn: Callable[[Context], Section]


_EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, title: str, *, order: int = 100):
    """Decorator registering ``fn(ctx) -> Section``; lower ``order`` runs earlier in the tour."""

    def register(fn):
        _EXPERIMENTS[name] = Experiment(name, title, order, fn)
        return fn

    return register


def load_all() -> None:
    import matplotlib

    matplotlib.use("Agg")  # the tour writes files; it never opens a window
    package = importlib.import_module("nndl_jax.experiments")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"nndl_jax.experiments.{info.name}")


def experiments(pattern: str | None = None) -> list[Experiment]:
    load_all()
    selected = [
        e
        for e in _EXPERIMENTS.values()
        if pattern is None or fnmatch.fnmatch(e.name, pattern) or pattern in e.name
    ]
    return sorted(selected, key=lambda e: (e.order, e.name))


def run_tour(
    out_dir: str | Path = "reports/tour",
    *,
    pattern: str | None = None,
    quick: bool = True,
    seed: int = 0,
    progress: Callable[[Experiment], None] | None = None,
) -> tuple[Path, list[Section]]:
    """Run the experiments and write the report; returns the HTML path and the sections.

    An experiment that raises does not stop the tour: its section shows the error, and the
    caller (the CLI) exits non-zero.
    """
    from nndl_jax._validate import check_seed
    from nndl_jax.experiments._report import write_report

    out = Path(out_dir)
    selected = experiments(pattern)
    if not selected:
        raise ValueError(
            f"no experiment matches {pattern!r}; known: {', '.join(e.name for e in experiments())}"
        )
    check_seed("seed", seed)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the report folder {str(out)!r} is a file, not a folder")
    if out.is_dir():
        _check_reusable(out)
    out.mkdir(parents=True, exist_ok=True)
    previous = _figures_of_last_run(out)
    ctx = Context(out, quick=quick, seed=seed)
    sections = []
    for exp in selected:
        if progress:
            progress(exp)
        start = time.perf_counter()
        try:
            section = exp.fn(ctx)
        except Exception as exc:
            section = Section(
                exp.title, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
        section.seconds = time.perf_counter() - start
        sections.append(section)
    html = write_report(out, sections, quick=quick, seed=seed)
    results = {
        s.title: {
            "seconds": s.seconds,
            "metrics": s.metrics,
            "error": s.error,
            "figures": [_relative(f, out) for f in s.figures],
        }
        for s in sections
    }
    (out / "results.json").write_text(json.dumps(jsonable(results), indent=2, default=float))
    written = {_relative(f, out) for s in sections for f in s.figures}
    (out / _MANIFEST).write_text(json.dumps({"figures": sorted(written)}, indent=2))
    # the folder is the report: figures an earlier run wrote and this one did not are stale
    for name in previous - written:
        path = out / name
        if (
            path.suffix == ".png"
            and path.is_file()
            and path.resolve().is_relative_to(out.resolve())
        ):
            path.unlink()
    return html, sections


def _relative(figure: str | Path, out: Path) -> str:
    path = Path(figure)
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:  # a figure written elsewhere: its absolute path, never deleted
        return str(path.resolve())


# The figures the tour wrote into its folder; only those are ever deleted as stale.
_MANIFEST = ".nndl-jax-tour.json"
_TITLE = "<title>nndl-jax tour</title>"  # in the head of every report page


def _written_by_tour(out: Path) -> bool:
    """Whether ``out`` holds a report of the tour (this version's manifest, or an older page)."""
    if (out / _MANIFEST).is_file():
        return True
    try:
        with (out / "index.html").open(errors="replace") as page:
            return _TITLE in page.read(1000)
    except OSError:
        return False


def _check_reusable(out: Path) -> None:
    """Refuse a folder whose ``index.html`` or ``results.json`` the tour did not write."""
    theirs = [name for name in ("index.html", "results.json") if (out / name).exists()]
    if theirs and not _written_by_tour(out):
        raise ValueError(
            f"the report folder {str(out)!r} holds {' and '.join(theirs)} that the tour did "
            f"not write; choose another folder or move them away"
        )


def _figures_of_last_run(out: Path) -> set[str]:
    """The figures the previous tour in ``out`` wrote (none if it was not a tour's folder)."""
    try:
        if (out / _MANIFEST).is_file():
            figures = json.loads((out / _MANIFEST).read_text())["figures"]
        elif _written_by_tour(out):  # a report of an older version: its results.json
            results = json.loads((out / "results.json").read_text())
            figures = [f for r in results.values() for f in r.get("figures", [])]
        else:
            return set()
        return {f for f in figures if isinstance(f, str) and not Path(f).is_absolute()}
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return set()
