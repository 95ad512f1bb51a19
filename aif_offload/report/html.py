"""Render a report (document objects) to one self-contained HTML page with linked PNG figures.

No template engine: the page is small and every piece of text passes through ``html.escape``.
A short inline script marks ``<body>`` once the page has loaded with the number of images and of
images that failed to load (``data-images-total``, ``data-images-failed``) and the page height, so
a headless browser can check the page with ``--dump-dom``; with ``#shot=Y`` in the URL it shows the
page from Y px down, for screenshots of a tall page in parts (see
``tests/report/browser_check.py``).
"""

from __future__ import annotations

import html
import re

from aif_offload.report.document import Details, Figure, Paragraph, Section, Subheading, Table

CSS = """
html { background: #fff; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1300px; padding: 0 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.6em; color: #333; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .55em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; text-align: left; } td.long { overflow-wrap: anywhere; } td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; max-width: 34em; }
caption { caption-side: top; text-align: left; font-size: .95em; padding: .3em 0; color: #444; }
figure { margin: 1em 0 1.6em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; max-width: 60em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; }
details { margin: .4em 0; } summary { cursor: pointer; color: #245; }
code { background: #f3f3f3; padding: 0 .2em; }
nav ul { columns: 2; list-style: none; padding-left: 0; } .note { color: #8a4b00; }
"""

# Marks the body once every image has had its chance to load: how many there are, how many failed.
CHECK_SCRIPT = r"""
window.addEventListener("load", function () {
  // "#shot=Y": show the page from Y px down (screenshots of a tall page in parts).
  var shot = /shot=(\d+)/.exec(location.hash);
  if (shot) { document.body.style.marginTop = "-" + shot[1] + "px"; }
  var images = Array.prototype.slice.call(document.images);
  var failed = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.setAttribute("data-images-total", String(images.length));
  document.body.setAttribute("data-images-failed", String(failed.length));
  document.body.setAttribute("data-images-failed-src",
    failed.map(function (i) { return i.getAttribute("src"); }).join(" "));
  document.body.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
  document.body.setAttribute("data-report-loaded", "yes");
});
"""

_CODE = re.compile(r"`([^`]+)`")


def _text(text: str) -> str:
    """Escape plain text; `backticked` spans become <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text))


def _table(table: Table) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            wide = len(cell) > 40 or any(c.isalpha() for c in cell.split("[")[0][:1])
            classes = ["text"] if wide else []
            if any(len(token) > 24 for token in cell.split()):  # hashes, paths: may break
                classes.append("long")
            css = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{css}>{_text(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    rendered = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if table.css_class == "collapsed":
        return f"<details><summary>{_text(table.caption)}</summary>{rendered}</details>"
    return f'<p class="caption">{_text(table.caption)}</p>{rendered}'


def _block(block, figure_dir: str, numbers: dict[str, int]) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_text(block.text)}</p>"
    if isinstance(block, Subheading):
        return f"<h3>{_text(block.text)}</h3>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        n = numbers.setdefault(block.filename, len(numbers) + 1)
        src = html.escape(f"{figure_dir}/{block.filename}", quote=True)
        return (
            f'<figure id="fig-{n}"><img src="{src}" alt="{html.escape(block.alt, quote=True)}">'
            f"<figcaption><b>Figure {n}.</b> {_text(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Details):
        return f"<details><summary>{_text(block.summary)}</summary><pre>{html.escape(block.text)}</pre></details>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render(title: str, intro: list, sections: list[Section], figure_dir: str) -> str:
    """The whole page: title, introduction blocks, a table of contents and the sections."""
    numbers: dict[str, int] = {}
    toc = "".join(f'<li><a href="#{s.anchor}">{_text(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        *(_block(b, figure_dir, numbers) for b in intro),
        f"<nav><ul>{toc}</ul></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{_text(section.title)}</h2>')
        parts.extend(_block(b, figure_dir, numbers) for b in section.blocks)
        parts.append("</section>")
    parts.append(f"<script>{CHECK_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
