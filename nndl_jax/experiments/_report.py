"""Writes the tour's sections as one self-contained HTML page (figures embedded as base64)."""

from __future__ import annotations

import base64
import datetime
import html
import platform
from pathlib import Path

from nndl_jax.experiments._registry import Section

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
caption { font-weight: bold; text-align: left; margin-bottom: 0.3em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
pre.error { background: #fee; padding: 1em; overflow-x: auto; }
nav li { margin: 0.1em 0; } .meta { color: #666; font-size: 0.9em; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    return html.escape(str(value))


def _section_html(index: int, s: Section) -> str:
    parts = [f'<h2 id="s{index}">{index}. {html.escape(s.title)}</h2>']
    parts.append(f'<p class="meta">ran in {s.seconds:.1f} s</p>')
    if s.error:
        parts.append(f'<pre class="error">{html.escape(s.error)}</pre>')
    for para in filter(None, (p.strip() for p in s.text.split("\n\n"))):
        parts.append(f"<p>{html.escape(para)}</p>")
    for t in s.tables:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in t.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in t.rows
        )
        parts.append(
            f"<table><caption>{html.escape(t.caption)}</caption><tr>{head}</tr>{body}</table>"
        )
    for fig in s.figures:
        data = base64.b64encode(Path(fig).read_bytes()).decode("ascii")
        name = html.escape(Path(fig).name)
        parts.append(
            f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{name}</figcaption></figure>"
        )
    return "\n".join(parts)


def write_report(out: Path, sections: list[Section], *, quick: bool, seed: int) -> Path:
    import jax

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    failed = sum(bool(s.error) for s in sections)
    toc = "".join(
        f'<li><a href="#s{i}">{html.escape(s.title)}</a>{" (failed)" if s.error else ""}</li>'
        for i, s in enumerate(sections, 1)
    )
    body = "\n".join(_section_html(i, s) for i, s in enumerate(sections, 1))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nndl-jax tour</title>
<style>{_STYLE}</style></head><body>
<h1>nndl-jax tour: the book's experiments</h1>
<p class="meta">{stamp} · {"quick" if quick else "full"} run · seed {seed} · JAX {jax.__version__}
on {html.escape(jax.default_backend())} ({jax.device_count()} device(s)) · {platform.machine()} ·
{len(sections)} sections, {failed} failed</p>
<nav><ol>{toc}</ol></nav>
{body}
</body></html>
"""
    path = out / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
