"""One document, two renderings: ``report.html`` (self-contained) and ``report.md``.

Sections are built once as blocks (headings, text, tables, images, code) and rendered to both
formats, so the page and the pull-request summary never disagree. The HTML page embeds every
image as a ``data:`` URI, its one script (sorting a table by a column) is inline, and it has
no external reference: it opens offline. Detail sits in collapsed sections (``<details>``).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.redact import redact_text


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    text: str


@dataclass
class Code:
    text: str


@dataclass
class Image:
    path: Path
    alt: str


@dataclass
class Table:
    name: str  # the table's id in the page
    header: list[str]
    rows: list[list[str]]
    failed: set[tuple[int, int]] = field(default_factory=set)  # (row, column) cells with no number
    in_markdown: bool = True


@dataclass
class Section:
    """Blocks under a title: open (the verdict), or collapsed until the reader asks."""

    name: str  # the section's id in the page
    title: str
    blocks: list[Block]
    collapsed: bool = True


Block = Heading | Text | Code | Image | Table | Section

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; max-width: 100%; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
details td, details th { overflow-wrap: anywhere; }  /* wide tables wrap, never scroll */
th { background: #eee; cursor: pointer; }
th[aria-sort]::after { content: " \\2195"; color: #777; }
#verdict { border-left: 4px solid #333; padding: 0.2em 1em; background: #f7f7f7; }
#verdict p { font-size: 1.1em; }
details { margin: 0.5em 0; }
summary { font-size: 1.2em; font-weight: bold; cursor: pointer; padding: 0.3em 0; }
td.failed { font-weight: bold; background: repeating-linear-gradient(45deg, #fff, #fff 4px,
  #ddd 4px, #ddd 8px); }
img { max-width: 100%; border: 1px solid #ccc; margin: 0.5em 0; }
pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; }
"""
# Click a column's header to sort its table by it (again: the other way). Numbers, sizes and
# durations sort by value (a unit-less leading number), the rest as text.
SCRIPT = """
const UNITS = {ms: 1e-3, s: 1, B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40};
function sortKey(text) {
  const m = text.trim().match(/^(-?[0-9.]+(?:e[-+]?[0-9]+)?)\\s*([A-Za-z]*)/);
  if (!m) return [1, text.trim()];
  return [0, parseFloat(m[1]) * (UNITS[m[2]] || 1)];
}
function sortBy(th) {
  const table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
  const up = th.getAttribute('aria-sort') !== 'ascending';
  table.querySelectorAll('th').forEach(h => h.setAttribute('aria-sort', 'none'));
  th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
  const rows = [...body.rows].map(r => [sortKey(r.cells[col].textContent), r]);
  rows.sort(([a], [b]) => (a[0] - b[0]) || (a[0] ? a[1].localeCompare(b[1]) : a[1] - b[1]));
  if (!up) rows.reverse();
  rows.forEach(([, r]) => body.appendChild(r));
}
document.querySelectorAll('th').forEach(th => {
  th.setAttribute('aria-sort', 'none');
  th.title = 'sort by this column';
  th.addEventListener('click', () => sortBy(th));
});
"""


def _md_cell(text: str, failed: bool) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"**{text}**" if failed and text else text


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["", "#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
        elif isinstance(block, Code):
            lines += ["```", block.text, "```", ""]
        elif isinstance(block, Image):
            lines += [f"![{block.alt}]({block.path.name})", ""]
        elif isinstance(block, Section):
            lines += ["", f"## {block.title}", "", to_markdown(block.blocks)]
        elif block.in_markdown:
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            for i, row in enumerate(block.rows):
                cells = (_md_cell(c, (i, j) in block.failed) for j, c in enumerate(row))
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return redact_text("\n".join(lines).strip() + "\n")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for i, row in enumerate(table.rows):
        cells = "".join(
            f'<td class="failed">{html.escape(c)}</td>'
            if (i, j) in table.failed
            else f"<td>{html.escape(c)}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="{html.escape(table.name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_blocks(blocks: list[Block]) -> list[str]:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Code):
            parts.append(f"<pre>{html.escape(block.text)}</pre>")
        elif isinstance(block, Image):
            parts.append(f'<img src="{_data_uri(block.path)}" alt="{html.escape(block.alt)}">')
        elif isinstance(block, Section):
            inner = "\n".join(_html_blocks(block.blocks))
            name, title = html.escape(block.name), html.escape(block.title)
            if block.collapsed:
                parts.append(f'<details id="{name}"><summary>{title}</summary>{inner}</details>')
            else:
                parts.append(f'<section id="{name}"><h2>{title}</h2>{inner}</section>')
        else:
            parts.append(_html_table(block))
    return parts


def to_html(blocks: list[Block], title: str) -> str:
    parts = _html_blocks(blocks)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="data:,">'  # no favicon request: the page asks for nothing
        f"<style>{STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
    return redact_text(page)
