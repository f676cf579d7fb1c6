"""Assembly of the self-contained HTML report.

Images are embedded as ``data:image/png;base64`` URIs and the style sheet is inline, so the page
opens from disk with no server and no network.  Every figure and table carries a caption (what
it shows, how to read it) and the list of files of the study folder its numbers come from.
"""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Sequence

__all__ = ["Page", "Section", "fmt"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}
figure{margin:1.2em 0;padding:.6em;overflow-x:auto;border:1px solid #e4e4e4;border-radius:6px;background:#fafafa}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.92em;margin-top:.5em}
.source{color:#666;font-size:.85em;font-family:ui-monospace,monospace}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
.missing{background:#fff4e5;border-left:4px solid #f0a030;padding:.5em 1em;margin:1em 0}
.invalid{background:#fdecea;border-left:4px solid #d0342c;padding:.5em 1em;margin:1em 0}
.verdict{background:#eef6ee;border-left:4px solid #3a3;padding:.6em 1em;margin:1em 0}
.ok{color:#1a7f1a;font-weight:bold}.bad{color:#b02a2a;font-weight:bold}
nav ul{columns:2;font-size:.92em}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
"""


def fmt(value, digits: int = 3) -> str:
    """Format a number for the report: ``digits`` significant digits, integers as integers.

    None and non-finite values print as an em dash.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "—"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.{digits}g}"


def fmt_ci(value, interval=None, digits: int = 3) -> str:
    """``fmt(value)`` followed by its confidence interval ``[low, high]`` when both ends are finite."""
    text = fmt(value, digits)
    if interval is None or len(interval) != 2:
        return text
    try:
        lo, hi = float(interval[0]), float(interval[1])
    except (TypeError, ValueError):
        return text
    if not (math.isfinite(lo) and math.isfinite(hi)) or text == "—":
        return text
    return f"{text} [{lo:.{digits}g}, {hi:.{digits}g}]"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class Section:
    """One section of the report: an id, a title and a list of HTML blocks."""

    anchor: str
    title: str
    blocks: list[str] = field(default_factory=list)

    def text(self, paragraph: str, *, css: str | None = None) -> None:
        """A paragraph of plain text (escaped)."""
        cls = f' class="{css}"' if css else ""
        self.blocks.append(f"<p{cls}>{_esc(paragraph)}</p>")

    def raw(self, markup: str) -> None:
        """Trusted markup built by the report itself."""
        self.blocks.append(markup)

    def missing(self, what: str, command: str) -> None:
        """Say what input is missing and which command makes it."""
        self.blocks.append(
            f'<div class="missing"><b>Missing:</b> {_esc(what)}. Make it with <code>{_esc(command)}</code>, '
            f"then rebuild with <code>euv2mag report DIR</code>.</div>"
        )

    def invalid(self, message: str, command: str) -> None:
        """Say that an input file is present but does not follow its definition (the reader's one-line message)."""
        self.blocks.append(
            f'<div class="invalid"><b>Does not follow its definition:</b> {_esc(message)}. Make it again with '
            f"<code>{_esc(command)}</code>, then rebuild with <code>euv2mag report DIR</code>.</div>"
        )

    def figure(self, png: bytes, caption: str, sources: Sequence[str], alt: str) -> None:
        """An embedded PNG with its caption and source files."""
        data = base64.b64encode(png).decode("ascii")
        self.blocks.append(
            f'<figure><img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_esc(caption)}{_sources(sources)}</figcaption></figure>"
        )

    def table(self, header: Sequence[str], rows: Sequence[Sequence], caption: str, sources: Sequence[str],
              table_id: str | None = None) -> None:
        """A table of numbers (formatted with :func:`fmt`) with caption and sources."""
        head = "".join(f"<th>{_esc(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_esc(c if isinstance(c, str) else fmt(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        tid = f' id="{_esc(table_id)}"' if table_id else ""
        self.blocks.append(
            f"<figure><table{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<figcaption>{_esc(caption)}{_sources(sources)}</figcaption></figure>"
        )


def _sources(sources: Sequence[str]) -> str:
    if not sources:
        return ""
    return '<br><span class="source">Source: ' + ", ".join(_esc(s) for s in sources) + "</span>"


@dataclass
class Page:
    """The whole report: title, intro paragraphs and sections."""

    title: str
    intro: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, anchor: str, title: str) -> Section:
        sec = Section(anchor, title)
        self.sections.append(sec)
        return sec

    def render(self) -> str:
        nav = "".join(f'<li><a href="#{_esc(s.anchor)}">{_esc(s.title)}</a></li>' for s in self.sections)
        intro = "".join(f"<p>{_esc(p)}</p>" for p in self.intro)
        body = "".join(
            f'<section id="{_esc(s.anchor)}"><h2>{_esc(s.title)}</h2>{"".join(s.blocks)}</section>'
            for s in self.sections
        )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_esc(self.title)}</title><link rel=\"icon\" href=\"data:,\"><style>{_CSS}</style></head><body>"
            f"<h1>{_esc(self.title)}</h1>{intro}<nav><ul>{nav}</ul></nav>{body}</body></html>\n"
        )
