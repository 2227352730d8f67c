"""A report's sections, written three ways from one source: report.md (pictures linked), summary.md (no
pictures, for a GitHub job summary, which shows neither relative images nor data: URIs) and report.html
(one self-contained page, every picture inlined as base64, that opens from an artifact link).

The HTML is rendered from the same Markdown by the few rules the report uses (headings, tables, lists,
paragraphs, `code`), so the three cannot say different things.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Section:
    heading: str
    body: str
    """Markdown: text, tables, lists and ```mermaid blocks (GitHub draws those; the HTML shows the picture)."""
    picture: Path | None = None
    caption: str = ""


@dataclass(frozen=True)
class Written:
    markdown: Path
    summary: Path
    html: Path
    pictures: list[Path]


def clear(folder: Path, pictures: Sequence[str]) -> None:
    """The folder, without the pictures (names or glob patterns) an earlier report left: one this report does
    not draw (features.png once production is gone) would lie beside it, linked from nowhere, and be uploaded."""
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in pictures:
        for path in folder.glob(pattern):
            path.unlink()


def write(folder: Path, title: str, sections: Sequence[Section]) -> Written:
    pictures = [section.picture for section in sections if section.picture is not None]
    markdown = folder / "report.md"
    summary = folder / "summary.md"
    page = folder / "report.html"
    markdown.write_text(_markdown(title, sections, with_pictures=True), encoding="utf-8")
    summary.write_text(_summary(title, sections), encoding="utf-8")
    page.write_text(_html(title, sections), encoding="utf-8")
    return Written(markdown, summary, page, pictures)


def _markdown(title: str, sections: Sequence[Section], with_pictures: bool) -> str:
    parts = [f"## {title}\n"]
    for section in sections:
        parts.append(f"### {section.heading}\n\n{section.body.strip()}\n")
        if with_pictures and section.picture is not None:
            parts.append(f"![{section.caption or section.heading}]({section.picture.name})\n")
    return "\n".join(parts)


SUMMARY_LIMIT = 1024 * 1024
"""GitHub's limit for what one step writes to its job summary (the links come from a step of their own)."""


def _summary(title: str, sections: Sequence[Section]) -> str:
    text = _markdown(title, sections, with_pictures=False)
    if len(text.encode("utf-8")) <= SUMMARY_LIMIT:
        return text
    # Only wide data gets here (thousands of features); the page and the pictures still show everything.
    return f"## {title}\n\nThe tables are too large for a job summary (1 MiB): see the report page.\n"


def _html(title: str, sections: Sequence[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.heading)}</h2>")
        body.append(markdown_to_html(section.body))
        if section.picture is not None:
            data = base64.b64encode(section.picture.read_bytes()).decode("ascii")
            alt = html.escape(section.caption or section.heading)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{alt}" data-file="{section.picture.name}">'
            )
            body.append(f"<figcaption>{alt}</figcaption></figure>")
    return PAGE.format(title=html.escape(title), body="\n".join(body))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }}
img {{ max-width: 100%; }}
code {{ background: #f6f8fa; padding: 0 4px; }}
</style></head>
<body>
{body}
</body></html>
"""


def markdown_to_html(text: str) -> str:
    out: list[str] = []
    lines = text.strip().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):  # a Mermaid chart: the page shows the PNG of the same numbers instead
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                index += 1
        elif heading := re.match(r"(#{1,6}) (.*)", line):
            level = min(len(heading.group(1)) + 1, 6)  # under the section's <h2>
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                rows.append([cell.strip() for cell in lines[index].strip().strip("|").split("|")])
                index += 1
            out.append(_table(rows))
            continue
        elif line.startswith("- "):
            items = []
            while index < len(lines) and lines[index].startswith("- "):
                items.append(f"<li>{_inline(lines[index][2:])}</li>")
                index += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        index += 1
    return "\n".join(out)


def _table(rows: list[list[str]]) -> str:
    header, body = rows[0], [row for row in rows[1:] if not all(set(cell) <= {"-", ":"} for cell in row)]
    head = "".join(f"<th>{_inline(cell)}</th>" for cell in header)
    cells = "".join("<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def mermaid_bars(
    title: str, labels: Sequence[str], y_label: str, y_max: float, series: Sequence[Sequence[float]]
) -> str:
    """A Mermaid xychart: the first series as bars, any further ones as lines (xychart draws bars on top of
    each other, so a second bar series would hide the first)."""
    quoted = ", ".join(f'"{label}"' for label in labels)
    lines = ["```mermaid", "xychart-beta", f'    title "{title}"', f"    x-axis [{quoted}]"]
    lines.append(f'    y-axis "{y_label}" 0 --> {y_max:g}')
    for number, values in enumerate(series):
        lines.append(f"    {'bar' if number == 0 else 'line'} [{', '.join(f'{value:.4f}' for value in values)}]")
    return "\n".join([*lines, "```"])
