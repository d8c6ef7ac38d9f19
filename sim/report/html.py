"""The report's ``index.html``: opens offline (relative image links, no scripts, no web fonts)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sim.report.labels import Labels

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
.caption { font-size: 0.9em; color: #333; }
.source { font-size: 0.8em; color: #666; }
table.prov td { padding: 2px 8px; font-size: 0.85em; vertical-align: top; }
li.omitted { color: #666; }
"""


@dataclass(frozen=True)
class Drawn:
    id: str
    section: str
    title: str
    caption: str
    source: str
    png: str  # relative path
    svg: str = ""  # relative path of the vector copy (for documents), if written


def write_html(
    title: str,
    drawn: list[Drawn],
    omitted: list[tuple[str, str, str]],  # (section, title, why)
    provenance: list[tuple[str, str]],
    labels: Labels,
) -> str:
    L = labels
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{L.lang}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<p>"
        + L.pick("All charts in one file: ", "Alla diagram i en fil: ")
        + '<a href="report.pdf">report.pdf</a>; '
        + L.pick("tables: ", "tabeller: ")
        + '<a href="report.xlsx">report.xlsx</a>.</p>',
        '<table class="prov">',
        *[f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in provenance],
        "</table>",
        f"<h2>{escape(L.pick('Contents', 'Innehåll'))}</h2>",
        "<ol>",
    ]
    sections = list(dict.fromkeys(d.section for d in drawn))
    for section in sections:
        out.append(f"<li>{escape(L(section))}<ol>")
        out += [f'<li><a href="#{d.id}">{escape(d.title)}</a></li>' for d in drawn if d.section == section]
        out.append("</ol></li>")
    out.append("</ol>")
    if omitted:
        out.append(f"<h2>{escape(L.pick('Charts left out', 'Diagram som saknas'))}</h2><ul>")
        out += [
            f'<li class="omitted">{escape(L(section))}: {escape(name)}: {escape(why)}</li>'
            for section, name, why in omitted
        ]
        out.append("</ul>")
    for section in sections:
        out.append(f"<h2>{escape(L(section))}</h2>")
        for d in (d for d in drawn if d.section == section):
            out += [
                f'<h3 id="{d.id}">{escape(d.title)}</h3>',
                f'<img src="{escape(d.png)}" alt="{escape(d.title)}">',
                f'<p class="caption">{escape(d.caption)}</p>',
                f'<p class="source">{escape(L.pick("Source", "Källa"))}: {escape(d.source)}'
                + (f' (<a href="{escape(d.svg)}">SVG</a>)' if d.svg else "")
                + "</p>",
            ]
    out.append("</body></html>")
    return "\n".join(out) + "\n"
