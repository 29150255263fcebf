"""One self-contained HTML page for a report: a title, tables, key-slice images and notes.

Every report writes its page with :func:`html_page`; images are embedded (base64 PNG), so the page is
one file a user can mail or archive.

Examples:
    >>> page = html_page("Spine report", [Section("Vertebrae", rows=[("L1", "28.1 mm")],
    ...                                           header=("vertebra", "height"))])
    >>> page.startswith("<!DOCTYPE html>") and "<td>L1</td>" in page
    True
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;"
          "text-align:left}th{background:#f3f3f3}.note{color:#8a4b00}.footer{color:#666;font-size:.85em}"
          "img{max-width:100%;margin:.3em 0}")


@dataclass(frozen=True)
class Section:
    """A heading with an optional table (``header`` and ``rows`` of cells), images and notes.

    Attributes:
        title: the section heading.
        rows: table rows; each cell is shown as ``str(cell)``.
        header: the column names, or empty for a table without a header row.
        images: ``(caption, png_bytes)`` pairs, embedded in the page.
        notes: plain sentences shown below the table (e.g. "not measurable, because ...").
    """

    title: str
    rows: Sequence[Sequence[object]] = ()
    header: Sequence[str] = ()
    images: Sequence[tuple[str, bytes]] = ()
    notes: Sequence[str] = field(default_factory=tuple)


def html_page(title: str, sections: Sequence[Section], *, footer: str = "") -> str:
    """The page as a string (UTF-8 HTML5); all text is escaped."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts += [_section(s) for s in sections]
    if footer:
        parts.append(f"<p class='footer'>{html.escape(footer)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(section: Section) -> str:
    out = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.rows:
        out.append("<table>")
        if section.header:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in section.header) + "</tr>")
        for row in section.rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        out.append("</table>")
    for note in section.notes:
        out.append(f"<p class='note'>{html.escape(note)}</p>")
    for caption, png in section.images:
        data = base64.b64encode(png).decode("ascii")
        out.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                   f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "\n".join(out)
