"""One document, two renderings: ``report.html`` (self-contained) and ``report.md``.

Sections are built once as blocks (headings, text, tables, images, code) and rendered to both
formats, so the page and the pull-request summary never disagree. The HTML page embeds every
image as a ``data:`` URI and has no script and no external reference: it opens offline.
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


Block = Heading | Text | Code | Image | Table

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.failed { font-weight: bold; background: repeating-linear-gradient(45deg, #fff, #fff 4px,
  #ddd 4px, #ddd 8px); }
img { max-width: 100%; border: 1px solid #ccc; margin: 0.5em 0; }
pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; }
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


def to_html(blocks: list[Block], title: str) -> str:
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
        else:
            parts.append(_html_table(block))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="data:,">'  # no favicon request: the page asks for nothing
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    return redact_text(page)
