"""Word (DOCX) and PDF copies of a published report page.

Both are made from the published HTML page itself, after the publication gate has passed
it, so they carry exactly its headings, prose, captions, alt text and suppressed cells:

- :func:`html_to_docx` walks the page's ``<main>`` with BeautifulSoup and writes it with
  python-docx: headings as Word headings, tables with their caption (style *Caption*) and a
  header row repeated on every page, figures with their alt text (the picture's
  description) and caption, A4 pages.
- :func:`html_to_pdf` prints the page with headless Chromium (Debian's ``chromium``): the
  stylesheet's ``@page`` A4 and print rules apply; ``<details>`` are opened first so the
  data behind each figure is printed.

Examples
--------
>>> page = ("<html><body><main><h1>Report</h1><p>Text.</p><table><caption>Table 1. T"
...         "</caption><thead><tr><th>A</th></tr></thead><tbody><tr><td>1</td></tr></tbody>"
...         "</table></main></body></html>")
>>> import io
>>> buf = io.BytesIO()
>>> html_to_docx(page, buf, title="Report")
>>> buf.getvalue()[:2] == b"PK"
True
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO

from nlc_eval.errors import ReportError

__all__ = ["CHROMIUM_FLAGS", "browser", "html_to_docx", "html_to_pdf", "page_sizes",
           "print_variant"]

#: Flags of every headless Chromium run (as root, no network of its own, no profile).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str | None:
    """Path of a Chromium (``NLC_EVAL_CHROMIUM`` if set), or None when there is none."""
    env = os.environ.get("NLC_EVAL_CHROMIUM")
    if env:
        return env if Path(env).is_file() or shutil.which(env) else None
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


# ---------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------

def _image_bytes(src: str, base: Path | None) -> bytes | None:
    if src.startswith("data:"):
        head, _, data = src.partition(",")
        if ";base64" not in head or "image/png" not in head and "image/jpeg" not in head:
            return None
        return base64.b64decode(data)
    if base is not None and src and "://" not in src:
        path = (base / src).resolve()
        if path.is_file():
            return path.read_bytes()
    return None


class _Writer:
    def __init__(self, doc, base: Path | None) -> None:
        self.doc = doc
        self.base = base
        self.pictures = 0

    # inline text with bold and italic runs
    def runs(self, para, el) -> None:
        from bs4 import NavigableString

        def walk(node, bold=False, italic=False):
            for child in node.children:
                if isinstance(child, NavigableString):
                    text = " ".join(str(child).split())
                    if not text:
                        if str(child).strip() == "" and str(child) and para.runs:
                            para.add_run(" ")
                        continue
                    lead = " " if str(child)[:1].isspace() and para.runs else ""
                    trail = " " if str(child)[-1:].isspace() else ""
                    run = para.add_run(lead + text + trail)
                    run.bold = bold or None
                    run.italic = italic or None
                elif child.name == "br":
                    para.add_run().add_break()
                elif child.name in ("script", "style"):
                    continue
                else:
                    walk(child, bold or child.name in ("strong", "b", "th"),
                         italic or child.name in ("em", "i"))

        walk(el)

    def caption(self, text: str) -> None:
        p = self.doc.add_paragraph(" ".join(text.split()), style="Caption")
        p.paragraph_format.keep_with_next = True

    def table(self, el) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt

        cap = el.find("caption")
        if cap is not None:
            self.caption(cap.get_text(" ", strip=True))
        rows = [tr for tr in el.find_all("tr") if tr.find_parent("table") is el]
        if not rows:
            return
        width = max(sum(int(c.get("colspan", 1) or 1) for c in tr.find_all(["th", "td"]))
                    for tr in rows)
        t = self.doc.add_table(rows=len(rows), cols=width)
        t.style = "Table Grid"
        flat = t._cells                       # once: python-docx recomputes it per access
        n_head = len([tr for tr in rows if tr.find_parent("thead") is not None])
        for i, tr in enumerate(rows):
            cells = flat[i * width:(i + 1) * width]
            j = 0
            for c in tr.find_all(["th", "td"]):
                if j >= width:
                    break
                para = cells[j].paragraphs[0]
                self.runs(para, c)
                if "num" in (c.get("class") or []):
                    para.alignment = 2  # right
                for run in para.runs:
                    run.font.size = Pt(8.5 if width > 6 else 9.5)
                j += int(c.get("colspan", 1) or 1)
            if i < n_head:
                tr_pr = t.rows[i]._tr.get_or_add_trPr()
                flag = OxmlElement("w:tblHeader")
                flag.set(qn("w:val"), "true")
                tr_pr.append(flag)

    def figure(self, el) -> None:
        from docx.shared import Cm

        img = el.find("img")
        if img is not None:
            data = _image_bytes(img.get("src", ""), self.base)
            if data is not None:
                self.doc.add_picture(io.BytesIO(data), width=Cm(16))
                shape = self.doc.inline_shapes[-1]
                alt = img.get("alt", "")
                doc_pr = shape._inline.docPr
                doc_pr.set("descr", alt)
                doc_pr.set("title", alt[:250])
                self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
                self.pictures += 1
            else:
                self.doc.add_paragraph(img.get("alt", ""))
        cap = el.find("figcaption")
        if cap is not None:
            self.caption(cap.get_text(" ", strip=True))
        for child in el.children:
            if getattr(child, "name", None) == "details":
                self.block(child)

    def block(self, el) -> None:
        from bs4 import NavigableString

        for child in el.children:
            if isinstance(child, NavigableString):
                if str(child).strip():
                    self.doc.add_paragraph(" ".join(str(child).split()))
                continue
            name = child.name
            classes = child.get("class") or []
            if name in ("script", "style", "nav", "input", "label") or "downloads" in classes \
                    or "nlc-downloads" in classes or "skip" in classes:
                continue
            if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
                level = int(name[1])
                self.doc.add_heading(child.get_text(" ", strip=True), level=min(level, 4))
            elif name == "p":
                style = "Body Text" if not ({"source", "note", "meta"} & set(classes)) else None
                para = self.doc.add_paragraph(style=style)
                self.runs(para, child)
            elif name in ("ul", "ol"):
                self.list(child, name, 1)
            elif name == "table":
                self.table(child)
            elif name == "figure":
                self.figure(child)
            elif name == "summary":
                para = self.doc.add_paragraph()
                para.add_run(child.get_text(" ", strip=True)).bold = True
                para.paragraph_format.keep_with_next = True
            elif name == "pre":
                para = self.doc.add_paragraph()
                para.add_run(child.get_text()).font.name = "Courier New"
            elif name == "img":
                self.figure(child.parent)
            else:
                self.block(child)

    def list(self, el, kind: str, depth: int) -> None:
        style = ("List Bullet" if kind == "ul" else "List Number") + (
            f" {depth}" if depth > 1 else "")
        for li in el.find_all("li", recursive=False):
            para = self.doc.add_paragraph(style=style)
            nested = [c for c in li.children if getattr(c, "name", None) in ("ul", "ol")]
            for n in nested:
                n.extract()
            self.runs(para, li)
            for n in nested:
                self.list(n, n.name, min(depth + 1, 3))


def html_to_docx(page: str, out: str | Path | BinaryIO, *, title: str = "",
                 base: str | Path | None = None) -> None:
    """Write a report page as a Word document (A4).

    Parameters
    ----------
    page : str
        The published HTML page (its ``<main>``, or the whole body, is converted).
    out : path-like or binary file
        Where the ``.docx`` goes.
    title : str
        Document title (core properties).
    base : path-like, optional
        Folder the page's relative image links resolve against (its output folder).
    """
    from bs4 import BeautifulSoup
    from docx import Document
    from docx.shared import Mm, Pt

    soup = BeautifulSoup(page, "html.parser")
    root = soup.find("main") or soup.body or soup
    doc = Document()
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(18)
        section.top_margin = section.bottom_margin = Mm(18)
    doc.styles["Normal"].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(11)
    doc.core_properties.title = title or (root.find("h1").get_text(" ", strip=True)
                                          if root.find("h1") else "Report")
    doc.core_properties.language = "en-GB"
    _Writer(doc, Path(base) if base is not None else None).block(root)
    doc.save(out)


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

def print_variant(page: str, base: str | Path | None = None) -> str:
    """The page as printed: every ``<details>`` open, relative links resolved at ``base``."""
    text = page.replace("<details>", "<details open>")
    if base is not None:
        href = Path(base).resolve().as_uri().rstrip("/") + "/"
        text = text.replace("<head>", f'<head><base href="{href}">', 1)
    return text


def html_to_pdf(page: str, out: str | Path, *, base: str | Path | None = None,
                timeout: float = 120, chromium: str | None = None) -> Path:
    """Print a report page to an A4 PDF with headless Chromium.

    Parameters
    ----------
    page : str
        The published HTML page.
    out : path-like
        Where the PDF goes (written atomically: a temporary name, then a rename).
    base : path-like, optional
        The page's output folder, against which its relative links (linked figures) resolve.
    timeout : float
        Seconds Chromium may take.
    chromium : str, optional
        The browser (default :func:`browser`).

    Raises
    ------
    ReportError
        No Chromium, or it failed; the message says how to install it.
    """
    exe = chromium or browser()
    if exe is None:
        raise ReportError("no Chromium to print PDFs with. Fix: apt-get install chromium "
                          "(Debian), or set NLC_EVAL_CHROMIUM to a Chromium binary.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nlc-pdf-") as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(print_variant(page, base), encoding="utf-8")
        dest = Path(tmp) / "page.pdf"
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
               f"--print-to-pdf={dest}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium could not print {out.name}: {exc}") from exc
        if proc.returncode != 0 or not dest.is_file() or dest.stat().st_size == 0:
            raise ReportError(f"Chromium could not print {out.name} (exit {proc.returncode}): "
                              f"{proc.stderr.strip().splitlines()[-1:] or ''}")
        tmp_out = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(dest, tmp_out)
        os.replace(tmp_out, out)
    return out


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """Width and height (points) of each page's MediaBox in a PDF Chromium wrote."""
    import re

    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]",
                       pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def _driver(exe: str, profile: str):
    """A Selenium-driven headless Chromium (Debian's chromium-driver), or None."""
    driver_exe = shutil.which("chromedriver")
    if driver_exe is None:
        return None
    try:
        from selenium import webdriver
    except ImportError:
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(driver_exe))


def print_pdfs(out_dir: str | Path, names: list[str]) -> dict[str, str]:
    """Print ``<out_dir>/<name>.html`` to ``<name>.pdf`` for each name, with one browser.

    Uses one Chromium session through Selenium when ``chromedriver`` is installed (a page
    then prints in well under a second), else one headless Chromium run per page.

    Returns
    -------
    dict
        ``{name: error}`` for each page that could not be printed (empty when all were).
    """
    out_dir = Path(out_dir).resolve()
    exe = browser()
    if exe is None:
        return {n: "no Chromium installed (apt-get install chromium)" for n in names}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="nlc-pdfs-") as tmp:
        try:
            driver = _driver(exe, f"{tmp}/profile")
        except Exception:  # noqa: BLE001 - fall back to one Chromium run per page
            driver = None
        try:
            for name in names:
                page_path = out_dir / f"{name}.html"
                try:
                    page = page_path.read_text(encoding="utf-8")
                    if driver is None:
                        html_to_pdf(page, out_dir / f"{name}.pdf", base=out_dir, chromium=exe)
                        continue
                    from selenium.webdriver.common.print_page_options import PrintOptions

                    src = Path(tmp) / f"{name}.html"
                    src.write_text(print_variant(page, out_dir), encoding="utf-8")
                    driver.get(src.as_uri())
                    opts = PrintOptions()
                    opts.page_width, opts.page_height = 21.0, 29.7
                    opts.background = True
                    data = base64.b64decode(driver.print_page(opts))
                    tmp_out = out_dir / f".{name}.pdf.tmp"
                    tmp_out.write_bytes(data)
                    os.replace(tmp_out, out_dir / f"{name}.pdf")
                except Exception as exc:  # noqa: BLE001 - one page's failure is recorded
                    errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        finally:
            if driver is not None:
                driver.quit()
    return errors


# ---------------------------------------------------------------------------
# What the batch runner calls
# ---------------------------------------------------------------------------

def alternates(name: str, *, pdf: bool | None = None) -> list[tuple[str, str]]:
    """Header links of a page to its other formats (PDF only when a browser can print)."""
    links = [("Word version", f"{name}.docx")]
    if pdf if pdf is not None else browser() is not None:
        links.append(("PDF version", f"{name}.pdf"))
    return links


def render(name: str, nb, title: str) -> tuple[str, dict[str, bytes]]:
    """The published page of report ``name`` and its download files."""
    from nlc_eval.reports import _html

    return _html.render_page(nb, title, downloads_href=f"{_html.DOWNLOADS_DIR}/{name}/",
                             alternates=alternates(name))


def write_extras(out_dir: str | Path, name: str, page: str, downloads: dict[str, bytes],
                 *, title: str = "", docx: bool = True) -> list[Path]:
    """Publish a page's downloads (``downloads/<name>/``, replaced whole) and its DOCX.

    The downloads are written to a new folder that then replaces the old one, so a reader
    never sees a mixture of two runs.
    """
    from nlc_eval.reports import _html
    from nlc_eval.reports._atomic import atomic_write_bytes

    out_dir = Path(out_dir)
    root = out_dir / _html.DOWNLOADS_DIR
    root.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    for fname, data in downloads.items():
        (fresh / fname).write_bytes(data)
        (fresh / fname).chmod(0o644)
    fresh.chmod(0o755)
    final = root / name
    old = root / f".{name}-old"
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(fresh, final)
    shutil.rmtree(old, ignore_errors=True)
    files = []
    if docx:
        buf = io.BytesIO()
        html_to_docx(page, buf, title=title, base=out_dir)
        files.append(atomic_write_bytes(out_dir / f"{name}.docx", buf.getvalue()))
    return files + [final / f for f in sorted(downloads)]


def remove(out_dir: str | Path, name: str) -> None:
    """Remove a report's DOCX, PDF and downloads (when the report failed)."""
    from nlc_eval.reports import _html

    out_dir = Path(out_dir)
    for suffix in (".docx", ".pdf"):
        (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(out_dir / _html.DOWNLOADS_DIR / name, ignore_errors=True)
