"""Render a report (a list of sections) as Markdown or as one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

# A report is a list of sections (title, blocks); a block is ("p", text), ("table", headers, rows),
# ("pre", text), ("img", plot name, alt text) or ("html", markup, text): markup this package built (escaped
# already) and the plain text Markdown shows instead. Both renderers take the same list, so both hold the same.
Block = tuple[Any, ...]
Section = tuple[str, list[Block]]

def _md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, Markdown punctuation backslash-escaped."""
    text = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def render_markdown(title: str, sections: list[Section], images: dict[str, bytes]) -> str:
    """Markdown for a terminal or a pull request; plots are linked as plots/NAME.png."""
    lines = [f"# {title}", ""]
    for heading, blocks in sections:
        lines += [f"## {heading}", ""]
        for block in blocks:
            kind = block[0]
            if kind == "p":
                lines += [_md_escape(block[1]), ""]
            elif kind == "html":
                lines += [_md_escape(block[2]), ""]
            elif kind == "table":
                headers, rows = block[1], block[2]
                lines.append("| " + " | ".join(_md_escape(h) for h in headers) + " |")
                lines.append("|" + "|".join("---" for _ in headers) + "|")
                lines += ["| " + " | ".join(_md_escape(cell) for cell in row) + " |" for row in rows]
                lines.append("")
            elif kind == "pre":
                fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", block[1])), default=0))
                lines += [f"{fence}toml", block[1].rstrip("\n"), fence, ""]
            elif kind == "img" and block[1] in images:
                lines += [f"![{_md_escape(block[2])}](plots/{block[1]}.png)", ""]
    return "\n".join(lines)


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}"
        "pre{background:#f6f6f6;padding:1em;overflow-x:auto}")


_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+%?(?: \([\d.]+%\))?")  # 0.8123, 1,737, 81.71%, 576 (36.9%)


def _cell(text: str) -> str:
    """A table cell; numbers are right-aligned so their digits line up."""
    numeric = ' class="n"' if _NUMBER.fullmatch(text) else ""
    return f"<td{numeric}>{html.escape(text)}</td>"


def render_html(title: str, sections: list[Section], images: dict[str, bytes]) -> str:
    """A self-contained HTML5 page: plots inlined as base64 PNG data URIs, no external resources."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", f"<h1>{esc(title)}</h1>"]
    for heading, blocks in sections:
        parts.append(f"<section>\n<h2>{esc(heading)}</h2>")
        for block in blocks:
            kind = block[0]
            if kind == "p":
                parts.append(f"<p>{esc(block[1])}</p>")
            elif kind == "html":
                parts.append(block[1])
            elif kind == "table":
                head = "".join(f"<th>{esc(str(h))}</th>" for h in block[1])
                body = "".join("<tr>" + "".join(_cell(str(c)) for c in row) + "</tr>" for row in block[2])
                parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>")
            elif kind == "pre":
                parts.append(f"<pre>{esc(block[1])}</pre>")
            elif kind == "img" and block[1] in images:
                data = base64.b64encode(images[block[1]]).decode("ascii")
                parts.append(f'<img src="data:image/png;base64,{data}" alt="{esc(block[2])}">')
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
