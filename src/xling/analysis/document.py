"""A report document written twice at once: self-contained HTML and Markdown.

`Doc` collects headings, paragraphs, key-number cards, tables and figures in both forms;
`write_documents` writes report.html (figures embedded as PNG data URIs, so the file can be
mailed or archived alone) and report.md (figures linked from their folder). What a document
says is up to its caller: this module knows only how to lay it out, and how to check the HTML
by rendering it in headless Chromium.
"""

from __future__ import annotations

import base64
import html
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from xling.errors import XlingError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass
class Doc:
    """Builds the HTML and Markdown versions of a document side by side.

    `out` is the document's folder: figure links in the Markdown are relative to it.
    """

    out: Path
    html_parts: list[str] = field(default_factory=list)
    md_parts: list[str] = field(default_factory=list)

    def h(self, level: int, text: str, anchor: str = "") -> None:
        a = f' id="{anchor}"' if anchor else ""
        self.html_parts.append(f"<h{level}{a}>{html.escape(text)}</h{level}>")
        self.md_parts.append(f"{'#' * level} {text}\n")

    def p(self, text: str, md: str | None = None, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.html_parts.append(f"<p{c}>{html.escape(text)}</p>")
        self.md_parts.append((md if md is not None else text) + "\n")

    def raw(self, html_text: str, md_text: str) -> None:
        self.html_parts.append(html_text)
        self.md_parts.append(md_text + "\n")

    def cards(self, items: list[tuple[str, str, str]]) -> None:
        """Key numbers: (title, value, caption); 'X^b' in a value becomes a superscript."""

        def value_html(v: str) -> str:
            if "^" in v:
                head, _, exp = v.partition("^")
                return f"{html.escape(head)}<sup>{html.escape(exp)}</sup>"
            return html.escape(v)

        cells = "".join(
            f'<div class="card"><div class="card-title">{html.escape(t)}</div>'
            f'<div class="card-value">{value_html(v)}</div>'
            f'<div class="card-cap">{html.escape(c)}</div></div>'
            for t, v, c in items
        )
        self.html_parts.append(f'<div class="cards">{cells}</div>')
        self.md_parts.append("\n".join(f"- **{t}:** {v} — {c}" for t, v, c in items) + "\n")

    def figure(self, paths: dict[str, Path], caption: str, wide: bool = True) -> None:
        """A figure saved under `out` as paths["png"] and paths["svg"]."""
        png = paths["png"]
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        rel = png.relative_to(self.out).as_posix()
        svg = paths["svg"].relative_to(self.out).as_posix()
        cls = "fig wide" if wide else "fig"
        self.html_parts.append(
            f'<figure class="{cls}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}'
            f"</figcaption></figure>"
        )
        self.md_parts.append(f"![{caption}]({rel})\n\n*{caption}* ([SVG]({svg}))\n")

    def figrow_start(self) -> None:
        """Figures until `figrow_end` sit side by side in the HTML (one after another in
        Markdown, which has no columns)."""
        self.html_parts.append('<div class="figrow">')

    def figrow_end(self) -> None:
        self.html_parts.append("</div>")

    def table(
        self, header: list[str], rows: list[list[str]], caption: str = "", align_left: int = 1
    ) -> None:
        """The first `align_left` columns are text, the rest numbers (right-aligned); a cell
        starting with "undefined" is set apart in the HTML."""
        th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = []
        for r in rows:
            tds = []
            for i, c in enumerate(r):
                cls = "l" if i < align_left else "r"
                shown = html.escape(c)
                if c.startswith("undefined"):
                    shown = f'<span class="undef">{shown}</span>'
                tds.append(f'<td class="{cls}">{shown}</td>')
            body.append("<tr>" + "".join(tds) + "</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.html_parts.append(
            f'<div class="tablewrap"><table>{cap}<thead><tr>{th}</tr></thead><tbody>'
            + "".join(body)
            + "</tbody></table></div>"
        )
        md = []
        if caption:
            md.append(f"*{caption}*\n")
        md.append("| " + " | ".join(header) + " |")
        md.append(
            "|" + "|".join(":---" if i < align_left else "---:" for i in range(len(header))) + "|"
        )
        for r in rows:
            md.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
        self.md_parts.append("\n".join(md) + "\n")

    def bullets(self, items: list[str]) -> None:
        if not items:
            return
        self.html_parts.append(
            "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
        )
        self.md_parts.append("\n".join(f"- {i}" for i in items) + "\n")


CSS = """
:root { --ink:#1d1d1f; --muted:#5b5b63; --line:#e4e4ea; --accent:#0072B2; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fafafa; line-height: 1.45; font-size: 15px; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 36px 60px; background: white;
       min-height: 100vh; }
h1 { font-size: 27px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 34px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 8px; }
.sub { color: var(--muted); margin: 0 0 14px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
         gap: 12px; margin: 14px 0 6px; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--accent);
        border-radius: 6px; padding: 10px 14px; background: #fcfcfe; }
.card-title { font-size: 13px; color: var(--muted); text-transform: uppercase;
              letter-spacing: .03em; }
.card-value { font-size: 21px; font-weight: bold; margin: 2px 0; }
.card-cap { font-size: 12.5px; color: var(--muted); }
figure { margin: 16px 0 22px; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.figrow { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.tablewrap { overflow-x: auto; margin: 8px 0 18px; }
table { border-collapse: collapse; font-size: 13.5px; width: 100%; }
caption { text-align: left; font-size: 13px; color: var(--muted); padding-bottom: 6px; }
th { background: #f1f2f6; text-align: left; padding: 6px 9px; border-bottom: 2px solid #d5d6de;
     white-space: nowrap; }
td { padding: 5px 9px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.r { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafafc; }
.undef { color: #a0522d; font-style: italic; }
.defs { background: #f7f8fb; border: 1px solid var(--line); border-radius: 6px;
        padding: 10px 18px; }
code, .formula { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.formula { display: block; background: #f1f2f6; padding: 8px 12px; border-radius: 4px;
           margin: 6px 0; white-space: pre-wrap; }
.warn { color: #8a4b00; }
ul { margin-top: 4px; }
"""


def write_documents(doc: Doc, title: str) -> tuple[Path, Path]:
    """<doc.out>/report.html (self-contained) and report.md from a finished `Doc`."""
    html_path, md_path = doc.out / "report.html", doc.out / "report.md"
    html_path.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"
        + "\n".join(doc.html_parts)
        + "</main></body></html>\n",
        encoding="utf-8",
    )
    md_path.write_text("\n".join(doc.md_parts), encoding="utf-8")
    return html_path, md_path


# --------------------------------------------------------------------------- screenshots


def chromium_binary() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot_html(
    html_path: str | Path,
    png_path: str | Path,
    width: int = 1280,
    height: int = 2000,
    timeout: float = 90.0,
) -> Path:
    """Render a local HTML file in headless Chromium and save a PNG screenshot."""
    exe = chromium_binary()
    if exe is None:
        raise XlingError("no Chromium found on PATH (Debian: apt-get install -y chromium)")
    html_path = Path(html_path).resolve()
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    if png_path.exists():
        png_path.unlink()
    with tempfile.TemporaryDirectory(prefix="xling-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png_path}",
            f"--window-size={width},{height}",
            html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise XlingError(f"Chromium did not finish within {timeout:.0f} s") from None
    if not png_path.exists() or png_path.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise XlingError("Chromium wrote no screenshot: " + " | ".join(tail))
    return png_path
